import * as fs from "fs";
import { promises as fsp } from "fs";
import * as path from "path";
import { z } from "zod";
import { describeIssue } from "../contract/issues";
import { AckRecordSchema, BROADCAST, Message, MessageSchema, NewMessage } from "../contract/message";
import { AppendLog, StorageError } from "./appendLog";
import { jsonLine, replayJsonl } from "./jsonl";
import { MessageIndex, Selection } from "./messageIndex";

export const MESSAGES_FILE = "bus.jsonl";
export const ACKS_FILE = "acks.jsonl";

type Log = (level: "info" | "warn" | "error", msg: string, fields?: Record<string, unknown>) => void;

/**
 * The durable store: bus.jsonl holds one line per message, exactly the object POST /post
 * returned (read_by is [sender] there; later acks are not rewritten into it). acks.jsonl
 * holds one line per ack, {"id","reader","ts"}. Both are append-only with group commit;
 * nothing is acknowledged before its fsync. Metadata is indexed in memory, bodies are read
 * back from bus.jsonl with pread on demand.
 */
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

  static async open(dataDir: string, log: Log): Promise<BusStore> {
    const index = new MessageIndex();
    const messagesPath = path.join(dataDir, MESSAGES_FILE);
    const acksPath = path.join(dataDir, ACKS_FILE);
    const started = Date.now();

    const messagesLength = await replayFile(messagesPath, log, (text, offset, length) => {
      const m = parseLine(MessageSchema, text);
      if (m.id !== String(index.count + 1)) throw new Error(`id ${m.id} where ${index.count + 1} was expected`);
      index.add(offset, length, m.from, m.to);
    });
    const acksLength = await replayFile(acksPath, log, (text) => {
      const a = parseLine(AckRecordSchema, text);
      const n = Number(a.id);
      if (n > index.count) throw new Error(`ack of message ${a.id}, which does not exist`);
      index.markRead(n, a.reader);
    });
    log("info", "store replayed", { dataDir, messages: index.count, ms: Date.now() - started });

    const messages = new AppendLog(messagesPath, messagesLength, MESSAGES_FILE);
    const acks = new AppendLog(acksPath, acksLength, ACKS_FILE);
    return new BusStore(index, messages, acks, messagesPath);
  }

  get count(): number {
    return this.index.count;
  }

  /** Append a message; resolves with it once it is on disk. Ids follow commit order. */
  post(input: NewMessage): Promise<Message> {
    let message: Message;
    return this.messages.append(
      (positionInBatch) => {
        message = {
          id: String(this.index.count + 1 + positionInBatch),
          ts: new Date().toISOString(),
          from: input.from,
          to: input.to ?? BROADCAST,
          body: input.body,
          tags: input.tags ?? [],
          read_by: [input.from],
        };
        return jsonLine(message);
      },
      (offset, length) => {
        this.index.add(offset, length - 1, message.from, message.to);
        return message;
      },
    );
  }

  /** Record that reader read message n. Returns null for an unknown id. */
  async ack(n: number, reader: string): Promise<{ already: boolean } | null> {
    if (!Number.isSafeInteger(n) || n < 1 || n > this.index.count) return null;
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

  select(q: Selection): Message[] {
    return this.index.select(q).map((n) => this.read(n));
  }

  /** Finish queued writes and close the files. */
  async close(): Promise<void> {
    await Promise.all([this.messages.close(), this.acks.close()]);
    if (this.readFd !== null) fs.closeSync(this.readFd);
    this.readFd = null;
  }

  private read(n: number): Message {
    const { offset, length } = this.index.location(n);
    const buf = Buffer.allocUnsafe(length);
    this.readFd ??= fs.openSync(this.messagesPath, "r");
    let got = 0;
    while (got < length) {
      const r = fs.readSync(this.readFd, buf, got, length - got, offset + got);
      if (r === 0) throw new StorageError(`${MESSAGES_FILE} is shorter than its index (message ${n})`);
      got += r;
    }
    const message = JSON.parse(buf.toString("utf8")) as Message;
    message.read_by = this.index.readBy(n);
    return message;
  }
}

/**
 * Replay one file (created empty if missing). A torn last line is saved beside the file
 * (name.torn-<time>) and cut off, so the next append starts on a line boundary.
 */
async function replayFile(
  file: string,
  log: Log,
  onLine: (text: string, offset: number, length: number) => void,
): Promise<number> {
  if (!fs.existsSync(file)) return 0;
  const result = replayJsonl(file, onLine);
  if (result.torn) {
    const saved = `${file}.torn-${new Date().toISOString().replace(/[:.]/g, "-")}`;
    // 0600 like the logs themselves: the torn bytes are part of a message body.
    await fsp.writeFile(saved, result.torn.bytes, { mode: 0o600, flag: "wx" });
    const handle = await fsp.open(file, "r+");
    await handle.truncate(result.goodLength);
    await handle.datasync();
    await handle.close();
    log("warn", "torn last line recovered", {
      file: path.basename(file),
      line: result.torn.lineNo,
      bytes: result.torn.bytes.length,
      savedTo: saved,
    });
  }
  return result.goodLength;
}

function parseLine<T extends z.ZodType>(schema: T, text: string): z.infer<T> {
  const result = schema.safeParse(JSON.parse(text));
  if (!result.success) throw new Error(describeIssue(result.error.issues[0], { root: "line" }));
  return result.data;
}
