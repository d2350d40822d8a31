/**
 * Retention by compaction: the store's files are rewritten without the removed messages (and their
 * acks) and swapped in by rename while posts and acks go on: the bulk is copied first, and only the
 * bytes that arrived meanwhile are copied with writes held back. Removed lines are appended, gzipped, to
 * the data dir's monthly archive (archive/YYYY-MM/), unless the archive is off.
 *
 * A kill -9 at any moment leaves a store that starts with nothing lost that was to be kept: until the
 * renames the old files are whole; compacted.json (the first id kept, written before the renames) lets
 * the next start skip quietly the lines a half-done compaction left in either file; temp files of an
 * interrupted run are removed at the next start, and archive files are written whole or not at all.
 */
import * as fs from "node:fs";
import { promises as fsp } from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import * as zlib from "node:zlib";
import { z } from "zod";
import type { AppendLog } from "./appendLog";
import { syncDir, writeFileDurably } from "../../contract/durableFile";
import { READABLE_BY_THE_BUS, readAtStart } from "./startupFile";
import type { Log } from "../log";

export const COMPACTED_FILE = "compacted.json";
export const ARCHIVE_DIR = "archive";
const TEMP_SUFFIX = ".compact";
/** Lines gathered per month before they are gzipped and written: bounds a compaction's memory. */
const ARCHIVE_CHUNK_BYTES = 4 * 1024 * 1024;
/** Bytes read (and kept ack lines gathered) at a time; the event loop serves requests between reads. */
const READ_CHUNK_BYTES = 1024 * 1024;
const gzip = promisify(zlib.gzip);

export type CompactionStage = "archived" | "copied" | "marked" | "swapped-messages" | "done";

export interface CompactionOptions {
  /** Append removed lines to the monthly archive (the default), or drop them. */
  archive: boolean;
  /** Called after each stage (crash tests stop the process there). */
  onStage?: (stage: CompactionStage) => Promise<void>;
}

export interface CompactionTarget {
  dataDir: string;
  messages: AppendLog;
  acks: AppendLog;
  /** Ids below this are removed. */
  firstKept: number;
  /** The highest id. */
  count: number;
  offsetOf(n: number): number;
  timeOf(n: number): number;
  /** Whether message n is kept (exists). */
  live(n: number): boolean;
}

const CompactedSchema = z.object({ first_id: z.number().int().min(1) });

/** The first id the last compaction kept (1 when none ran); also removes what an interrupted one left. */
export async function readFirstKept(dataDir: string): Promise<number> {
  for (const name of await fsp.readdir(dataDir).catch(() => [] as string[])) {
    if (name.endsWith(TEMP_SUFFIX)) await fsp.rm(path.join(dataDir, name), { force: true }).catch(() => undefined);
  }
  const file = path.join(dataDir, COMPACTED_FILE);
  if (!fs.existsSync(file)) return 1;
  const remedy = `it says which message id bus.jsonl starts at: ${READABLE_BY_THE_BUS}, or write it again as {"first_id": N} with N the id on the first line of bus.jsonl, or restore the data dir from a backup (claude-bus restore)`;
  return readAtStart(file, remedy, async () => {
    const kept = CompactedSchema.safeParse(JSON.parse(await fsp.readFile(file, "utf8")));
    if (!kept.success) throw new Error('does not hold {"first_id": N} with N a whole number from 1');
    return kept.data.first_id;
  });
}

/** Runs one compaction; resolves with how many bytes the kept messages moved down in bus.jsonl. */
export async function compact(target: CompactionTarget, opts: CompactionOptions, log: Log): Promise<number> {
  const { dataDir, messages, acks, firstKept } = target;
  const started = Date.now();
  const busFile = path.join(dataDir, "bus.jsonl");
  const acksFile = path.join(dataDir, "acks.jsonl");
  const stage = async (name: CompactionStage) => opts.onStage?.(name);

  // Where the first kept message's line starts: everything before it goes.
  const boundary = firstKeptOffset(target);
  const messagesAt = messages.length;
  const acksAt = acks.length;
  const archive = opts.archive ? new MonthlyArchive(path.join(dataDir, ARCHIVE_DIR)) : null;

  // 1. The removed lines to the archive; messages by the month they were posted, acks with their message.
  if (archive) {
    let last = "unknown";
    for await (const line of linesIn(busFile, 0, boundary)) {
      last = monthOf(line) ?? last;
      await archive.add("bus", last, line);
    }
    for await (const line of linesIn(acksFile, 0, acksAt)) {
      const id = idOf(line);
      if (id < firstKept) await archive.add("acks", id >= 1 && target.timeOf(id) > 0 ? monthOfTime(target.timeOf(id)) : (monthOf(line) ?? "unknown"), line);
    }
    await archive.finish();
  }
  await stage("archived");

  // 2. The kept lines to new files, beside the old ones.
  await copyRange(busFile, boundary, messagesAt, busFile + TEMP_SUFFIX, "w");
  const keptAcks = await fsp.open(acksFile + TEMP_SUFFIX, "w", 0o600);
  try {
    let pending: string[] = [];
    let bytes = 0;
    for await (const line of linesIn(acksFile, 0, acksAt)) {
      if (!(idOf(line) >= firstKept)) continue;
      pending.push(`${line}\n`);
      bytes += line.length + 1;
      if (bytes >= READ_CHUNK_BYTES) {
        await keptAcks.write(pending.join(""));
        [pending, bytes] = [[], 0];
      }
    }
    await keptAcks.write(pending.join(""));
    await keptAcks.sync();
  } finally {
    await keptAcks.close();
  }
  await stage("copied");

  // 3. The first kept id, before either file is swapped: a start after a crash skips what is below it.
  await writeFileDurably(path.join(dataDir, COMPACTED_FILE), `${JSON.stringify({ first_id: firstKept })}\n`, { tempSuffix: TEMP_SUFFIX });
  await stage("marked");

  // 4. What arrived meanwhile, then the swap, with both logs' writes held back.
  await messages.exclusive(async (messagesNow) => {
    await copyRange(busFile, messagesAt, messagesNow, busFile + TEMP_SUFFIX, "a");
    await swapIn(busFile);
    await stage("swapped-messages");
    await acks.exclusive(async (acksNow) => {
      await copyRange(acksFile, acksAt, acksNow, acksFile + TEMP_SUFFIX, "a");
      await swapIn(acksFile);
      return { result: undefined, newLength: fs.statSync(acksFile).size };
    });
    return { result: undefined, newLength: messagesNow - boundary };
  });
  await stage("done");
  log({ level: "info", msg: "compaction done", firstKept, removedBytes: boundary, ms: Date.now() - started });
  return boundary;
}

function firstKeptOffset(target: CompactionTarget): number {
  for (let n = target.firstKept; n <= target.count; n++) if (target.live(n)) return target.offsetOf(n);
  return target.messages.length;
}

/** The message id an ack line names (NaN for a damaged one, which is kept). */
function idOf(line: string): number {
  return Number((/"id":"(\d+)"/.exec(line) ?? [])[1]);
}

/**
 * Each complete line in [from, to) of a file (`from` at a line's start), read a chunk at a time: between
 * chunks the event loop runs, so requests are served while a compaction reads a large store.
 */
async function* linesIn(file: string, from: number, to: number): AsyncGenerator<string> {
  if (to <= from || !fs.existsSync(file)) return;
  const input = await fsp.open(file, "r");
  try {
    const chunk = Buffer.allocUnsafe(READ_CHUNK_BYTES);
    let carry: Buffer = Buffer.alloc(0);
    for (let at = from; at < to; ) {
      const { bytesRead } = await input.read(chunk, 0, Math.min(chunk.length, to - at), at);
      if (bytesRead === 0) break;
      at += bytesRead;
      const buf: Buffer = carry.length > 0 ? Buffer.concat([carry, chunk.subarray(0, bytesRead)]) : chunk.subarray(0, bytesRead);
      let start = 0;
      for (let nl = buf.indexOf(0x0a); nl !== -1; nl = buf.indexOf(0x0a, start)) {
        yield buf.toString("utf8", start, nl);
        start = nl + 1;
      }
      carry = Buffer.from(buf.subarray(start));
    }
  } finally {
    await input.close();
  }
}

/** Copies bytes [from, to) of `file` into `dest` (created, or appended to), then fsyncs it. */
async function copyRange(file: string, from: number, to: number, dest: string, flags: "w" | "a"): Promise<void> {
  const out = await fsp.open(dest, flags, 0o600);
  try {
    if (to > from) {
      const input = await fsp.open(file, "r");
      try {
        const buffer = Buffer.allocUnsafe(Math.min(4 * 1024 * 1024, to - from));
        for (let at = from; at < to; ) {
          const { bytesRead } = await input.read(buffer, 0, Math.min(buffer.length, to - at), at);
          if (bytesRead === 0) throw new Error(`${file} ended at ${at}, before ${to}`);
          await out.write(buffer, 0, bytesRead);
          at += bytesRead;
        }
      } finally {
        await input.close();
      }
    }
    await out.sync();
  } finally {
    await out.close();
  }
}

/** Renames file.compact over file and makes the rename durable. */
async function swapIn(file: string): Promise<void> {
  await fsp.rename(file + TEMP_SUFFIX, file);
  await syncDir(path.dirname(file));
}

const monthOfTime = (time: number) => new Date(time).toISOString().slice(0, 7);

/** The month a line's `ts` names, or undefined when the line has none (a damaged line keeps its neighbour's). */
function monthOf(line: string): string | undefined {
  const ts = /"ts":"(\d{4}-\d\d)/.exec(line);
  return ts?.[1];
}

/**
 * Removed lines, gzipped, in archive/YYYY-MM/<kind>-<first id>-<last id>.jsonl.gz: each file written to
 * a temp name and renamed whole, so a crash never leaves half an archive (a rerun after a crash may
 * write some lines a second time, under another name; their ids tell them apart).
 */
class MonthlyArchive {
  private readonly open = new Map<string, ArchiveFile>();

  constructor(private readonly dir: string) {}

  async add(kind: "bus" | "acks", monthName: string, line: string): Promise<void> {
    const key = `${monthName}/${kind}`;
    let file = this.open.get(key);
    const id = (/"id":"(\d+)"/.exec(line) ?? [])[1] ?? "";
    if (!file) {
      await fsp.mkdir(path.join(this.dir, monthName), { recursive: true, mode: 0o700 });
      const temp = path.join(this.dir, monthName, `.${kind}-${process.pid}-${Date.now()}${TEMP_SUFFIX}`);
      file = { handle: await fsp.open(temp, "w", 0o600), temp, pending: [], bytes: 0, firstId: id, lastId: id };
      this.open.set(key, file);
    }
    file.pending.push(`${line}\n`);
    file.bytes += line.length + 1;
    if (id) file.lastId = id;
    if (!file.firstId) file.firstId = id;
    if (file.bytes >= ARCHIVE_CHUNK_BYTES) await flush(file);
  }

  async finish(): Promise<void> {
    for (const [key, file] of this.open) {
      await flush(file);
      await file.handle.sync();
      await file.handle.close();
      const [monthName, kind] = key.split("/");
      await fsp.rename(file.temp, path.join(this.dir, monthName, `${kind}-${file.firstId || "0"}-${file.lastId || "0"}.jsonl.gz`));
      await syncDir(path.join(this.dir, monthName));
    }
    this.open.clear();
  }
}

interface ArchiveFile {
  handle: fsp.FileHandle;
  temp: string;
  pending: string[];
  bytes: number;
  firstId: string;
  lastId: string;
}

/** One gzip member per chunk (gzipped off the event loop): concatenated members are one valid gzip file. */
async function flush(file: ArchiveFile): Promise<void> {
  if (file.pending.length === 0) return;
  const text = file.pending.join("");
  file.pending = [];
  file.bytes = 0;
  await file.handle.write(await gzip(text));
}
