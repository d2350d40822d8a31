import * as fs from "node:fs";
import * as path from "node:path";
import { jsonLine } from "../service/store/jsonl";

/** Has read everything addressed to it but the newest messages: the steady state of a session-start poller. */
export const READER = "m0";
/** Like READER, but also left its very first message unread: every later read one must be skipped. */
export const LAGGING_READER = "m1";
const MACHINES = Array.from({ length: 20 }, (_, i) => `m${i}`);
const WORDS = "build test deploy green red ready merged queue waiting review patch done see note the a for of and with".split(" ");

/** How far apart the dataset's messages were posted: 1M of them span 11.6 days, the newest posted just now. */
const DATASET_SPACING_MS = 1000;

/**
 * Write `count` messages (and acks) straight into bus.jsonl/acks.jsonl with the store's own
 * serializer: 20 machines, 10% broadcasts, 60-400 byte bodies, DATASET_SPACING_MS apart up to now.
 * READER and LAGGING_READER have acked every message addressed to them except the last `unread`
 * (and, for LAGGING_READER, the first).
 */
export function writeDataset(dir: string, count: number, unread = 20): void {
  fs.mkdirSync(dir, { recursive: true });
  let seed = 12345;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed / 2 ** 32;
  };
  const messages = fs.openSync(path.join(dir, "bus.jsonl"), "w");
  const acks = fs.openSync(path.join(dir, "acks.jsonl"), "w");
  const forReader = new Map<string, number[]>([
    [READER, []],
    [LAGGING_READER, []],
  ]);
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const flush = () => {
    fs.writeSync(messages, Buffer.concat(pending));
    pending = [];
    pendingBytes = 0;
  };
  const start = Date.now() - count * DATASET_SPACING_MS;
  for (let n = 1; n <= count; n++) {
    const from = MACHINES[Math.floor(rand() * MACHINES.length)];
    const to = rand() < 0.1 ? "any" : MACHINES[Math.floor(rand() * MACHINES.length)];
    const words: string[] = [];
    const target = 60 + Math.floor(rand() * 340);
    for (let len = 0; len < target; len += 6) words.push(WORDS[Math.floor(rand() * WORDS.length)]);
    const line = jsonLine({
      id: String(n),
      ts: new Date(start + n * DATASET_SPACING_MS).toISOString(),
      from,
      to,
      body: words.join(" "),
      tags: rand() < 0.5 ? ["build"] : [],
      read_by: [from],
      thread: String(n),
    });
    pending.push(line);
    pendingBytes += line.length;
    if (pendingBytes > 4 << 20) flush();
    for (const [reader, ids] of forReader) if ((to === reader || to === "any") && from !== reader) ids.push(n);
  }
  flush();
  const ackLines: Buffer[] = [];
  for (const [reader, ids] of forReader) {
    const acked = ids.slice(reader === LAGGING_READER ? 1 : 0, Math.max(0, ids.length - unread));
    for (const n of acked)
      ackLines.push(jsonLine({ id: String(n), reader, ts: new Date(start + n * DATASET_SPACING_MS + DATASET_SPACING_MS / 2).toISOString() }));
  }
  for (let i = 0; i < ackLines.length; i += 50_000) fs.writeSync(acks, Buffer.concat(ackLines.slice(i, i + 50_000)));
  fs.closeSync(messages);
  fs.closeSync(acks);
}

/** `count` messages whose 64 KiB bodies are control characters: each 393 KiB as JSON, the largest a message can be. */
export function writeWorstCaseDataset(dir: string, count: number): void {
  fs.mkdirSync(dir, { recursive: true });
  const fd = fs.openSync(path.join(dir, "bus.jsonl"), "w");
  const body = "\u0001".repeat(65_536);
  for (let n = 1; n <= count; n++) {
    fs.writeSync(fd, jsonLine({ id: String(n), ts: "2026-01-01T00:00:00.000Z", from: "m0", to: "any", body, tags: [], read_by: ["m0"], thread: String(n) }));
  }
  fs.closeSync(fd);
}

/** `readers` reader names, each of which acked message 1 (so the bus knows every name), added to a dataset. */
export function addReaders(dir: string, readers: number): string[] {
  const names = Array.from({ length: readers }, (_, i) => `reader-${i}`);
  const lines = names.map((reader) => jsonLine({ id: "1", reader, ts: "2026-01-01T00:00:00.000Z" }));
  fs.appendFileSync(path.join(dir, "acks.jsonl"), Buffer.concat(lines));
  return names;
}
