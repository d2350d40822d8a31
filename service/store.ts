/**
 * The durable store: bus.jsonl holds one line per message, exactly the object POST /post returned
 * (read_by is [sender] there; later acks are not rewritten into it). acks.jsonl holds one line per ack,
 * {"id","reader","ts"}. Both are append-only with group commit; nothing is acknowledged before its
 * fsync. Metadata is indexed in memory, bodies are read back from bus.jsonl with pread on demand.
 */
import * as fs from "fs";
import { promises as fsp } from "fs";
import * as path from "path";
import type { z } from "zod";
import { describeIssue } from "../contract/issues";
import { AckRecordSchema, BROADCAST, Message, NewMessage, StoredMessage, StoredMessageSchema } from "../contract/message";
import { AppendLog, PendingTail, StorageError } from "./appendLog";
import { jsonLine, LinesRead, readLines } from "./jsonl";
import { MessageIndex, Selection } from "./messageIndex";

export const MESSAGES_FILE = "bus.jsonl";
export const ACKS_FILE = "acks.jsonl";

type Log = (level: "info" | "warn" | "error", msg: string, fields?: Record<string, unknown>) => void;

/** How many damaged lines are logged one by one at start-up; the rest are counted. */
const DAMAGED_LINES_LOGGED = 20;

export class BusStore {
  private readonly pendingAcks = new Map<string, Promise<unknown>>();
  /** Read-only descriptor for bodies; opened at the first read (the file may not exist before the first post). */
  private readFd: number | null = null;

  private constructor(
    private readonly index: MessageIndex,
    private readonly messages: AppendLog,
    private readonly acks: AppendLog,
    private readonly messagesPath: string,
  ) {}

  /**
   * Replays both files. A line that ends in a newline was written whole: one that is not a valid record
   * was damaged later, and is kept in place, skipped, and logged; the ids it may have held stay taken,
   * so no id is ever given out twice. Only bytes after the last newline are a torn write.
   */
  static async open(dataDir: string, log: Log): Promise<BusStore> {
    const index = new MessageIndex();
    const messagesPath = path.join(dataDir, MESSAGES_FILE);
    const acksPath = path.join(dataDir, ACKS_FILE);
    const started = Date.now();
    const damage = damageLog(log);

    let unaccounted = 0; // damaged lines since the last good one: each may have been a message
    const messagesRead = replay(messagesPath, (text, offset, length, lineNo) => {
      const m = parseRecord(StoredMessageSchema, text);
      const expected = index.count + unaccounted + 1;
      if (typeof m === "string" || Number(m.id) <= index.count) {
        damage(MESSAGES_FILE, lineNo, typeof m === "string" ? m : `id ${m.id} was taken already`);
        unaccounted++;
        return;
      }
      if (Number(m.id) > expected) damage(MESSAGES_FILE, lineNo, `ids ${expected}-${Number(m.id) - 1} are missing before it`);
      while (index.count < Number(m.id) - 1) index.addLost();
      unaccounted = 0;
      index.add(offset, length, m.from, m.to, Number(m.thread ?? m.id));
    });
    for (; unaccounted > 0; unaccounted--) index.addLost();
    const acksRead = replay(acksPath, (text, _offset, _length, lineNo) => {
      const a = parseRecord(AckRecordSchema, text);
      if (typeof a === "string") return damage(ACKS_FILE, lineNo, a);
      if (!index.exists(Number(a.id))) return damage(ACKS_FILE, lineNo, `ack of message ${a.id}, which is not in ${MESSAGES_FILE}`);
      index.markRead(Number(a.id), a.reader);
    });
    damage.summary();
    log("info", "store replayed", { dataDir, messages: index.count, ms: Date.now() - started });

    const messages = new AppendLog(messagesPath, messagesRead.completeLength, await setTornTailAside(messagesPath, messagesRead, log));
    const acks = new AppendLog(acksPath, acksRead.completeLength, await setTornTailAside(acksPath, acksRead, log));
    return new BusStore(index, messages, acks, messagesPath);
  }

  /** Messages that can be read. */
  get count(): number {
    return this.index.live;
  }

  /** Whether message n exists (and can be read). */
  has(n: number): boolean {
    return this.index.exists(n);
  }

  /**
   * Append a message; resolves with it once it is on disk. Ids follow commit order. A reply joins the
   * thread of the message it answers (which the caller checked exists).
   */
  post(input: NewMessage): Promise<Message> {
    let message: Message;
    return this.messages.append(
      (positionInBatch) => {
        const id = String(this.index.count + 1 + positionInBatch);
        const thread = input.reply_to === undefined ? id : String(this.index.threadOf(Number(input.reply_to)));
        message = {
          id,
          ts: new Date().toISOString(),
          from: input.from,
          to: input.to ?? BROADCAST,
          body: input.body,
          tags: input.tags ?? [],
          read_by: [input.from],
          thread,
          ...(input.reply_to !== undefined && { reply_to: input.reply_to }),
        };
        return jsonLine(message);
      },
      (offset, length) => {
        this.index.add(offset, length - 1, message.from, message.to, Number(message.thread));
        return message;
      },
    );
  }

  /** Record that reader read message n. Returns null for an unknown id. */
  async ack(n: number, reader: string): Promise<{ already: boolean } | null> {
    if (!this.index.exists(n)) return null;
    if (this.index.isRead(n, reader)) return { already: true };
    const key = `${n}/${reader}`;
    const inFlight = this.pendingAcks.get(key);
    if (inFlight) {
      await inFlight;
      return { already: true };
    }
    const write = this.acks.append(
      () => jsonLine({ id: String(n), reader, ts: new Date().toISOString() }),
      () => this.index.markRead(n, reader),
    );
    this.pendingAcks.set(key, write);
    try {
      await write;
    } finally {
      this.pendingAcks.delete(key);
    }
    return { already: false };
  }

  /** The numbers of the messages a query selects, oldest first. */
  select(q: Selection): number[] {
    return this.index.select(q);
  }

  /** Message n as the API returns it, as JSON text: one body in memory at a time. */
  messageJson(n: number): string {
    const { offset, length } = this.index.location(n);
    const buf = Buffer.allocUnsafe(length);
    this.readFd ??= fs.openSync(this.messagesPath, "r");
    let got = 0;
    while (got < length) {
      const r = fs.readSync(this.readFd, buf, got, length - got, offset + got);
      if (r === 0) throw new StorageError(this.messagesPath, Object.assign(new Error(`shorter than its index (message ${n})`), { code: "EIO" }));
      got += r;
    }
    const { idempotency_key: _key, ...message } = JSON.parse(buf.toString("utf8")) as StoredMessage;
    return JSON.stringify({ ...message, read_by: this.index.readBy(n), thread: message.thread ?? message.id });
  }

  /** Finish queued writes and close the files. */
  async close(): Promise<void> {
    await Promise.all([this.messages.close(), this.acks.close()]);
    if (this.readFd !== null) fs.closeSync(this.readFd);
    this.readFd = null;
  }
}

function replay(file: string, onLine: Parameters<typeof readLines>[1]): LinesRead {
  return fs.existsSync(file) ? readLines(file, onLine) : { completeLength: 0, tail: null };
}

/** The record, or what is wrong with the line. */
function parseRecord<T>(schema: z.ZodType<T>, text: string): T | string {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return `not JSON: ${(error as Error).message}`;
  }
  const result = schema.safeParse(json);
  return result.success ? result.data : describeIssue(result.error.issues[0], { root: "line" });
}

/** Logs damaged lines (the first few one by one, then a count), never their content. */
function damageLog(log: Log) {
  let count = 0;
  const damage = (file: string, line: number, reason: string) => {
    if (++count <= DAMAGED_LINES_LOGGED) log("error", "damaged line kept in place and skipped", { file, line, reason });
  };
  damage.summary = () => {
    if (count > DAMAGED_LINES_LOGGED) log("error", "more damaged lines kept in place and skipped", { count: count - DAMAGED_LINES_LOGGED });
  };
  return damage;
}

/**
 * A torn tail (bytes after the last newline, never acknowledged) is saved beside the file
 * (name.torn-<time>, 0600 like the data) and cut off, so the next append starts on a line boundary.
 * On a full or read-only disk neither can be done now: the bus starts anyway and serves reads, keeps
 * the bytes in memory, and saves and cuts them before its first write; a failed save leaves no file.
 */
async function setTornTailAside(file: string, read: LinesRead, log: Log): Promise<PendingTail | null> {
  if (!read.tail) return null;
  const { lineNo, bytes } = read.tail;
  let saved = false;
  const save = async () => {
    if (saved) return;
    const savedTo = `${file}.torn-${new Date().toISOString().replace(/[:.]/g, "-")}`;
    try {
      await fsp.writeFile(savedTo, bytes, { mode: 0o600, flag: "wx" });
    } catch (error) {
      await fsp.rm(savedTo, { force: true }).catch(() => undefined);
      throw error;
    }
    saved = true;
    log("warn", "torn last line recovered", { file: path.basename(file), line: lineNo, bytes: bytes.length, savedTo });
  };
  try {
    await save();
    const handle = await fsp.open(file, "r+");
    try {
      await handle.truncate(read.completeLength);
      await handle.datasync();
    } finally {
      await handle.close();
    }
    return null;
  } catch (error) {
    log("warn", "torn last line kept until the disk takes writes again", { file: path.basename(file), line: lineNo, bytes: bytes.length, error: (error as Error).message });
    return save; // the first write saves it (if not yet done) and then cuts it off
  }
}
