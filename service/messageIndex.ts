import { NextUnread } from "./nextUnread";
import { NumberList } from "./numberList";
import { ReadSet } from "./readSet";
import { BROADCAST } from "../contract/defaults";

/** An ascending run of message numbers (message n has id String(n)). */
interface Source {
  key: string;
  length: number;
  at(i: number): number;
  lowerBound(n: number): number;
  /** Position of message n in this source, or -1. */
  positionOf(n: number): number;
}

/** A reader's NextUnread over one source, kept up to date by add() and markRead(). */
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

/**
 * Everything about the messages except their bodies, in memory: where each line is in
 * bus.jsonl, sender and recipient (as small ints into a name table), per-recipient,
 * broadcast and per-sender lists, and each reader's acked set. Bodies stay on disk.
 *
 * `select` walks only the list the filters point at (sender list, recipient list merged
 * with broadcasts, or all ids), starting by binary search after `since`, and stops at
 * `limit`. For `unread_by`, the first query of a (reader, list) pair builds a NextUnread for
 * it (O(list) once, 4 bytes per entry; kept current on every post and ack), which jumps over
 * runs of read messages. Cost: O(log n + returned) amortized; only `to` and `from` given
 * together also skip the sender's messages to other recipients.
 */
export class MessageIndex {
  private readonly names: string[] = [];
  private readonly nameIds = new Map<string, number>();
  private readonly offsets = new NumberList("float64", 1024);
  private readonly lengths = new NumberList("int32", 1024);
  private readonly senders = new NumberList("int32", 1024);
  private readonly recipients = new NumberList("int32", 1024);
  private readonly byRecipient = new Map<number, NumberList>();
  private readonly bySender = new Map<number, NumberList>();
  private readonly broadcasts = new NumberList();
  private readonly readSets = new Map<number, ReadSet>();
  private readonly cursors = new Map<string, Cursor>(); // by `${readerId}/${sourceKey}`
  private readonly cursorsBySource = new Map<string, Cursor[]>();
  private readonly cursorsByReader = new Map<number, Cursor[]>();
  private readonly broadcastId = this.intern(BROADCAST);

  get count(): number {
    return this.offsets.length;
  }

  /** Record message number count+1. */
  add(offset: number, length: number, from: string, to: string): void {
    const n = this.count + 1;
    const fromId = this.intern(from);
    const toId = this.intern(to);
    this.offsets.push(offset);
    this.lengths.push(length);
    this.senders.push(fromId);
    this.recipients.push(toId);
    if (toId === this.broadcastId) this.broadcasts.push(n);
    else getOrCreate(this.byRecipient, toId, () => new NumberList()).push(n);
    getOrCreate(this.bySender, fromId, () => new NumberList()).push(n);
    for (const key of ["all", toId === this.broadcastId ? "any" : `to:${toId}`, `from:${fromId}`]) {
      for (const cursor of this.cursorsBySource.get(key) ?? []) cursor.unread.append(cursor.readerId === fromId);
    }
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
    let set = this.readSets.get(id);
    if (!set) this.readSets.set(id, (set = new ReadSet()));
    set.add(n);
    for (const cursor of this.cursorsByReader.get(id) ?? []) {
      const position = this.source(cursor.sourceKey).positionOf(n);
      if (position >= 0) cursor.unread.markRead(position);
    }
  }

  /** The sender first, then every reader that acked n (in order of each reader's first ack). */
  readBy(n: number): string[] {
    const sender = this.senders.get(n - 1);
    const result = [this.names[sender]];
    for (const [reader, set] of this.readSets) if (reader !== sender && set.has(n)) result.push(this.names[reader]);
    return result;
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

    // Per source: the next candidate position, skipping what the reader has read.
    const unread = readerId === undefined ? null : sources.map((s) => (readerId < 0 ? null : this.cursor(readerId, s).unread));
    const advance = (i: number, p: number) => (unread?.[i] ? unread[i]!.find(p) : p);
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
      if (fromId !== undefined && toId !== undefined) {
        const recipient = this.recipients.get(n - 1);
        if (recipient !== toId && recipient !== this.broadcastId) continue;
      }
      result.push(n);
    }
    return result;
  }

  /** The reader's NextUnread over a source, built on first use. */
  private cursor(readerId: number, source: Source): Cursor {
    const key = `${readerId}/${source.key}`;
    let cursor = this.cursors.get(key);
    if (!cursor) {
      cursor = { readerId, sourceKey: source.key, unread: new NextUnread(source.length) };
      for (let p = 0; p < source.length; p++) cursor.unread.append(this.isReadBy(source.at(p), readerId));
      this.cursors.set(key, cursor);
      getOrCreate(this.cursorsBySource, source.key, () => []).push(cursor);
      getOrCreate(this.cursorsByReader, readerId, () => []).push(cursor);
    }
    return cursor;
  }

  private isReadBy(n: number, readerId: number): boolean {
    if (this.senders.get(n - 1) === readerId) return true;
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

function getOrCreate<K, V>(map: Map<K, V>, key: K, make: () => V): V {
  let value = map.get(key);
  if (value === undefined) map.set(key, (value = make()));
  return value;
}
