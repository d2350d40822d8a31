/**
 * The durable store: bus.jsonl holds one line per message, exactly the object POST /post returned
 * (read_by is [sender] there; later acks are not rewritten into it), plus its Idempotency-Key if it had
 * one. acks.jsonl holds one line per ack, {"id","reader","ts"}. Both are append-only with group commit;
 * nothing is acknowledged before its fsync. Metadata is indexed in memory, bodies are read back from
 * bus.jsonl with pread on demand. With retention, old messages are compacted away (compaction.ts).
 */
import * as fs from "node:fs";
import { promises as fsp } from "node:fs";
import * as path from "node:path";
import { type Attachment, BROADCAST, type Message, type NewMessage, type StoredMessage } from "../../contract/message";
import { AppendLog, type PendingTail, StorageError } from "./appendLog";
import { compact, type CompactionOptions, readFirstKept } from "./compaction";
import { IdempotencyKeys } from "./idempotency";
import { jsonLine, type LinesRead, readLines } from "./jsonl";
import { READABLE_BY_THE_BUS, readAtStart } from "./startupFile";
import { MessageIndex, type Selection } from "./messageIndex";
import { parseStoredAck, parseStoredLine } from "./storedLine";
import type { Log } from "../log";

export const MESSAGES_FILE = "bus.jsonl";
export const ACKS_FILE = "acks.jsonl";

/** A post as the store takes it: its attachments checked and sized (fileRoutes.ts checkAttachments), `verified` when sent with the sender's own credential. */
export type NewPost = Omit<NewMessage, "attachments"> & { attachments?: Attachment[]; verified?: boolean };

/** What the store tells others as data comes in (from its replay too): presence, long-poll waiters, the files messages keep. */
export interface StoreListener {
  posted?(m: { n: number; from: string; to: string; thread: number; tags: readonly string[]; time: number; attachments: readonly string[] }): void;
  acked?(reader: string, time: number, ids: readonly number[]): void;
}

/** A post's Idempotency-Key was used before, for another message. */
export class IdempotencyConflict extends Error {
  constructor(readonly id: string) {
    super(`this Idempotency-Key was used for another message (#${id}): a retry must repeat the same request`);
    this.name = "IdempotencyConflict";
  }
}

/** How many damaged lines are logged one by one at start-up; the rest are counted. */
const DAMAGED_LINES_LOGGED = 20;

export class BusStore {
  private readonly pendingAcks = new Map<string, Promise<unknown>>();
  /** Posts with a key whose message is being written: a concurrent repeat waits for it. */
  private readonly pendingKeys = new Map<string, Promise<Message>>();
  /** Read-only descriptor for bodies; opened at the first read (the file may not exist before the first post). */
  private readFd: number | null = null;
  private compacting: Promise<unknown> | null = null;

  private constructor(
    private readonly dataDir: string,
    private readonly index: MessageIndex,
    private readonly keys: IdempotencyKeys,
    private readonly messages: AppendLog,
    private readonly acks: AppendLog,
    private readonly listener: StoreListener,
    private readonly log: Log,
  ) {}

  /**
   * Replays both files. A line that ends in a newline was written whole: one that is not a valid record
   * was damaged later, and is kept in place, skipped, and logged; the ids it may have held stay taken,
   * so no id is ever given out twice. Only bytes after the last newline are a torn write. Lines below the
   * first id a compaction kept (it was interrupted before swapping the files) are skipped quietly.
   */
  static async open(dataDir: string, log: Log, listener: StoreListener = {}): Promise<BusStore> {
    const index = new MessageIndex();
    const keys = new IdempotencyKeys();
    const messagesPath = path.join(dataDir, MESSAGES_FILE);
    const acksPath = path.join(dataDir, ACKS_FILE);
    const started = Date.now();
    const damage = damageLog(log);
    const firstKept = await readFirstKept(dataDir);
    index.startAt(firstKept);

    let unaccounted = 0; // damaged lines since the last good one: each may have been a message
    const messagesRead = replay(messagesPath, (text, offset, length, lineNo) => {
      const m = parseStoredLine(text);
      if (typeof m !== "string" && Number(m.id) < firstKept) return;
      const expected = index.count + unaccounted + 1;
      if (typeof m === "string" || Number(m.id) <= index.count) {
        damage(MESSAGES_FILE, lineNo, typeof m === "string" ? m : `id ${m.id} was taken already`);
        unaccounted++;
        return;
      }
      const n = Number(m.id);
      if (n > expected) damage(MESSAGES_FILE, lineNo, `ids ${expected}-${n - 1} are missing before it`);
      while (index.count < n - 1) index.addLost();
      unaccounted = 0;
      const time = Date.parse(m.ts);
      const thread = Number(m.thread ?? m.id);
      index.add({ offset, length, time, from: m.from, to: m.to, thread, tags: m.tags });
      if (m.idempotency_key !== undefined) keys.remember(m.from, m.idempotency_key, n, time);
      listener.posted?.({ n, from: m.from, to: m.to, thread, tags: m.tags, time, attachments: m.attachments ?? [] });
    });
    for (; unaccounted > 0; unaccounted--) index.addLost();
    const acksRead = replay(acksPath, (text, _offset, _length, lineNo) => {
      const a = parseStoredAck(text);
      if (typeof a === "string") return damage(ACKS_FILE, lineNo, a);
      const n = Number(a.id);
      if (n < firstKept) return;
      if (!index.exists(n)) return damage(ACKS_FILE, lineNo, `ack of message ${a.id}, which is not in ${MESSAGES_FILE}`);
      const time = Date.parse(a.ts);
      index.markRead(n, a.reader, time);
      listener.acked?.(a.reader, time || 0, [n]);
    });
    damage.summary();
    log({ level: "info", msg: "store replayed", dataDir, messages: index.live, ms: Date.now() - started });

    const messages = new AppendLog(messagesPath, messagesRead.completeLength, await setTornTailAside(messagesPath, messagesRead, log));
    const acks = new AppendLog(acksPath, acksRead.completeLength, await setTornTailAside(acksPath, acksRead, log));
    return new BusStore(dataDir, index, keys, messages, acks, listener, log);
  }

  /** Messages that can be read. */
  get count(): number {
    return this.index.live;
  }

  /** The oldest id kept, or null when the store holds none. */
  get oldest(): number | null {
    return this.index.oldest ?? null;
  }

  /** The store's size on disk, in bytes. */
  get bytes(): number {
    return this.messages.length + this.acks.length;
  }

  /** The newest id given out (0 before the first post). */
  get newest(): number {
    return this.index.count;
  }

  /** Whether message n exists (and can be read). */
  has(n: number): boolean {
    return this.index.exists(n);
  }

  /**
   * Append a message; resolves with it once it is on disk. Ids follow commit order. A reply joins the
   * thread of the message it answers (which the caller checked exists). With an Idempotency-Key, a repeat
   * of a post from the same sender within the window gets the message that post made (`replayed`), and a
   * different message under the same key is an IdempotencyConflict.
   */
  async post(input: NewPost, idempotencyKey?: string): Promise<{ message: Message; replayed: boolean }> {
    if (idempotencyKey === undefined) return { message: await this.append(input), replayed: false };
    const entry = `${input.from}\0${idempotencyKey}`;
    const pending = this.pendingKeys.get(entry);
    const earlier = pending ? Number((await pending).id) : this.keys.find(input.from, idempotencyKey);
    if (earlier !== undefined && this.index.exists(earlier)) {
      const message = JSON.parse(this.messageJson(earlier)) as Message;
      if (!sameRequest(message, input)) throw new IdempotencyConflict(message.id);
      return { message, replayed: true };
    }
    const write = this.append(input, idempotencyKey);
    this.pendingKeys.set(entry, write);
    try {
      return { message: await write, replayed: false };
    } finally {
      this.pendingKeys.delete(entry);
    }
  }

  /** Record that reader read message n. Returns null for an unknown id. */
  async ack(n: number, reader: string): Promise<{ already: boolean } | null> {
    const result = await this.ackMany(reader, [n]);
    if (result.unknown.length > 0) return null;
    return { already: result.already.length > 0 };
  }

  /** Acks many messages for one reader in one write and one fsync, sorting the ids into acked, already and unknown. */
  async ackMany(reader: string, ids: number[]): Promise<{ acked: number[]; already: number[]; unknown: number[] }> {
    const fresh: number[] = [];
    const already: number[] = [];
    const unknown: number[] = [];
    const inFlight: Array<Promise<unknown>> = [];
    for (const n of new Set(ids)) {
      if (!this.index.exists(n)) unknown.push(n);
      else if (this.index.isRead(n, reader)) already.push(n);
      else if (this.pendingAcks.has(`${n}/${reader}`)) {
        inFlight.push(this.pendingAcks.get(`${n}/${reader}`)!);
        already.push(n);
      } else fresh.push(n);
    }
    if (fresh.length > 0) {
      const time = new Date();
      const write = this.acks.append(
        () => Buffer.concat(fresh.map((n) => jsonLine({ id: String(n), reader, ts: time.toISOString() }))),
        () => {
          for (const n of fresh) this.index.markRead(n, reader, time.getTime());
          this.listener.acked?.(reader, time.getTime(), fresh);
        },
      );
      for (const n of fresh) this.pendingAcks.set(`${n}/${reader}`, write);
      try {
        await write;
      } finally {
        for (const n of fresh) this.pendingAcks.delete(`${n}/${reader}`);
      }
    }
    await Promise.all(inFlight);
    return { acked: fresh, already, unknown };
  }

  /** The numbers of the messages a query selects, oldest first. */
  select(q: Selection): number[] {
    return this.index.select(q);
  }

  /** Whether message n answers query q (for long-poll waiters). */
  matches(n: number, q: Omit<Selection, "limit">): boolean {
    return this.index.matches(n, q);
  }

  /** When `reader` acked message n (ms; NaN when its ack line holds no readable time), or undefined when it has not. */
  ackTimeOf(n: number, reader: string): number | undefined {
    return this.index.ackTimeOf(n, reader);
  }

  /** Every machine name in the data, and what each has not read. */
  machineNames(): string[] {
    return this.index.machineNames();
  }

  unreadCount(name: string): number {
    return this.index.unreadCount(name);
  }

  /** Message n as the API returns it, as JSON text: one body in memory at a time. */
  messageJson(n: number): string {
    const { offset, length } = this.index.location(n);
    const buf = Buffer.allocUnsafe(length);
    this.readFd ??= fs.openSync(path.join(this.dataDir, MESSAGES_FILE), "r");
    let got = 0;
    while (got < length) {
      const r = fs.readSync(this.readFd, buf, got, length - got, offset + got);
      if (r === 0)
        throw new StorageError(path.join(this.dataDir, MESSAGES_FILE), Object.assign(new Error(`shorter than its index (message ${n})`), { code: "EIO" }));
      got += r;
    }
    const { idempotency_key: _key, ...message } = JSON.parse(buf.toString("utf8")) as StoredMessage;
    return JSON.stringify({ ...message, read_by: this.index.readBy(n), read_at: this.index.readAt(n), thread: message.thread ?? message.id });
  }

  /**
   * Removes messages posted before `cutoff` (ms since the epoch), and their acks, by compaction: posts and
   * acks go on being accepted. Resolves with how many were removed. One compaction at a time.
   */
  async removeOlderThan(cutoff: number, opts: CompactionOptions): Promise<number> {
    if (this.compacting) await this.compacting.catch(() => undefined);
    const firstKept = this.index.firstAtOrAfter(cutoff);
    const oldest = this.index.oldest ?? this.index.count + 1;
    if (firstKept <= oldest) return 0;
    const run = (async () => {
      const removed = this.index.removeBefore(firstKept);
      const shift = await compact(
        {
          dataDir: this.dataDir,
          messages: this.messages,
          acks: this.acks,
          firstKept,
          count: this.index.count,
          offsetOf: (n) => this.index.location(n).offset,
          timeOf: (n) => this.index.timeOf(n),
          live: (n) => this.index.exists(n),
        },
        opts,
        this.log,
      );
      this.index.shiftOffsets(shift);
      if (this.readFd !== null) fs.closeSync(this.readFd);
      this.readFd = null;
      return removed;
    })();
    this.compacting = run;
    try {
      return await run;
    } finally {
      this.compacting = null;
    }
  }

  /**
   * A consistent copy's sources: each data file open at its length at one instant with no write in
   * flight (later appends, and a later compaction's swap, leave what these descriptors read as it was).
   */
  async snapshot(): Promise<Array<{ name: string; fd: number | null; size: number }>> {
    const open = (name: string, size: number) => ({ name, size, fd: size > 0 ? fs.openSync(path.join(this.dataDir, name), "r") : null });
    return this.messages.exclusive(async (messagesLength) => ({
      result: await this.acks.exclusive(async (acksLength) => ({ result: [open(MESSAGES_FILE, messagesLength), open(ACKS_FILE, acksLength)] })),
    }));
  }

  /** Finish a compaction and queued writes, and close the files. */
  async close(): Promise<void> {
    await this.compacting?.catch(() => undefined);
    await Promise.all([this.messages.close(), this.acks.close()]);
    if (this.readFd !== null) fs.closeSync(this.readFd);
    this.readFd = null;
  }

  /**
   * Messages brought from another bus (`claude-bus import`): new ids in the given order, each its own
   * thread, each at its original time; its `readers` (other than the sender) get acks at that time. One
   * write and one fsync for the messages, one for the acks. Resolves with the new ids.
   */
  async importMessages(list: Array<{ message: NewPost & { ts: string }; readers: string[] }>): Promise<number[]> {
    let ids: number[] = [];
    await this.messages.append(
      () => {
        const first = this.index.count + 1;
        ids = list.map((_, i) => first + i);
        return Buffer.concat(list.map(({ message }, i) => jsonLine(this.newMessage(message, String(ids[i]), message.ts))));
      },
      (offset) => {
        for (const [i, { message }] of list.entries()) {
          const length = jsonLine(this.newMessage(message, String(ids[i]), message.ts)).length;
          this.index.add({
            offset,
            length: length - 1,
            time: Date.parse(message.ts),
            from: message.from,
            to: message.to ?? BROADCAST,
            thread: ids[i],
            tags: message.tags ?? [],
          });
          offset += length;
        }
      },
    );
    const acks = list.flatMap(({ message, readers }, i) =>
      [...new Set(readers)].filter((r) => r !== message.from).map((reader) => ({ n: ids[i], reader, ts: message.ts })),
    );
    if (acks.length > 0) {
      await this.acks.append(
        () => Buffer.concat(acks.map(({ n, reader, ts }) => jsonLine({ id: String(n), reader, ts }))),
        () => {
          for (const { n, reader, ts } of acks) this.index.markRead(n, reader, Date.parse(ts));
        },
      );
    }
    return ids;
  }

  /** The message object a post makes. A reply joins the thread of the one it answers (which exists). */
  private newMessage(input: NewPost, id: string, ts: string): Message {
    const thread = input.reply_to === undefined ? id : String(this.index.threadOf(Number(input.reply_to)));
    return {
      id,
      ts,
      from: input.from,
      to: input.to ?? BROADCAST,
      body: input.body,
      tags: input.tags ?? [],
      read_by: [input.from],
      thread,
      ...(input.reply_to !== undefined && { reply_to: input.reply_to }),
      ...(input.attachments !== undefined && input.attachments.length > 0 && { attachments: input.attachments }),
      ...(input.verified === true && { verified: true as const }),
    };
  }

  private append(input: NewPost, idempotencyKey?: string): Promise<Message> {
    let message: Message;
    return this.messages.append(
      (positionInBatch) => {
        message = this.newMessage(input, String(this.index.count + 1 + positionInBatch), new Date().toISOString());
        return jsonLine(idempotencyKey === undefined ? message : { ...message, idempotency_key: idempotencyKey });
      },
      (offset, length) => {
        const n = Number(message.id);
        const time = Date.parse(message.ts);
        const thread = Number(message.thread);
        this.index.add({ offset, length: length - 1, time, from: message.from, to: message.to, thread, tags: message.tags });
        if (idempotencyKey !== undefined) this.keys.remember(message.from, idempotencyKey, n, time);
        this.listener.posted?.({
          n,
          from: message.from,
          to: message.to,
          thread,
          tags: message.tags,
          time,
          attachments: (message.attachments ?? []).map((a) => a.sha256),
        });
        return { ...message, read_at: this.index.readAt(n) };
      },
    );
  }
}

/** Whether a repeat under the same key asks for the same message. */
function sameRequest(message: Message, input: NewPost): boolean {
  return (
    message.to === (input.to ?? BROADCAST) &&
    message.body === input.body &&
    JSON.stringify(message.tags) === JSON.stringify(input.tags ?? []) &&
    message.reply_to === input.reply_to &&
    JSON.stringify(message.attachments ?? []) === JSON.stringify(input.attachments ?? []) &&
    (message.verified === true) === (input.verified === true)
  );
}

function replay(file: string, onLine: Parameters<typeof readLines>[1]): LinesRead {
  if (!fs.existsSync(file)) return { completeLength: 0, tail: null };
  return readAtStart(file, `it holds the bus's messages or acks: ${READABLE_BY_THE_BUS}, or restore the data dir from a backup (claude-bus restore)`, () =>
    readLines(file, onLine),
  );
}

/** Logs damaged lines (the first few one by one, then a count), never their content. */
function damageLog(log: Log) {
  let count = 0;
  const damage = (file: string, line: number, reason: string) => {
    if (++count <= DAMAGED_LINES_LOGGED) log({ level: "error", msg: "damaged line kept in place and skipped", file, line, reason });
  };
  damage.summary = () => {
    if (count > DAMAGED_LINES_LOGGED) log({ level: "error", msg: "more damaged lines kept in place and skipped", count: count - DAMAGED_LINES_LOGGED });
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
    log({ level: "warn", msg: "torn last line recovered", file: path.basename(file), line: lineNo, bytes: bytes.length, savedTo });
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
    log({
      level: "warn",
      msg: "torn last line kept until the disk takes writes again",
      file: path.basename(file),
      line: lineNo,
      bytes: bytes.length,
      error: (error as Error).message,
    });
    return save; // the first write saves it (if not yet done) and then cuts it off
  }
}
