/**
 * Who is on the bus (GET /machines): per name, when it last posted, acked, and was named by any request
 * (`from`, `reader`, `to`, `unread_by`), and when its own credential was last used. Posts and acks come
 * from the store (and its replay); `last_seen` and `last_used` are kept in presence.json in the data dir,
 * written at most every few seconds and at shutdown, so they survive a restart. Names only ever asked
 * about are bounded: the most recent ones are kept.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { z } from "zod";
import type { Machine, MachineCredential } from "../../contract/message";
import { MachineName } from "../../contract/names";
import { writeFileDurably } from "../../contract/durableFile";
import { parseJson } from "../store/jsonl";
import { READABLE_BY_THE_BUS, readAtStart } from "../store/startupFile";
import type { Log } from "../log";

export const PRESENCE_FILE = "presence.json";
/** How often a changed last_seen is saved, in ms. */
export const PRESENCE_SAVE_MS = 5_000;
/** Names seen only in requests (never in a post or ack) that are remembered, most recent first. */
export const MAX_UNSTORED_NAMES = 1_000;

interface Seen {
  lastPost: number;
  lastAck: number;
  lastSeen: number;
  lastUsed: number;
}

/** Each name's last_seen, or [last_seen, last_used] once its credential was used. */
const SavedSchema = z.record(MachineName, z.union([z.number(), z.tuple([z.number(), z.number()])]));

/** What GET /machines shows of machines' own credentials (the membership). */
export interface CredentialView {
  names(): string[];
  credentialOf(name: string, lastUsed: number | null): MachineCredential | null;
}

export class Presence {
  private readonly seen = new Map<string, Seen>();
  /** Names the store holds data of: never dropped. */
  private readonly stored = new Set<string>();
  /** Names that posted, by their lower-case form (for look-alikes, see nameRules.ts). */
  private readonly senders = new Map<string, Set<string>>();
  /** How many of `seen` are not in `stored`. */
  private unstored = 0;
  private dirty = false;
  private timer: NodeJS.Timeout | null = null;

  private constructor(private readonly file: string | null) {}

  /**
   * Presence for a data dir: last_seen from its presence.json. A missing file starts empty, and so does a
   * damaged one, with a warning: these are times shown to people, not data, and never worth a bus that
   * cannot start.
   */
  static load(dataDir: string | null, log: Log): Presence {
    const presence = new Presence(dataDir === null ? null : path.join(dataDir, PRESENCE_FILE));
    if (presence.file && fs.existsSync(presence.file)) {
      const file = presence.file;
      const text = readAtStart(file, `it holds only when each machine was last seen: ${READABLE_BY_THE_BUS}, or remove it`, () =>
        fs.readFileSync(file, "utf8"),
      );
      const saved = SavedSchema.safeParse(parseJson(text.trim() || "{}"));
      if (!saved.success) log({ level: "warn", msg: "presence.json is damaged: last_seen and last_used start empty", file: presence.file });
      else {
        for (const [name, times] of Object.entries(saved.data)) {
          const entry = presence.entry(name);
          [entry.lastSeen, entry.lastUsed] = typeof times === "number" ? [times, 0] : times;
          if (entry.lastUsed > 0) presence.store(name);
        }
      }
    }
    return presence;
  }

  /** A post by `from` to `to` (which names `to`, so it was seen then too). */
  posted(from: string, to: string, time: number): void {
    const folded = from.toLowerCase();
    if (!this.senders.has(folded)) this.senders.set(folded, new Set());
    this.senders.get(folded)!.add(from);
    const entry = this.entry(from);
    this.store(from);
    entry.lastPost = Math.max(entry.lastPost, time);
    this.sawAt(entry, time);
    if (to !== "any") {
      this.store(to);
      this.sawAt(this.entry(to), time);
    }
  }

  acked(name: string, time: number): void {
    const entry = this.entry(name);
    this.store(name);
    entry.lastAck = Math.max(entry.lastAck, time);
    this.sawAt(entry, time);
  }

  /** A machine's own credential worked now. */
  used(name: string, time: number): void {
    const entry = this.entry(name);
    this.store(name);
    if (time > entry.lastUsed) {
      entry.lastUsed = time;
      this.dirty = true;
    }
  }

  /** Whether `name` ever posted (in the store's data). */
  hasPosted(name: string): boolean {
    return this.senders.get(name.toLowerCase())?.has(name) ?? false;
  }

  /** The names that posted and differ from `name` only in case. */
  caseTwins(name: string): string[] {
    return [...(this.senders.get(name.toLowerCase()) ?? [])].filter((other) => other !== name);
  }

  /** A request named these machines now. */
  named(names: Array<string | undefined>, now = Date.now()): void {
    for (const name of names) if (name !== undefined && name !== "any") this.sawAt(this.entry(name), now);
    this.bound();
  }

  /** Every name seen or enrolled, sorted, with its times, the unread count the store gives and its credential. */
  machines(unread: (name: string) => number, credentials: CredentialView): Machine[] {
    const iso = (t: number) => (t > 0 ? new Date(t).toISOString() : null);
    const none: Seen = { lastPost: 0, lastAck: 0, lastSeen: 0, lastUsed: 0 };
    return [...new Set([...this.seen.keys(), ...credentials.names()])].sort().map((name) => {
      const e = this.seen.get(name) ?? none;
      const credential = credentials.credentialOf(name, e.lastUsed || null);
      return { name, last_post: iso(e.lastPost), last_ack: iso(e.lastAck), last_seen: iso(e.lastSeen), unread: unread(name), credential };
    });
  }

  /** Saves a changed last_seen now and then (and on close); a failed save is retried later. */
  startSaving(log: Log): void {
    this.timer = setInterval(
      () => this.save().catch((error: Error) => log({ level: "warn", msg: "presence not saved", error: error.message })),
      PRESENCE_SAVE_MS,
    );
    this.timer.unref();
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.save().catch(() => undefined); // a read-only data dir: presence is best effort
  }

  private entry(name: string): Seen {
    let e = this.seen.get(name);
    if (!e) {
      e = { lastPost: 0, lastAck: 0, lastSeen: 0, lastUsed: 0 };
      this.seen.set(name, e);
      if (!this.stored.has(name)) this.unstored++;
    }
    return e;
  }

  private store(name: string): void {
    if (this.stored.has(name)) return;
    this.stored.add(name);
    if (this.seen.has(name)) this.unstored--;
  }

  private sawAt(entry: Seen, time: number): void {
    if (time > entry.lastSeen) {
      entry.lastSeen = time;
      this.dirty = true;
    }
  }

  /** Keeps the most recently seen of the names that hold no data (trimmed by a tenth at a time, so rarely). */
  private bound(): void {
    if (this.unstored <= MAX_UNSTORED_NAMES) return;
    const unstored = [...this.seen].filter(([name]) => !this.stored.has(name)).sort(([, a], [, b]) => a.lastSeen - b.lastSeen);
    for (const [name] of unstored.slice(0, unstored.length - Math.floor(MAX_UNSTORED_NAMES * 0.9))) this.seen.delete(name);
    this.unstored = Math.min(unstored.length, Math.floor(MAX_UNSTORED_NAMES * 0.9));
  }

  /** presence.json's content: each name's last_seen (and last_used, when it has one). */
  serialize(): string {
    return `${JSON.stringify(Object.fromEntries([...this.seen].map(([name, e]) => [name, e.lastUsed > 0 ? [e.lastSeen, e.lastUsed] : e.lastSeen])))}\n`;
  }

  private async save(): Promise<void> {
    if (!this.dirty || !this.file) return;
    this.dirty = false;
    try {
      await writeFileDurably(this.file, this.serialize());
    } catch (error) {
      this.dirty = true;
      throw error;
    }
  }
}
