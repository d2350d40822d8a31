/**
 * Long-poll: GET /messages?wait=N holds an empty answer until a message it matches is stored. Waiters
 * are filed by their most selective filter (recipient, sender, thread or tag), so a post only looks at
 * the ones it could match, and wakes only those it does match. A waiter costs one entry here and its
 * open request; it is gone the moment its client leaves or its time is up.
 */
import type { Selection } from "./messageIndex";

export type Query = Omit<Selection, "limit">;

/** What a new message is, for finding the waiters it may match. */
export interface Posted {
  n: number;
  from: string;
  to: string;
  thread: number;
  tags: readonly string[];
}

interface Waiter {
  query: Query;
  wake: () => void;
}

export class Waiters {
  private readonly byKey = new Map<string, Set<Waiter>>();
  /** Waiters filed under `to:`: a broadcast may match any of them. */
  private readonly recipientKeys = new Set<string>();

  constructor(private readonly matches: (n: number, q: Query) => boolean) {}

  /** How many requests are waiting. */
  get size(): number {
    let size = 0;
    for (const set of this.byKey.values()) size += set.size;
    return size;
  }

  /** Files a waiter; `wake` runs once, when a matching message is stored. Returns the cancel function. */
  add(query: Query, wake: () => void): () => void {
    const key = keyOf(query);
    let set = this.byKey.get(key);
    if (!set) this.byKey.set(key, (set = new Set()));
    if (key.startsWith("to:")) this.recipientKeys.add(key);
    const waiter: Waiter = { query, wake };
    set.add(waiter);
    return () => this.remove(key, waiter);
  }

  /** A message was stored: wake the waiters it matches. */
  posted(m: Posted): void {
    const keys = ["all", `from:${m.from}`, `thread:${m.thread}`, ...m.tags.map((t) => `tag:${t}`)];
    if (m.to === "any") keys.push(...this.recipientKeys);
    else keys.push(`to:${m.to}`);
    for (const key of new Set(keys)) {
      for (const waiter of [...(this.byKey.get(key) ?? [])]) {
        if (!this.matches(m.n, waiter.query)) continue;
        this.remove(key, waiter);
        waiter.wake();
      }
    }
  }

  /** Wakes every waiter (at shutdown: they answer what they have, which is nothing). */
  wakeAll(): void {
    for (const [key, set] of [...this.byKey]) {
      for (const waiter of [...set]) {
        this.remove(key, waiter);
        waiter.wake();
      }
    }
  }

  private remove(key: string, waiter: Waiter): void {
    const set = this.byKey.get(key);
    if (!set?.delete(waiter) || set.size > 0) return;
    this.byKey.delete(key);
    this.recipientKeys.delete(key);
  }
}

/** The filter a waiter is filed under: the one that narrows the messages it can match the most. */
function keyOf(q: Query): string {
  if (q.thread !== undefined) return `thread:${q.thread}`;
  if (q.from !== undefined) return `from:${q.from}`;
  if (q.tag !== undefined) return `tag:${q.tag}`;
  if (q.to !== undefined) return `to:${q.to}`;
  return "all";
}
