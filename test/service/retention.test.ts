/** Retention by compaction on real files: what is removed, archived and kept; posts during it; kill -9 at each stage. */
import * as fs from "node:fs";
import * as path from "node:path";
import * as zlib from "node:zlib";
import type { CompactionStage } from "../../service/store/compaction";
import { buildBundle, type BusProcess, spawnBus, startBus, type TestBus } from "../support/bus";
import { allMessages, PASS, postJson, request, USER } from "../support/http";
import { tempDir } from "../support/tempDir";
import { waitFor } from "../support/waitFor";

const DAY = 86_400_000;
const line = (id: number, time: number, extra: Record<string, unknown> = {}) =>
  `${JSON.stringify({
    id: String(id),
    ts: new Date(time).toISOString(),
    from: "a",
    to: id % 2 ? "b" : "any",
    body: `m${id}`,
    tags: [],
    read_by: ["a"],
    thread: String(id),
    ...extra,
  })}\n`;
const ack = (id: number, reader: string, time: number) => `${JSON.stringify({ id: String(id), reader, ts: new Date(time).toISOString() })}\n`;

/** `old` messages posted 10 days ago (ids 1..old), then `fresh` posted now, each acked by "b". */
function dataDirWith(old: number, fresh: number): string {
  const dir = tempDir("retention");
  const now = Date.now();
  const messages: string[] = [];
  const acks: string[] = [];
  for (let id = 1; id <= old + fresh; id++) {
    const time = id <= old ? now - 10 * DAY + id : now - 1000 + id / 1000;
    messages.push(line(id, time));
    acks.push(ack(id, "b", time + 1));
  }
  fs.writeFileSync(path.join(dir, "bus.jsonl"), messages.join(""));
  fs.writeFileSync(path.join(dir, "acks.jsonl"), acks.join(""));
  return dir;
}

const fileLines = (file: string) => (fs.existsSync(file) ? fs.readFileSync(file, "utf8").split("\n").filter(Boolean) : []);
const archived = (dir: string, kind: "bus" | "acks") =>
  fs
    .readdirSync(path.join(dir, "archive"), { recursive: true })
    .map(String)
    .filter((f) => path.basename(f).startsWith(`${kind}-`) && f.endsWith(".jsonl.gz"))
    .flatMap((f) =>
      zlib
        .gunzipSync(fs.readFileSync(path.join(dir, "archive", f)))
        .toString()
        .split("\n")
        .filter(Boolean),
    );

describe("retention", () => {
  let bus: TestBus | undefined;
  afterEach(async () => {
    await bus?.close();
    bus = undefined;
  });

  it("removes messages older than N days and their acks, archives them by month, keeps the rest and their ids", async () => {
    const dir = dataDirWith(5, 3);
    bus = await startBus({ dataDir: dir, retention: { days: 1, archive: true } });
    await waitFor("the compaction", () => bus!.logs.some((l) => l.includes('"msg":"retention removed old messages"')));
    expect((await allMessages(bus.url)).map((m) => m.id)).toEqual(["6", "7", "8"]);
    const health = (await request(bus.url, "/health")).json;
    expect(health).toMatchObject({
      count: 3,
      oldest: "6",
      bytes: fs.statSync(path.join(dir, "bus.jsonl")).size + fs.statSync(path.join(dir, "acks.jsonl")).size,
    });
    // since below the oldest kept id answers from the oldest.
    expect((await request(bus.url, "/messages?since=2&limit=1")).json.messages.map((m: { id: string }) => m.id)).toEqual(["6"]);
    expect(fileLines(path.join(dir, "bus.jsonl")).map((l) => JSON.parse(l).id)).toEqual(["6", "7", "8"]);
    expect(fileLines(path.join(dir, "acks.jsonl")).map((l) => JSON.parse(l).id)).toEqual(["6", "7", "8"]);
    expect(archived(dir, "bus").map((l) => JSON.parse(l).id)).toEqual(["1", "2", "3", "4", "5"]);
    expect(archived(dir, "acks").map((l) => JSON.parse(l).id)).toEqual(["1", "2", "3", "4", "5"]);
    // Ids never repeat; read state and the ids of what is kept survive a restart.
    expect((await postJson(bus.url, "/post", { from: "a", body: "next" })).json.id).toBe("9");
    await bus.close();
    bus = await startBus({ dataDir: dir });
    expect((await allMessages(bus.url)).map((m) => [m.id, m.read_by])).toEqual([
      ["6", ["a", "b"]],
      ["7", ["a", "b"]],
      ["8", ["a", "b"]],
      ["9", ["a"]],
    ]);
  });

  it("removes only a run of old messages from the oldest: an older message after a newer one stays", async () => {
    const dir = tempDir("retention");
    const now = Date.now();
    // Ids 1-2 old, 3 new, 4 old again (as an import into a bus with newer messages leaves it).
    fs.writeFileSync(path.join(dir, "bus.jsonl"), line(1, now - 10 * DAY) + line(2, now - 9 * DAY) + line(3, now) + line(4, now - 8 * DAY));
    bus = await startBus({ dataDir: dir, retention: { days: 1, archive: false } });
    await waitFor("the compaction", () => bus!.logs.some((l) => l.includes('"msg":"retention removed old messages"')));
    expect((await allMessages(bus.url)).map((m) => m.id)).toEqual(["3", "4"]);
  });

  it("removing every message still never gives an id twice", async () => {
    const dir = dataDirWith(4, 0);
    bus = await startBus({ dataDir: dir, retention: { days: 1, archive: false } });
    await waitFor("the compaction", () => bus!.logs.some((l) => l.includes('"msg":"retention removed old messages"')));
    expect((await request(bus.url, "/health")).json).toMatchObject({ count: 0, oldest: null });
    expect(fs.existsSync(path.join(dir, "archive"))).toBe(false); // --archive none
    await bus.close();
    bus = await startBus({ dataDir: dir });
    expect((await postJson(bus.url, "/post", { from: "a", body: "after" })).json.id).toBe("5");
  });

  it("keeps accepting posts and acks while it runs: every 201 and 200 is there afterwards, once", async () => {
    const dir = dataDirWith(30_000, 2_000);
    bus = await startBus({ dataDir: dir, retention: { days: 1, archive: true } });
    const running = bus;
    const posted: string[] = [];
    const acked: string[] = [];
    const writer = (async () => {
      while (!running.logs.some((l) => l.includes('"msg":"compaction done"'))) {
        const r = await postJson(running.url, "/post", { from: "w", to: "b", body: `during ${posted.length}` });
        expect(r.status).toBe(201);
        posted.push(r.json.id);
        const a = await postJson(running.url, `/ack/${r.json.id}`, { reader: "b" });
        expect(a.status).toBe(200);
        acked.push(r.json.id);
      }
    })();
    await writer;
    expect(posted.length).toBeGreaterThan(0);
    await bus.close();
    bus = await startBus({ dataDir: dir });
    const all = await allMessages(bus.url);
    expect(all.length).toBe(2_000 + posted.length);
    expect(new Set(all.map((m) => m.id)).size).toBe(all.length);
    const byId = new Map(all.map((m) => [m.id, m]));
    for (const id of posted) expect(byId.get(id)?.read_by).toEqual(["w", "b"]);
    expect(all[0].id).toBe("30001");
  });
});

describe("kill -9 during a compaction", () => {
  let bundle: string;
  beforeAll(async () => {
    bundle = await buildBundle();
  });
  const env = (extra: Record<string, string> = {}) => ({ PATH: process.env.PATH, BUS_USER: USER, BUS_PASS: PASS, ...extra });

  it.each<CompactionStage>(["archived", "copied", "marked", "swapped-messages", "done"])(
    "at stage %s loses nothing that should be kept, and the store starts",
    async (stage) => {
      const dir = dataDirWith(50, 10);
      const paused: BusProcess = await spawnBus(bundle, ["--port", "0", "--data", dir, "--retain-days", "1"], env({ CLAUDE_BUS_COMPACTION_PAUSE: stage }));
      await waitFor(`the compaction to reach ${stage}`, () => paused.stdout().includes(`"msg":"compaction stage","stage":"${stage}"`));
      // A post acknowledged before the kill must survive it (during the swap itself posts wait, unanswered).
      const during = stage === "swapped-messages" ? undefined : await postJson(paused.url, "/post", { from: "c", body: `during ${stage}` });
      paused.child.kill("SIGKILL");
      await paused.exited;

      const after = await startBus({ dataDir: dir });
      try {
        const ids = (await allMessages(after.url)).map((m) => Number(m.id));
        const kept = ids.filter((id) => id > 50);
        expect(kept).toEqual([51, 52, 53, 54, 55, 56, 57, 58, 59, 60, ...(during ? [Number(during.json.id)] : [])]);
        // Removed messages are either all still there (killed before the swap) or all gone.
        expect([0, 50]).toContain(ids.filter((id) => id <= 50).length);
        expect(after.logs.filter((l) => l.includes('"level":"error"'))).toEqual([]);
        const next = await postJson(after.url, "/post", { from: "c", body: "next" });
        expect(Number(next.json.id)).toBe(Math.max(...ids) + 1);
        expect((await allMessages(after.url)).find((m) => m.id === "55")?.read_by).toEqual(["a", "b"]);
      } finally {
        await after.close();
      }
      // A compaction run again finishes the job.
      const again = await startBus({ dataDir: dir, retention: { days: 1, archive: true } });
      try {
        await waitFor("the store to hold only what is kept", async () => (await request(again.url, "/health")).json.oldest === "51");
      } finally {
        await again.close();
      }
      expect(fs.readdirSync(dir).filter((f) => f.endsWith(".compact"))).toEqual([]);
    },
  );
});
