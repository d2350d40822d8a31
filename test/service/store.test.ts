import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { startBus as startRealBus } from "../../service/http/server";
import { fileLines, startBus } from "../support/bus";
import { allMessages, PASS, postJson, USER } from "../support/http";
import { tempDir } from "../support/tempDir";

const line = (id: number, extra: Record<string, unknown> = {}) =>
  `${JSON.stringify({ id: String(id), ts: "2026-01-01T00:00:00.000Z", from: "a", to: "any", body: `m${id}`, tags: [], read_by: ["a"], ...extra })}\n`;

function dataDirWith(messages: string, acks = ""): string {
  const dir = tempDir();
  fs.writeFileSync(path.join(dir, "bus.jsonl"), messages);
  fs.writeFileSync(path.join(dir, "acks.jsonl"), acks);
  return dir;
}

const start = (dataDir: string, logs: string[] = []) => startRealBus({ port: 0, dataDir, credentials: { user: USER, pass: PASS }, log: (l) => logs.push(l) });

describe("durable store", () => {
  test("ids and messages persist across restarts, and the file is jq-readable JSONL", async () => {
    let bus = await startBus();
    const first = await Promise.all([1, 2, 3].map((i) => postJson(bus.url, "/post", { from: "a", body: `b${i}` })));
    expect(first.map((r) => r.json.id).sort()).toEqual(["1", "2", "3"]);
    await bus.close();
    bus = await startBus({ dataDir: bus.dataDir });
    expect((await postJson(bus.url, "/post", { from: "a", body: "b4" })).json.id).toBe("4");
    const messages = await allMessages(bus.url);
    expect(messages.map((m) => m.id)).toEqual(["1", "2", "3", "4"]);
    await bus.close();
    const viaJq = execFileSync("jq", ["-r", '.id + " " + .body', path.join(bus.dataDir, "bus.jsonl")], { encoding: "utf8" });
    expect(viaJq.trim().split("\n")).toEqual(messages.map((m) => `${m.id} ${m.body}`));
  });

  test("a file truncated mid-line starts: complete lines kept, the torn tail saved aside and logged", async () => {
    const torn = line(3).slice(0, 25);
    const dir = dataDirWith(line(1) + line(2) + torn);
    const logs: string[] = [];
    const bus = await start(dir, logs);
    try {
      expect((await allMessages(bus.url)).map((m) => m.id)).toEqual(["1", "2"]);
      const warning = logs.map((l) => JSON.parse(l)).find((l) => l.msg === "torn last line recovered");
      expect(warning).toMatchObject({ level: "warn", file: "bus.jsonl", line: 3, bytes: torn.length });
      expect(fs.readFileSync(warning.savedTo, "utf8")).toBe(torn);
      expect(fs.statSync(warning.savedTo).mode & 0o777).toBe(0o600);
      const r = await postJson(bus.url, "/post", { from: "a", body: "next" });
      expect(r.json.id).toBe("3");
    } finally {
      await bus.close();
    }
    const lines = fileLines(path.join(dir, "bus.jsonl")).map((l) => JSON.parse(l));
    expect(lines.map((m) => m.body)).toEqual(["m1", "m2", "next"]);
  });

  test("a newline-terminated last line that is no record was damaged, not torn: kept in place, its id stays taken", async () => {
    const messages = `${line(1)}\u0000\u0000\u0000\n`;
    const dir = dataDirWith(messages, '{"id":"1","reader":"b","ts":"2026-01-01T00:00:00.000Z"}\n{"id":"1","rea');
    const logs: string[] = [];
    const bus = await start(dir, logs);
    try {
      expect(await allMessages(bus.url)).toEqual([expect.objectContaining({ id: "1", read_by: ["a", "b"] })]);
      const entries = logs.map((l) => JSON.parse(l));
      expect(entries).toContainEqual(expect.objectContaining({ level: "error", msg: "damaged line kept in place and skipped", file: "bus.jsonl", line: 2 }));
      // The unterminated ack is the torn write: cut off and saved aside.
      expect(entries).toContainEqual(expect.objectContaining({ msg: "torn last line recovered", file: "acks.jsonl", line: 2 }));
      expect(fs.readFileSync(path.join(dir, "bus.jsonl"), "utf8")).toBe(messages);
      // Id 2 may have been acknowledged before the damage: it is never given out again.
      expect((await postJson(bus.url, "/post", { from: "a", body: "next" })).json.id).toBe("3");
    } finally {
      await bus.close();
    }
    const after = fs.readFileSync(path.join(dir, "bus.jsonl"), "utf8");
    expect(after.startsWith(messages)).toBe(true);
    expect(JSON.parse(after.slice(messages.length))).toMatchObject({ id: "3", body: "next" });
  });

  test.each([
    ["not JSON", `${line(1)}{oops\n${line(2)}`, ["1", "2"], "3", /not JSON/],
    ["a blank line", `${line(1)}\n${line(2)}`, ["1", "2"], "3", /not JSON/],
    ["an id out of sequence", line(1) + line(3) + line(4), ["1", "3", "4"], "5", /ids 2-2 are missing before it/],
    ["a duplicate id", line(1) + line(1) + line(2), ["1", "2"], "3", /id 1 was taken already/],
    ["a field of the wrong type", line(1) + line(2, { from: 7 }) + line(3), ["1", "3"], "4", /^from: /],
  ])(
    "a damaged middle line (%s) is skipped and logged with its number; every other message is kept, untouched",
    async (_what, content, ids, nextId, reason) => {
      const dir = dataDirWith(content);
      const logs: string[] = [];
      const bus = await start(dir, logs);
      try {
        expect((await allMessages(bus.url)).map((m) => m.id)).toEqual(ids);
        const damaged = logs.map((l) => JSON.parse(l)).filter((l) => l.msg === "damaged line kept in place and skipped");
        expect(damaged).toEqual([expect.objectContaining({ level: "error", file: "bus.jsonl", line: 2, reason: expect.stringMatching(reason) })]);
        expect(fs.readFileSync(path.join(dir, "bus.jsonl"), "utf8")).toBe(content);
        expect((await postJson(bus.url, "/post", { from: "a", body: "next" })).json.id).toBe(nextId);
      } finally {
        await bus.close();
      }
    },
  );

  test("an ack of a message that does not exist is skipped and logged with its line; the other acks count", async () => {
    const acks = '{"id":"1","reader":"b","ts":"t"}\n{"id":"5","reader":"b","ts":"t"}\n{"id":"1","reader":"c","ts":"t"}\n';
    const logs: string[] = [];
    const bus = await start(dataDirWith(line(1), acks), logs);
    try {
      expect(await allMessages(bus.url)).toEqual([expect.objectContaining({ id: "1", read_by: ["a", "b", "c"] })]);
      expect(logs.map((l) => JSON.parse(l))).toContainEqual(
        expect.objectContaining({ file: "acks.jsonl", line: 2, reason: "ack of message 5, which is not in bus.jsonl" }),
      );
    } finally {
      await bus.close();
    }
  });

  test("close() lets in-flight posts finish: every 201 is on disk", async () => {
    const bus = await startBus();
    const posts = Array.from({ length: 50 }, (_, i) => postJson(bus.url, "/post", { from: "a", body: `p${i}` }));
    await Promise.race(posts);
    const closing = bus.close();
    const settled = await Promise.allSettled(posts);
    await closing;
    const created = settled
      .filter((s) => s.status === "fulfilled" && s.value.status === 201)
      .map((s) => (s as PromiseFulfilledResult<{ json: { id: string; body: string } }>).value.json);
    expect(created.length).toBeGreaterThan(0);
    const onDisk = fileLines(path.join(bus.dataDir, "bus.jsonl")).map((l) => JSON.parse(l));
    for (const m of created) expect(onDisk).toContainEqual(expect.objectContaining({ id: m.id, body: m.body }));
    expect(onDisk.map((m) => m.id)).toEqual(onDisk.map((_, i) => String(i + 1)));
  });

  test("a data dir that cannot be created fails the start with a clear error", async () => {
    const file = path.join(tempDir(), "not-a-dir");
    fs.writeFileSync(file, "x");
    await expect(start(path.join(file, "data"))).rejects.toThrow(/ENOTDIR|EEXIST/);
  });
});
