import * as fs from "node:fs";
import * as path from "node:path";
import { buildBundle, spawnBus } from "../support/bus";
import { allMessages, PASS, postJson, USER } from "../support/http";
import { tempDir } from "../support/tempDir";

describe("crash safety", () => {
  let bundle: string;
  beforeAll(async () => {
    bundle = await buildBundle();
  });

  const env = { PATH: process.env.PATH, BUS_USER: USER, BUS_PASS: PASS };

  test("SIGKILL while 16 clients post and ack: after restart every 201 and 200 is there, once, and no line is corrupt", async () => {
    const dataDir = tempDir();
    const created = new Map<string, string>(); // id -> body
    const acked: Array<[string, string]> = [];

    for (let round = 0; round < 2; round++) {
      const svc = await spawnBus(bundle, ["serve", "--port", "0", "--data", dataDir], env);
      let killed = false;
      let accepted = 0;
      const client = async (c: number) => {
        for (let i = 0; !killed; i++) {
          try {
            const body = `r${round}-c${c}-${i}`;
            const r = await postJson(svc.url, "/post", { from: `client${c}`, to: "any", body });
            if (r.status !== 201) throw new Error(`unexpected ${r.status} ${r.text}`);
            expect(created.has(r.json.id)).toBe(false);
            created.set(r.json.id, body);
            accepted++;
            if (i % 3 === 0) {
              const a = await postJson(svc.url, `/ack/${r.json.id}`, { reader: `reader${c}` });
              if (a.status === 200) acked.push([r.json.id, `reader${c}`]);
            }
            if (accepted >= 300 && !killed) {
              killed = true;
              svc.child.kill("SIGKILL");
            }
          } catch (error) {
            if (!killed) throw error; // connection errors are expected only after the kill
          }
        }
      };
      await Promise.all(Array.from({ length: 16 }, (_, c) => client(c)));
      expect(await svc.exited).toEqual({ code: null, signal: "SIGKILL" });
    }

    const svc = await spawnBus(bundle, ["serve", "--port", "0", "--data", dataDir], env);
    try {
      const messages = await allMessages(svc.url);
      const ids = messages.map((m) => m.id as string);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids).toEqual(ids.map((_, i) => String(i + 1)));
      const bodies = messages.map((m) => m.body as string);
      expect(new Set(bodies).size).toBe(bodies.length);
      expect(created.size).toBeGreaterThanOrEqual(600);
      const byId = new Map(messages.map((m) => [m.id as string, m]));
      for (const [id, body] of created) expect(byId.get(id)?.body).toBe(body);
      for (const [id, reader] of acked) expect(byId.get(id)?.read_by).toContain(reader);
    } finally {
      svc.child.kill("SIGTERM");
      await svc.exited;
    }
    for (const file of ["bus.jsonl", "acks.jsonl"]) {
      const text = fs.readFileSync(path.join(dataDir, file), "utf8");
      expect(text.endsWith("\n")).toBe(true);
      for (const line of text.trimEnd().split("\n")) expect(() => JSON.parse(line)).not.toThrow();
    }
  });

  test("SIGKILL while 8 clients post with Idempotency-Keys and batch-ack: every 200 ack holds, and every key, answered or cut off, makes one message", async () => {
    const dataDir = tempDir();
    const answered = new Map<string, string>(); // key -> id it got
    const unanswered: Array<{ key: string; body: string; from: string }> = [];
    const acked: Array<{ reader: string; ids: string[] }> = [];

    const svc = await spawnBus(bundle, ["serve", "--port", "0", "--data", dataDir], env);
    let killed = false;
    const client = async (c: number) => {
      const mine: string[] = [];
      for (let i = 0; !killed; i++) {
        const key = `key-${c}-${i}`;
        const post = { from: `client${c}`, to: "any", body: `post ${key}` };
        let r: Awaited<ReturnType<typeof postJson>>;
        try {
          r = await postJson(svc.url, "/post", post, { headers: { "Idempotency-Key": key } });
        } catch (error) {
          if (!killed) throw error;
          unanswered.push({ key, body: post.body, from: post.from });
          return;
        }
        if (r.status !== 201) throw new Error(`unexpected ${r.status} ${r.text}`);
        answered.set(key, r.json.id);
        mine.push(r.json.id);
        if (i % 4 === 3) {
          const ids = mine.splice(0);
          try {
            const a = await postJson(svc.url, "/ack", { reader: `reader${c}`, ids });
            if (a.status === 200) acked.push({ reader: `reader${c}`, ids });
          } catch (error) {
            if (!killed) throw error; // an ack cut off by the kill promises nothing
          }
        }
        if (answered.size >= 400 && !killed) {
          killed = true;
          svc.child.kill("SIGKILL");
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, (_, c) => client(c)));
    expect(await svc.exited).toEqual({ code: null, signal: "SIGKILL" });
    expect(acked.length).toBeGreaterThan(50);

    const again = await spawnBus(bundle, ["serve", "--port", "0", "--data", dataDir], env);
    try {
      const byId = new Map((await allMessages(again.url)).map((m) => [m.id as string, m]));
      for (const { reader, ids } of acked) for (const id of ids) expect(byId.get(id)?.read_by).toContain(reader);
      // a client that got 201 retries anyway (its answer could have been lost): the same message, 200
      for (const [key, id] of [...answered].slice(-50)) {
        const [c] = /^key-(\d+)-/.exec(key)!.slice(1);
        const r = await postJson(again.url, "/post", { from: `client${c}`, to: "any", body: `post ${key}` }, { headers: { "Idempotency-Key": key } });
        expect({ status: r.status, id: r.json.id, replayed: r.headers["idempotent-replayed"] }).toEqual({ status: 200, id, replayed: "true" });
      }
      // a client whose post the kill cut off retries: stored before the kill or not, one message in the end
      for (const { key, body, from } of unanswered) {
        const r = await postJson(again.url, "/post", { from, to: "any", body }, { headers: { "Idempotency-Key": key } });
        expect([200, 201]).toContain(r.status);
      }
      const bodies = (await allMessages(again.url)).map((m) => m.body as string);
      expect(new Set(bodies).size).toBe(bodies.length);
      expect(bodies.length).toBe(answered.size + unanswered.filter(({ key }) => !answered.has(key)).length);
    } finally {
      again.child.kill("SIGTERM");
      await again.exited;
    }
  });
});
