import { NumberList } from "./numberList";
import { ReadSet } from "./readSet";
import { BROADCAST } from "./message";

/** An ascending run of message numbers (message n has id String(n)). */
interface Source {
  key: string;
  length: number;
  at(i: number): number;
  lowerBound(n: number): number;
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
 * `limit`. For `unread_by` each (reader, list) pair keeps a low-water mark below which the
 * reader has read everything (acks are never undone, so the mark only moves forward): the
 * already-read prefix is skipped in O(1). Cost: O(log n + returned + skipped), where
 * skipped counts the candidates after the mark that fail a filter (e.g. messages the reader
 * acked out of order after an older one it left unread).
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
  private readonly lowWater = new Map<string, number>();
  private readonly broadcastId = this.intern(BROADCAST);

  get count(): number {
    return this.offsets.length;
  }

  /** Record message number count+1; returns that number. */
  add(offset: number, length: number, from: string, to: string): number {
    const n = this.count + 1;
    const fromId = this.intern(from);
    const toId = this.intern(to);
    this.offsets.push(offset);
    this.lengths.push(length);
    this.senders.push(fromId);
    this.recipients.push(toId);
    if (toId === this.broadcastId) this.broadcasts.push(n);
    else listFor(this.byRecipient, toId).push(n);
    listFor(this.bySender, fromId).push(n);
    return n;
  }

  location(n: number): { offset: number; length: number } {
    return { offset: this.offsets.get(n - 1), length: this.lengths.get(n - 1) };
  }

  /** Has `reader` read message n (acked it, or sent it)? */
  isRead(n: number, reader: string): boolean {
    const id = this.nameIds.get(reader);
    return id !== undefined && this.isReadBy(n, id);
  }

  /** Mark n read by reader; false if it already was. */
  markRead(n: number, reader: string): boolean {
    if (this.isRead(n, reader)) return false;
    const id = this.intern(reader);
    let set = this.readSets.get(id);
    if (!set) this.readSets.set(id, (set = new ReadSet()));
    set.add(n);
    return true;
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
    if (fromId !== undefined) sources = [this.listSource(`from:${fromId}`, this.bySender.get(fromId)!)];
    else if (toId !== undefined) {
      sources = [this.listSource("any", this.broadcasts)];
      const direct = this.byRecipient.get(toId);
      if (direct) sources.push(this.listSource(`to:${toId}`, direct));
    } else sources = [this.allSource()];

    const first = q.since + 1;
    const positions = sources.map((s) => {
      const start = s.lowerBound(first);
      return readerId === undefined || readerId < 0 ? start : Math.max(start, this.advanceLowWater(readerId, s));
    });

    const result: number[] = [];
    while (result.length < q.limit) {
      let best = -1;
      for (let i = 0; i < sources.length; i++) {
        if (positions[i] < sources[i].length && (best < 0 || sources[i].at(positions[i]) < sources[best].at(positions[best]))) best = i;
      }
      if (best < 0) break;
      const n = sources[best].at(positions[best]++);
      if (fromId !== undefined && toId !== undefined) {
        const recipient = this.recipients.get(n - 1);
        if (recipient !== toId && recipient !== this.broadcastId) continue;
      }
      if (readerId !== undefined && readerId >= 0 && this.isReadBy(n, readerId)) continue;
      result.push(n);
    }
    return result;
  }

  /** Move the reader's low-water mark on this source past everything it has read. */
  private advanceLowWater(readerId: number, source: Source): number {
    const key = `${readerId}/${source.key}`;
    let pos = this.lowWater.get(key) ?? 0;
    while (pos < source.length && this.isReadBy(source.at(pos), readerId)) pos++;
    this.lowWater.set(key, pos);
    return pos;
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

  private listSource(key: string, list: NumberList): Source {
    return { key, length: list.length, at: (i) => list.get(i), lowerBound: (n) => list.lowerBound(n) };
  }

  private allSource(): Source {
    const count = this.count;
    return { key: "all", length: count, at: (i) => i + 1, lowerBound: (n) => Math.min(Math.max(n - 1, 0), count) };
  }
}

function listFor(map: Map<number, NumberList>, key: number): NumberList {
  let list = map.get(key);
  if (!list) map.set(key, (list = new NumberList()));
  return list;
}
