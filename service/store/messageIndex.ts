/**
 * Everything about the messages except their bodies, in memory: where each line is in bus.jsonl, when
 * it was posted, sender and recipient (as small ints into a name table), its thread and tags, lists by
 * recipient, broadcast, sender, thread and tag, each reader's acked set, each message's readers, and per
 * name the counts that make its unread total. Bodies stay on disk.
 *
 * `select` walks the shortest list the filters allow (one sender, one tag, one thread, one recipient's
 * list merged with broadcasts, or all ids), starting by binary search after `since`, checks the other
 * filters on each candidate, and stops at `limit`. For `unread_by` on a long list, a (reader, list) pair
 * gets a NextUnread cursor that jumps over runs of read messages. Cursors live in a cache bounded in
 * bytes (least recently used evicted, rebuilt in O(list) on the next query) and catch up lazily with the
 * messages posted since they were last used, so a post costs the same however many readers ever asked.
 *
 * Ids run from `base` (the oldest kept after a compaction, 1 before any) to `count`; an id whose message
 * was lost to damage or removed by retention stays taken and is never returned.
 */
import { BROADCAST } from "../../contract/defaults";
import { NextUnread } from "./nextUnread";
import { NumberList } from "./numberList";
import { ReadSet } from "./readSet";
import { getOrCreate } from "../../contract/maps";

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
  tag?: string;
  thread?: number;
  limit: number;
}

export interface IndexedMessage {
  offset: number;
  length: number;
  /** When it was posted, in ms since the epoch. */
  time: number;
  from: string;
  to: string;
  /** The first message of its conversation (itself when it starts one). */
  thread: number;
  tags: readonly string[];
}

/** Bytes the unread cursors may hold in all (4 per message of each cursor's list); the newest always stays. */
export const CURSOR_CACHE_BYTES = 32 * 1024 * 1024;
/** Lists shorter than this are scanned directly for `unread_by` (well under a millisecond): no cursor to keep. */
export const CURSOR_MIN_LIST = 4_096;

/** A time in ms as ISO-8601, or null when it is not a time. */
const iso = (time: number): string | null => (Number.isFinite(time) ? new Date(time).toISOString() : null);

/** The offset of an id that holds no message any more (lost to damage, or removed by retention). */
const GONE = -1;

export class MessageIndex {
  private readonly names: string[] = [];
  private readonly nameIds = new Map<string, number>();
  private readonly tagIds = new Map<string, number>();
  /** Message n is at index n - base of the arrays below. */
  private base = 1;
  private readonly offsets = new NumberList("float64", 1024);
  private readonly lengths = new NumberList("int32", 1024);
  private readonly times = new NumberList("float64", 1024);
  private readonly senders = new NumberList("int32", 1024);
  private readonly recipients = new NumberList("int32", 1024);
  private readonly threads = new NumberList("int32", 1024);
  private readonly firstAck = new NumberList("int32", 1024);
  private readonly byRecipient = new Map<number, NumberList>();
  private readonly bySender = new Map<number, NumberList>();
  private readonly byThread = new Map<number, NumberList>();
  private readonly byTag = new Map<number, NumberList>();
  private readonly broadcasts = new NumberList();
  private readonly readSets = new Map<number, ReadSet>();
  /** Each message's acks as a linked list: reader, time (ms; NaN when unknown) and next per ack (ack 0 is the "none" sentinel). */
  private readonly ackReader = new NumberList("int32", 1024);
  private readonly ackTime = new NumberList("float64", 1024);
  private readonly ackNext = new NumberList("int32", 1024);
  /** Per name: messages to it from others, broadcasts it sent, and its acks of each kind. */
  private readonly directIn = new Map<number, number>();
  private readonly broadcastsFrom = new Map<number, number>();
  private readonly ackedDirect = new Map<number, number>();
  private readonly ackedBroadcasts = new Map<number, number>();
  private broadcastsLive = 0;
  private goneCount = 0;
  /** Cursors by `${readerId}/${sourceKey}`, least recently used first, and by reader. */
  private readonly cursors = new Map<string, Cursor>();
  private readonly cursorsByReader = new Map<number, Map<string, Cursor>>();
  private cursorBytes = 0;
  private readonly broadcastId = this.intern(BROADCAST);
  private readonly cursorCacheBytes: number;
  private readonly cursorMinList: number;

  /** The cursor cache's budget and the shortest list that gets a cursor (tests force cursors on small lists). */
  constructor(opts: { cursorCacheBytes?: number; cursorMinList?: number } = {}) {
    this.cursorCacheBytes = opts.cursorCacheBytes ?? CURSOR_CACHE_BYTES;
    this.cursorMinList = opts.cursorMinList ?? CURSOR_MIN_LIST;
    this.ackReader.push(0);
    this.ackTime.push(0);
    this.ackNext.push(0);
  }

  /** The highest id assigned. */
  get count(): number {
    return this.base - 1 + this.offsets.length;
  }

  /** Messages that can be read. */
  get live(): number {
    return this.offsets.length - this.goneCount;
  }

  /** The oldest id that holds a message, or undefined when none does. */
  get oldest(): number | undefined {
    for (let n = this.base; n <= this.count; n++) if (this.exists(n)) return n;
    return undefined;
  }

  /** Memory the cached unread cursors take now, in bytes. */
  get cursorMemory(): number {
    return this.cursorBytes;
  }

  /** Ids below `firstId` were removed before this start (a compacted store): only before the first add. */
  startAt(firstId: number): void {
    if (this.offsets.length > 0) throw new Error("startAt after the first message");
    this.base = Math.max(1, firstId);
  }

  /** Record message number count+1. */
  add(m: IndexedMessage): void {
    const n = this.count + 1;
    const fromId = this.intern(m.from);
    const toId = this.intern(m.to);
    this.offsets.push(m.offset);
    this.lengths.push(m.length);
    this.times.push(m.time);
    this.senders.push(fromId);
    this.recipients.push(toId);
    this.threads.push(m.thread);
    this.firstAck.push(0);
    if (m.thread !== n) getOrCreate(this.byThread, m.thread, () => listOf(m.thread)).push(n);
    for (const tag of new Set(m.tags)) getOrCreate(this.byTag, this.internTag(tag), () => new NumberList()).push(n);
    getOrCreate(this.bySender, fromId, () => new NumberList()).push(n);
    if (toId === this.broadcastId) {
      this.broadcasts.push(n);
      this.broadcastsLive++;
      bump(this.broadcastsFrom, fromId, 1);
    } else {
      getOrCreate(this.byRecipient, toId, () => new NumberList()).push(n);
      if (toId !== fromId) bump(this.directIn, toId, 1);
    }
  }

  /** Take id count+1 for a message that cannot be read, so ids never repeat. */
  addLost(): void {
    this.offsets.push(GONE);
    this.lengths.push(0);
    this.times.push(this.times.length > 0 ? this.times.get(this.times.length - 1) : 0); // keeps times ascending
    this.senders.push(GONE);
    this.recipients.push(GONE);
    this.threads.push(this.count);
    this.firstAck.push(0);
    this.goneCount++;
  }

  /** Whether message n exists and can be read. */
  exists(n: number): boolean {
    return Number.isSafeInteger(n) && n >= this.base && n <= this.count && this.offsets.get(n - this.base) !== GONE;
  }

  threadOf(n: number): number {
    return this.threads.get(n - this.base);
  }

  /** When message n was posted (ms since the epoch); 0 for an id outside the index. */
  timeOf(n: number): number {
    return n >= this.base && n <= this.count ? this.times.get(n - this.base) : 0;
  }

  location(n: number): { offset: number; length: number } {
    return { offset: this.offsets.get(n - this.base), length: this.lengths.get(n - this.base) };
  }

  /**
   * The first id from the oldest on whose message was posted at or after `time`: every message before it
   * is older. A forward scan, not a search: imported messages may be older than ids before them.
   */
  firstAtOrAfter(time: number): number {
    let n = this.base;
    while (n <= this.count && this.times.get(n - this.base) < time) n++;
    return n;
  }

  /**
   * Retention: messages below `firstKept` are gone from now on (their acks with them). Their memory is
   * given back at the next start; the unread counts and cursors follow at once.
   */
  removeBefore(firstKept: number): number {
    let removed = 0;
    for (let n = this.base; n < Math.min(firstKept, this.count + 1); n++) {
      if (!this.exists(n)) continue;
      const i = n - this.base;
      const sender = this.senders.get(i);
      const recipient = this.recipients.get(i);
      for (let ack = this.firstAck.get(i); ack !== 0; ack = this.ackNext.get(ack)) this.countAck(sender, recipient, this.ackReader.get(ack), -1);
      if (recipient === this.broadcastId) {
        this.broadcastsLive--;
        bump(this.broadcastsFrom, sender, -1);
      } else if (recipient !== sender) bump(this.directIn, recipient, -1);
      this.offsets.set(i, GONE);
      this.goneCount++;
      removed++;
    }
    for (const [key, cursor] of this.cursors) this.forget(key, cursor);
    return removed;
  }

  /** After the store's file was rewritten without its first `bytes`: every kept message moved down by that. */
  shiftOffsets(bytes: number): void {
    for (let i = 0; i < this.offsets.length; i++) {
      const offset = this.offsets.get(i);
      if (offset !== GONE) this.offsets.set(i, offset - bytes);
    }
  }

  /** Has `reader` read message n (acked it, or sent it)? */
  isRead(n: number, reader: string): boolean {
    const id = this.nameIds.get(reader);
    return id !== undefined && this.isReadBy(n, id);
  }

  /** Mark n read by reader at `time` (ms; NaN when unknown); nothing changes if it already was. */
  markRead(n: number, reader: string, time = Number.NaN): void {
    if (this.isRead(n, reader)) return;
    const id = this.intern(reader);
    const i = n - this.base;
    getOrCreate(this.readSets, id, () => new ReadSet()).add(n);
    this.ackReader.push(id);
    this.ackTime.push(time);
    this.ackNext.push(this.firstAck.get(i));
    this.firstAck.set(i, this.ackReader.length - 1);
    this.countAck(this.senders.get(i), this.recipients.get(i), id, 1);
    // Only this reader's cursors, and only positions they already cover: the rest catch up when used.
    for (const cursor of this.cursorsByReader.get(id)?.values() ?? []) {
      const position = this.source(cursor.sourceKey).positionOf(n);
      if (position >= 0 && position < cursor.unread.length) cursor.unread.markRead(position);
    }
  }

  /** The sender first, then every reader that acked n, in the order they acked: O(readers of n). */
  readBy(n: number): string[] {
    const readers: string[] = [];
    for (let ack = this.firstAck.get(n - this.base); ack !== 0; ack = this.ackNext.get(ack)) readers.push(this.names[this.ackReader.get(ack)]);
    return [this.names[this.senders.get(n - this.base)], ...readers.reverse()];
  }

  /**
   * When each of `read_by` read n: the sender when it posted, each reader when it acked (null when its ack
   * line holds no readable time). O(readers of n), like readBy.
   */
  readAt(n: number): Record<string, string | null> {
    const i = n - this.base;
    const at: Record<string, string | null> = { [this.names[this.senders.get(i)]]: iso(this.times.get(i)) };
    const acks: Array<[string, string | null]> = [];
    for (let ack = this.firstAck.get(i); ack !== 0; ack = this.ackNext.get(ack)) acks.push([this.names[this.ackReader.get(ack)], iso(this.ackTime.get(ack))]);
    for (const [reader, time] of acks.reverse()) at[reader] ??= time;
    return at;
  }

  /** When `reader` acked n (ms; NaN when unknown), or undefined when it has not (the sender never acks its own). */
  ackTimeOf(n: number, reader: string): number | undefined {
    const id = this.nameIds.get(reader);
    if (id === undefined) return undefined;
    for (let ack = this.firstAck.get(n - this.base); ack !== 0; ack = this.ackNext.get(ack)) if (this.ackReader.get(ack) === id) return this.ackTime.get(ack);
    return undefined;
  }

  /** Every machine name in the stored data: senders, recipients and readers ("any" is none). */
  machineNames(): string[] {
    return this.names.filter((name) => name !== BROADCAST);
  }

  /** Messages to `name` (or to everyone) from others that it has not acked: O(1). */
  unreadCount(name: string): number {
    const id = this.nameIds.get(name);
    if (id === undefined) return this.broadcastsLive;
    const get = (map: Map<number, number>) => map.get(id) ?? 0;
    return get(this.directIn) - get(this.ackedDirect) + this.broadcastsLive - get(this.broadcastsFrom) - get(this.ackedBroadcasts);
  }

  /** Whether message n passes every filter of `q` (long-poll waiters ask this of each new message). */
  matches(n: number, q: Omit<Selection, "limit">): boolean {
    if (n <= q.since || !this.exists(n)) return false;
    const i = n - this.base;
    if (q.from !== undefined && this.senders.get(i) !== this.nameIds.get(q.from)) return false;
    if (q.to !== undefined) {
      const recipient = this.recipients.get(i);
      if (recipient !== this.broadcastId && recipient !== this.nameIds.get(q.to)) return false;
    }
    if (q.thread !== undefined && this.threads.get(i) !== q.thread) return false;
    if (q.tag !== undefined) {
      const tagId = this.tagIds.get(q.tag);
      if (tagId === undefined || positionIn(this.byTag.get(tagId)!, n) < 0) return false;
    }
    if (q.unreadBy !== undefined && this.isRead(n, q.unreadBy)) return false;
    return true;
  }

  select(q: Selection): number[] {
    const candidates = this.candidates(q);
    if (!candidates) return [];
    const { sources, primary } = candidates;
    const readerId = q.unreadBy === undefined ? undefined : (this.nameIds.get(q.unreadBy) ?? -1);
    const known = readerId !== undefined && readerId >= 0;
    // Per source: the next candidate position, skipping what the reader has read. A short list is
    // scanned directly; a long one through the reader's cursor, which jumps over read runs.
    const unread = sources.map((s) => (known && s.length >= this.cursorMinList ? this.cursor(readerId, s).unread : null));
    const advance = (i: number, p: number) => {
      const cursor = unread[i];
      if (cursor) return cursor.find(p);
      if (known) while (p < sources[i].length && this.isReadBy(sources[i].at(p), readerId)) p++;
      return p;
    };
    const positions = sources.map((s, i) => advance(i, s.lowerBound(q.since + 1)));
    // The filters the chosen list does not already guarantee.
    const rest = { ...q, since: 0, unreadBy: undefined, [primary]: undefined };

    const result: number[] = [];
    while (result.length < q.limit) {
      let best = -1;
      for (let i = 0; i < sources.length; i++) {
        if (positions[i] < sources[i].length && (best < 0 || sources[i].at(positions[i]) < sources[best].at(positions[best]))) best = i;
      }
      if (best < 0) break;
      const n = sources[best].at(positions[best]);
      positions[best] = advance(best, positions[best] + 1);
      if (this.matches(n, rest)) result.push(n);
    }
    return result;
  }

  /** The shortest list that holds every answer to `q`, and which filter it stands for; null when none can match. */
  private candidates(q: Selection): { sources: Source[]; primary: "from" | "tag" | "thread" | "to" | "all" } | null {
    const options: Array<{ sources: Source[]; primary: "from" | "tag" | "thread" | "to" | "all" }> = [];
    if (q.from !== undefined) {
      const id = this.nameIds.get(q.from);
      if (id === undefined) return null;
      options.push({ sources: [this.source(`from:${id}`)], primary: "from" });
    }
    if (q.tag !== undefined) {
      const id = this.tagIds.get(q.tag);
      if (id === undefined) return null;
      options.push({ sources: [this.source(`tag:${id}`)], primary: "tag" });
    }
    if (q.thread !== undefined) {
      if (q.thread < this.base || q.thread > this.count) return null;
      options.push({ sources: [this.source(`thread:${q.thread}`)], primary: "thread" });
    }
    if (q.to !== undefined) {
      const id = this.nameIds.get(q.to);
      const lists = [this.source("any"), ...(id !== undefined && this.byRecipient.has(id) ? [this.source(`to:${id}`)] : [])];
      options.push({ sources: lists, primary: "to" });
    }
    options.push({ sources: [this.source("all")], primary: "all" });
    const size = (o: (typeof options)[number]) => o.sources.reduce((sum, s) => sum + s.length, 0);
    return options.reduce((best, o) => (size(o) < size(best) ? o : best));
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

  /** An ack of a message (by sender, to recipient) counts toward its reader's unread total either way. */
  private countAck(sender: number, recipient: number, reader: number, by: 1 | -1): void {
    if (reader === sender) return;
    if (recipient === this.broadcastId) bump(this.ackedBroadcasts, reader, by);
    else if (recipient === reader) bump(this.ackedDirect, reader, by);
  }

  private isReadBy(n: number, readerId: number): boolean {
    if (!this.exists(n)) return true;
    if (this.senders.get(n - this.base) === readerId) return true;
    const set = this.readSets.get(readerId);
    return set?.has(n) === true;
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

  private internTag(tag: string): number {
    let id = this.tagIds.get(tag);
    if (id === undefined) {
      id = this.tagIds.size;
      this.tagIds.set(tag, id);
    }
    return id;
  }

  /** "all", "any" (broadcasts), or "to:", "from:", "tag:" (by id) and "thread:" (by its first message). */
  private source(key: string): Source {
    if (key === "all") {
      const { base, count } = this;
      const length = count - base + 1;
      return {
        key,
        length,
        at: (i) => base + i,
        lowerBound: (n) => Math.min(Math.max(n - base, 0), length),
        positionOf: (n) => (n >= base && n <= count ? n - base : -1),
      };
    }
    const [kind, value] = key === "any" ? ["any", ""] : [key.slice(0, key.indexOf(":")), Number(key.slice(key.indexOf(":") + 1))];
    const list =
      kind === "any"
        ? this.broadcasts
        : kind === "thread"
          ? (this.byThread.get(value as number) ?? (this.exists(value as number) && this.threadOf(value as number) === value ? listOf(value as number) : EMPTY))
          : ({ to: this.byRecipient, from: this.bySender, tag: this.byTag }[kind as "to" | "from" | "tag"].get(value as number) ?? EMPTY);
    return { key, length: list.length, at: (i) => list.get(i), lowerBound: (n) => list.lowerBound(n), positionOf: (n) => positionIn(list, n) };
  }
}

const EMPTY = new NumberList("int32", 1);

/** A cursor's memory: its array, plus what its map entries and object take. */
const cursorCost = (cursor: Cursor) => cursor.unread.byteLength + 256;

function positionIn(list: NumberList, n: number): number {
  const p = list.lowerBound(n);
  return p < list.length && list.get(p) === n ? p : -1;
}

function listOf(first: number): NumberList {
  const list = new NumberList();
  list.push(first);
  return list;
}

function bump(map: Map<number, number>, key: number, by: number): void {
  map.set(key, (map.get(key) ?? 0) + by);
}
