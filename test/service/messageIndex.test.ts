import { type IndexedMessage, MessageIndex } from "../../service/store/messageIndex";
import { NextUnread } from "../../service/store/nextUnread";
import { ReadSet } from "../../service/store/readSet";

/** Adds the next message (posted at time 0, starting its own thread, untagged unless `extra` says otherwise). */
function put(index: MessageIndex, offset: number, length: number, from: string, to: string, extra: Partial<IndexedMessage> = {}): void {
  index.add({ offset, length, time: 0, from, to, thread: index.count + 1, tags: [], ...extra });
}

/** A tiny deterministic PRNG so a failure is reproducible. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe("MessageIndex.select", () => {
  // Cursors on every list (not only long ones); a cache of 2 KiB holds about one: the third run evicts and
  // rebuilds them all the time. The first run scans every list directly.
  test.each([
    ["no cursors", {}],
    ["cursors in a roomy cache", { cursorMinList: 0 }],
    ["cursors in a tiny cache", { cursorMinList: 0, cursorCacheBytes: 2048 }],
  ])("matches a brute-force filter while messages, acks and queries interleave: %s", (_what, options) => {
    const rand = prng(42);
    const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)];
    const names = ["a", "b", "c", "d"];
    const index = new MessageIndex(options);
    const messages: Array<{ from: string; to: string; readers: Set<string> }> = [];
    let queries = 0;

    for (let step = 0; step < 6000; step++) {
      const r = rand();
      if (r < 0.35 || messages.length === 0) {
        const from = pick(names);
        const to = rand() < 0.3 ? "any" : pick(names);
        put(index, step * 100, 10, from, to);
        messages.push({ from, to, readers: new Set([from]) });
      } else if (r < 0.7) {
        // Acks mostly in order, sometimes far back: both shapes the low-water marks must handle.
        const n = rand() < 0.8 ? messages.length - Math.floor(rand() * 5) : 1 + Math.floor(rand() * messages.length);
        if (n < 1) continue;
        const reader = pick([...names, "r"]); // "r" only ever reads: known to the index, never a sender
        const fresh = !messages[n - 1].readers.has(reader);
        expect(index.isRead(n, reader)).toBe(!fresh);
        index.markRead(n, reader);
        expect(index.isRead(n, reader)).toBe(true);
        messages[n - 1].readers.add(reader);
      } else {
        const q = {
          since: rand() < 0.5 ? 0 : Math.floor(rand() * messages.length),
          to: rand() < 0.5 ? undefined : pick([...names, "any", "r", "zz"]),
          from: rand() < 0.7 ? undefined : pick([...names, "r", "zz"]),
          unreadBy: rand() < 0.3 ? undefined : pick([...names, "r", "zz"]),
          limit: 1 + Math.floor(rand() * 40),
        };
        const expected: number[] = [];
        messages.forEach((m, i) => {
          const n = i + 1;
          if (n <= q.since) return;
          if (q.to !== undefined && m.to !== q.to && m.to !== "any") return;
          if (q.from !== undefined && m.from !== q.from) return;
          if (q.unreadBy !== undefined && m.readers.has(q.unreadBy)) return;
          if (expected.length < q.limit) expected.push(n);
        });
        expect({ q, got: index.select(q) }).toEqual({ q, got: expected });
        queries++;
      }
    }
    expect(queries).toBeGreaterThan(1000);
    // read_by: sender first, then the readers that acked.
    const m = messages[0];
    expect(new Set(index.readBy(1))).toEqual(m.readers);
    expect(index.readBy(1)[0]).toBe(m.from);
  });

  test("a reader who acked thousands of messages (bitmap read set) still filters exactly", () => {
    const index = new MessageIndex();
    for (let n = 1; n <= 20_000; n++) put(index, n, 1, "sender", n % 2 === 0 ? "me" : "any");
    for (let n = 1; n <= 20_000; n++) if (n !== 777 && n !== 15_000) index.markRead(n, "me");
    expect(index.select({ since: 0, to: "me", unreadBy: "me", limit: 50 })).toEqual([777, 15_000]);
    put(index, 0, 1, "sender", "me");
    expect(index.select({ since: 0, to: "me", unreadBy: "me", limit: 50 })).toEqual([777, 15_000, 20_001]);
    expect(index.select({ since: 800, to: "me", unreadBy: "me", limit: 1 })).toEqual([15_000]);
  });
});

describe("what readers cost", () => {
  /** A store of `messages` messages, and `readers` reader names the index knows (each acked message 1) that each asked once. */
  function indexWithReaders(messages: number, readers: number, cursorCacheBytes?: number): MessageIndex {
    const index = new MessageIndex({ cursorCacheBytes, cursorMinList: 0 });
    for (let n = 1; n <= messages; n++) put(index, n * 100, 10, "sender", n % 3 === 0 ? "any" : "me");
    for (let r = 0; r < readers; r++) {
      index.markRead(1, `reader-${r}`);
      index.select({ since: 0, unreadBy: `reader-${r}`, limit: 1 });
    }
    return index;
  }
  afterEach(() => jest.restoreAllMocks());

  test("a post touches no reader's cursor, however many readers ever asked", () => {
    const index = indexWithReaders(500, 2_000);
    const append = jest.spyOn(NextUnread.prototype, "append");
    put(index, 0, 10, "sender", "me");
    put(index, 0, 10, "sender", "any");
    expect(append).not.toHaveBeenCalled();
    // The cursor catches up when its reader next asks.
    expect(index.select({ since: 500, unreadBy: "reader-7", limit: 10 })).toEqual([501, 502]);
  });

  test("cursors stay within their memory budget: the least recently used are dropped and rebuilt on demand", () => {
    const budget = 256 * 1024;
    const index = indexWithReaders(3_696, 2_000, budget);
    expect(index.cursorMemory).toBeLessThanOrEqual(budget);
    expect(index.cursorMemory).toBeGreaterThan(budget / 2);
    // reader-0's cursor was dropped long ago; its answer is still exact.
    index.markRead(2, "reader-0");
    expect(index.select({ since: 0, unreadBy: "reader-0", limit: 2 })).toEqual([3, 4]);
  });

  test("read_by costs what a message's own readers cost, not what every reader on the bus costs", () => {
    const index = indexWithReaders(500, 20_000);
    const has = jest.spyOn(ReadSet.prototype, "has");
    expect(index.readBy(2)).toEqual(["sender"]);
    expect(index.readBy(1)).toHaveLength(20_001);
    expect(has).not.toHaveBeenCalled();
    expect(index.readBy(1).slice(0, 3)).toEqual(["sender", "reader-0", "reader-1"]);
  });
});

describe("NextUnread", () => {
  test("find skips read runs and follows later reads and appends", () => {
    const u = new NextUnread();
    const read = [true, true, false, true, false, false, true];
    for (const r of read) u.append(r);
    expect([0, 1, 2, 3, 4, 5, 6].map((p) => u.find(p))).toEqual([2, 2, 2, 4, 4, 5, 7]);
    u.markRead(2);
    u.markRead(4);
    expect(u.find(0)).toBe(5);
    u.markRead(5);
    expect(u.find(0)).toBe(7);
    u.append(false);
    expect(u.find(0)).toBe(7);
    u.append(true);
    u.markRead(7);
    expect(u.find(0)).toBe(9);
    for (let i = 0; i < 1000; i++) u.append(true);
    expect(u.find(3)).toBe(1009);
  });
});
