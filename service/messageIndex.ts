/**
 * Everything about the messages except their bodies, in memory: where each line is in bus.jsonl,
 * sender and recipient (as small ints into a name table), per-recipient, broadcast and per-sender
 * lists, each reader's acked set, and each message's readers. Bodies stay on disk.
 *
 * `select` walks only the list the filters point at (sender list, recipient list merged with
 * broadcasts, or all ids), starting by binary search after `since`, and stops at `limit`. For
 * `unread_by`, a (reader, list) pair gets a NextUnread cursor that jumps over runs of read messages.
 * Cursors live in a cache bounded in bytes (least recently used evicted, rebuilt in O(list) on the next
 * query) and catch up lazily with the messages posted since they were last used, so a post costs the
 * same however many readers ever asked. Cost of a query: O(log n + returned) amortized, plus O(list)
 * once for a cold cursor.
 */
import { BROADCAST } from "../contract/defaults";
import { NextUnread } from "./nextUnread";
import { NumberList } from "./numberList";
import { ReadSet } from "./readSet";

/** An ascending run of message numbers (message n has id String(n)). */
interface Source {
  key: string;
  length: number;
  at(i: number): number;
  lowerBound(n: number): number;
  /** Position of message n in this source, or -1. */
  positionOf(n: number): number;
}

/** A reader's NextUnread over the first `unread.length` positions of one source. */
interface Cursor {
  readerId: number;
  sourceKey: string;
  unread: NextUnread;
}

export interface Selection {
  since: number;
  to?: string;
  from?: string;
  unreadBy?: string;
  limit: number;
}

/** Bytes the unread cursors may hold in all (4 per message of each cursor's list); the newest always stays. */
export const CURSOR_CACHE_BYTES = 32 * 1024 * 1024;
/** Lists shorter than this are scanned directly for `unread_by` (a few hundred microseconds): no cursor to keep. */
export const CURSOR_MIN_LIST = 4_096;

/** A line that holds no message (lost to corruption): its id stays taken, and no query returns it. */
const LOST = -1;

export class MessageIndex {
  private readonly names: string[] = [];
  private readonly nameIds = new Map<string, number>();
  private readonly offsets = new NumberList("float64", 1024);
  private readonly lengths = new NumberList("int32", 1024);
  private readonly senders = new NumberList("int32", 1024);
  private readonly recipients = new NumberList("int32", 1024);
  /** Each message's thread: the id of the first message of its conversation. */
  private readonly threads = new NumberList("int32", 1024);
  /** Conversations with replies: the root, then every reply, ascending. */
  private readonly byThread = new Map<number, NumberList>();
  private readonly byRecipient = new Map<number, NumberList>();
  private readonly bySender = new Map<number, NumberList>();
  private readonly broadcasts = new NumberList();
  private readonly readSets = new Map<number, ReadSet>();
  /** Each message's acks as a linked list: head per message, then reader and next per ack (0 = none). */
  private readonly firstAck = new NumberList("int32", 1024);
  private readonly ackReader = new NumberList("int32", 1024);
  private readonly ackNext = new NumberList("int32", 1024);
  /** Cursors by `${readerId}/${sourceKey}`, least recently used first, and by reader. */
  private readonly cursors = new Map<string, Cursor>();
  private readonly cursorsByReader = new Map<number, Map<string, Cursor>>();
  private cursorBytes = 0;
  private readonly broadcastId = this.intern(BROADCAST);
  private lostCount = 0;

  private readonly cursorCacheBytes: number;
  private readonly cursorMinList: number;

  /** The cursor cache's budget and the shortest list that gets a cursor (tests force cursors on small lists). */
  constructor(opts: { cursorCacheBytes?: number; cursorMinList?: number } = {}) {
    this.cursorCacheBytes = opts.cursorCacheBytes ?? CURSOR_CACHE_BYTES;
    this.cursorMinList = opts.cursorMinList ?? CURSOR_MIN_LIST;
    this.ackReader.push(0); // ack 0 is the "none" sentinel
    this.ackNext.push(0);
  }

  /** The highest id assigned. */
  get count(): number {
    return this.offsets.length;
  }

  /** Memory the cached unread cursors take now, in bytes. */
  get cursorMemory(): number {
    return this.cursorBytes;
  }

  /** Messages that can be read (ids lost to corruption are not). */
  get live(): number {
    return this.count - this.lostCount;
  }

  /** Record message number count+1; `thread` is its conversation's first message (itself when it starts one). */
  add(offset: number, length: number, from: string, to: string, thread = this.count + 1): void {
    const n = this.count + 1;
    const fromId = this.intern(from);
    const toId = this.intern(to);
    this.offsets.push(offset);
    this.lengths.push(length);
    this.senders.push(fromId);
    this.recipients.push(toId);
    this.threads.push(thread);
    this.firstAck.push(0);
    if (thread !== n) getOrCreate(this.byThread, thread, () => listOf(thread)).push(n);
    if (toId === this.broadcastId) this.broadcasts.push(n);
    else getOrCreate(this.byRecipient, toId, () => new NumberList()).push(n);
    getOrCreate(this.bySender, fromId, () => new NumberList()).push(n);
  }

  /** Take id count+1 for a message that cannot be read, so ids never repeat. */
  addLost(): void {
    this.offsets.push(LOST);
    this.lengths.push(0);
    this.senders.push(LOST);
    this.recipients.push(LOST);
    this.threads.push(this.count);
    this.firstAck.push(0);
    this.lostCount++;
  }

  /** Whether message n exists and can be read. */
  exists(n: number): boolean {
    return Number.isSafeInteger(n) && n >= 1 && n <= this.count && this.offsets.get(n - 1) !== LOST;
  }

  /** The first message of n's conversation. */
  threadOf(n: number): number {
    return this.threads.get(n - 1);
  }

  location(n: number): { offset: number; length: number } {
    return { offset: this.offsets.get(n - 1), length: this.lengths.get(n - 1) };
  }

  /** Has `reader` read message n (acked it, or sent it)? */
  isRead(n: number, reader: string): boolean {
    const id = this.nameIds.get(reader);
    return id !== undefined && this.isReadBy(n, id);
  }

  /** Mark n read by reader (nothing changes if it already was). */
  markRead(n: number, reader: string): void {
    if (this.isRead(n, reader)) return;
    const id = this.intern(reader);
    getOrCreate(this.readSets, id, () => new ReadSet()).add(n);
    this.ackReader.push(id);
    this.ackNext.push(this.firstAck.get(n - 1));
    this.firstAck.set(n - 1, this.ackReader.length - 1);
    // Only this reader's cursors, and only positions they already cover: the rest catch up when used.
    for (const cursor of this.cursorsByReader.get(id)?.values() ?? []) {
      const position = this.source(cursor.sourceKey).positionOf(n);
      if (position >= 0 && position < cursor.unread.length) cursor.unread.markRead(position);
    }
  }

  /** The sender first, then every reader that acked n, in the order they acked: O(readers of n). */
  readBy(n: number): string[] {
    const readers: string[] = [];
    for (let ack = this.firstAck.get(n - 1); ack !== 0; ack = this.ackNext.get(ack)) readers.push(this.names[this.ackReader.get(ack)]);
    return [this.names[this.senders.get(n - 1)], ...readers.reverse()];
  }

  select(q: Selection): number[] {
    const fromId = q.from === undefined ? undefined : this.nameIds.get(q.from);
    if (q.from !== undefined && fromId === undefined) return [];
    const toId = q.to === undefined ? undefined : this.nameIds.get(q.to) ?? -1;
    const readerId = q.unreadBy === undefined ? undefined : this.nameIds.get(q.unreadBy) ?? -1;

    let sources: Source[];
    if (fromId !== undefined) sources = [this.source(`from:${fromId}`)];
    else if (toId !== undefined) {
      sources = [this.source("any")];
      if (this.byRecipient.has(toId)) sources.push(this.source(`to:${toId}`));
    } else sources = [this.source("all")];

    // Per source: the next candidate position, skipping what the reader has read. A short list is
    // scanned directly; a long one through the reader's cursor, which jumps over read runs.
    const known = readerId !== undefined && readerId >= 0;
    const unread = sources.map((s) => (known && s.length >= this.cursorMinList ? this.cursor(readerId, s).unread : null));
    const advance = (i: number, p: number) => {
      const cursor = unread[i];
      if (cursor) return cursor.find(p);
      if (known) while (p < sources[i].length && this.isReadBy(sources[i].at(p), readerId)) p++;
      return p;
    };
    const first = q.since + 1;
    const positions = sources.map((s, i) => advance(i, s.lowerBound(first)));

    const result: number[] = [];
    while (result.length < q.limit) {
      let best = -1;
      for (let i = 0; i < sources.length; i++) {
        if (positions[i] < sources[i].length && (best < 0 || sources[i].at(positions[i]) < sources[best].at(positions[best]))) best = i;
      }
      if (best < 0) break;
      const n = sources[best].at(positions[best]);
      positions[best] = advance(best, positions[best] + 1);
      if (this.offsets.get(n - 1) === LOST) continue;
      if (fromId !== undefined && toId !== undefined) {
        const recipient = this.recipients.get(n - 1);
        if (recipient !== toId && recipient !== this.broadcastId) continue;
      }
      result.push(n);
    }
    return result;
  }

  /** The reader's cursor over a source: from the cache, caught up with new messages, or built. */
  private cursor(readerId: number, source: Source): Cursor {
    const key = `${readerId}/${source.key}`;
    const cached = this.cursors.get(key);
    if (cached) this.forget(key, cached); // put back below as the most recently used
    const cursor = cached ?? { readerId, sourceKey: source.key, unread: new NextUnread(source.length) };
    for (let p = cursor.unread.length; p < source.length; p++) cursor.unread.append(this.isReadBy(source.at(p), readerId));
    this.cursors.set(key, cursor);
    getOrCreate(this.cursorsByReader, readerId, () => new Map()).set(key, cursor);
    this.cursorBytes += cursorCost(cursor);
    // Least recently used first, never the one in hand.
    for (const [oldKey, old] of this.cursors) {
      if (this.cursorBytes <= this.cursorCacheBytes || oldKey === key) break;
      this.forget(oldKey, old);
    }
    return cursor;
  }

  private forget(key: string, cursor: Cursor): void {
    this.cursors.delete(key);
    const mine = this.cursorsByReader.get(cursor.readerId)!;
    mine.delete(key);
    if (mine.size === 0) this.cursorsByReader.delete(cursor.readerId);
    this.cursorBytes -= cursorCost(cursor);
  }

  private isReadBy(n: number, readerId: number): boolean {
    const sender = this.senders.get(n - 1);
    if (sender === readerId || sender === LOST) return true;
    const set = this.readSets.get(readerId);
    return set !== undefined && set.has(n);
  }

  private intern(name: string): number {
    let id = this.nameIds.get(name);
    if (id === undefined) {
      id = this.names.length;
      this.names.push(name);
      this.nameIds.set(name, id);
    }
    return id;
  }

  /** "all", "any" (broadcasts), "to:<nameId>" or "from:<nameId>". */
  private source(key: string): Source {
    if (key === "all") {
      const count = this.count;
      return { key, length: count, at: (i) => i + 1, lowerBound: (n) => Math.min(Math.max(n - 1, 0), count), positionOf: (n) => n - 1 };
    }
    const byName = key.startsWith("to:") ? this.byRecipient : this.bySender;
    const list = key === "any" ? this.broadcasts : byName.get(Number(key.slice(key.indexOf(":") + 1))) ?? EMPTY;
    return {
      key,
      length: list.length,
      at: (i) => list.get(i),
      lowerBound: (n) => list.lowerBound(n),
      positionOf: (n) => {
        const p = list.lowerBound(n);
        return p < list.length && list.get(p) === n ? p : -1;
      },
    };
  }
}

const EMPTY = new NumberList("int32", 1);

/** A cursor's memory: its array, plus what its map entries and object take. */
const cursorCost = (cursor: Cursor) => cursor.unread.byteLength + 256;

function listOf(first: number): NumberList {
  const list = new NumberList();
  list.push(first);
  return list;
}

function getOrCreate<K, V>(map: Map<K, V>, key: K, make: () => V): V {
  let value = map.get(key);
  if (value === undefined) map.set(key, (value = make()));
  return value;
}
