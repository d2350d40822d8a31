/** The event log machines.jsonl and files.jsonl share: replay, compact when mostly history, reopen for appending. */
import * as fs from "node:fs";
import * as path from "node:path";
import { HISTORY_LINES_KEPT, openEventLog } from "../../service/store/eventLog";
import type { LogFields } from "../../service/log";
import { tempDir } from "../support/tempDir";

/** A counter whose every event sets it: the state always adds up to one event. */
function counter() {
  const seen: Array<{ text: string; lineNo: number }> = [];
  let value: number | null = null;
  let replayedAt: number | null = null;
  return {
    seen,
    get value() {
      return value;
    },
    get replayedAt() {
      return replayedAt;
    },
    replay(text: string, lineNo: number) {
      seen.push({ text, lineNo });
      value = (JSON.parse(text) as { set: number }).set;
    },
    replayed() {
      replayedAt = seen.length;
    },
    stateEvents: () => (value === null ? [] : [{ set: value }]),
  };
}

const lines = (n: number) => Array.from({ length: n }, (_, i) => `${JSON.stringify({ set: i })}\n`).join("");
const append = (log: Awaited<ReturnType<typeof openEventLog>>, event: object) =>
  log.append(
    () => Buffer.from(`${JSON.stringify(event)}\n`),
    () => undefined,
  );

describe("openEventLog", () => {
  it("replays every whole line in order, then appends after them", async () => {
    const file = path.join(tempDir("eventlog"), "events.jsonl");
    fs.writeFileSync(file, lines(3));
    const state = counter();
    const log = await openEventLog(file, "remedy", state, () => undefined);
    expect(state.seen.map((s) => s.lineNo)).toEqual([1, 2, 3]);
    expect([state.value, state.replayedAt]).toEqual([2, 3]);
    await append(log, { set: 9 });
    await log.close();
    expect(fs.readFileSync(file, "utf8")).toBe(`${lines(3)}{"set":9}\n`);
  });

  it("starts an absent file empty, and creates it on the first append", async () => {
    const file = path.join(tempDir("eventlog"), "events.jsonl");
    const state = counter();
    const log = await openEventLog(file, "remedy", state, () => undefined);
    expect(state.seen).toEqual([]);
    await append(log, { set: 1 });
    await log.close();
    expect(fs.readFileSync(file, "utf8")).toBe('{"set":1}\n');
  });

  it("rewrites the file as its state once it is mostly history, and keeps it while it is not", async () => {
    const dir = tempDir("eventlog");
    const long = path.join(dir, "long.jsonl");
    const short = path.join(dir, "short.jsonl");
    fs.writeFileSync(long, lines(2 + HISTORY_LINES_KEPT + 1));
    fs.writeFileSync(short, lines(2 + HISTORY_LINES_KEPT));
    const longLog = await openEventLog(long, "remedy", counter(), () => undefined);
    const shortLog = await openEventLog(short, "remedy", counter(), () => undefined);
    await append(longLog, { set: -1 });
    await Promise.all([longLog.close(), shortLog.close()]);
    expect(fs.readFileSync(long, "utf8")).toBe(`{"set":${2 + HISTORY_LINES_KEPT}}\n{"set":-1}\n`);
    expect(fs.readFileSync(short, "utf8")).toBe(lines(2 + HISTORY_LINES_KEPT));
  });

  it("drops a torn last line with a warning, and writes over it", async () => {
    const file = path.join(tempDir("eventlog"), "events.jsonl");
    fs.writeFileSync(file, `${lines(2)}{"set":`);
    const logged: LogFields[] = [];
    const state = counter();
    const log = await openEventLog(file, "remedy", state, (fields) => logged.push(fields));
    expect(state.seen).toHaveLength(2);
    expect(logged).toEqual([expect.objectContaining({ level: "warn", file: "events.jsonl", line: 3, bytes: 7 })]);
    await append(log, { set: 5 });
    await log.close();
    expect(fs.readFileSync(file, "utf8")).toBe(`${lines(2)}{"set":5}\n`);
  });

  it("stops the open when a line's replay throws", async () => {
    const file = path.join(tempDir("eventlog"), "events.jsonl");
    fs.writeFileSync(file, `${lines(1)}damaged\n`);
    await expect(openEventLog(file, "remedy", counter(), () => undefined)).rejects.toThrow(/JSON/);
  });
});
