/**
 * What an abusive client can make the bus hold: the largest possible answers read at once, and many
 * reader names. Each figure is the bus's memory (RSS, sampled while the load runs) and latency.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { CURSOR_CACHE_BYTES } from "../service/store/messageIndex";
import type { BenchContext } from "./context";
import { addReaders, writeDataset, writeWorstCaseDataset } from "./dataset";
import { load } from "./load";
import type { LoadResult } from "./loadResult";
import { memory } from "./servers";
import { fmt } from "./table";

const rss = (pid: number) => memory(pid).rss;
const IDLE_SETTLE_MS = 30_000;

/** The highest RSS seen while `work` runs, sampled every 50 ms. */
async function peakRss(pid: number, work: Promise<unknown>): Promise<number> {
  let peak = rss(pid);
  const timer = setInterval(() => (peak = Math.max(peak, rss(pid))), 50);
  try {
    await work;
  } finally {
    clearInterval(timer);
  }
  return Math.max(peak, rss(pid));
}

const latency = (r: LoadResult) => `p50 ${fmt(r.p50ms, 2)} ms, max ${fmt(r.maxms, 2)} ms`;

/** 500 messages of 393 KiB each, and 4 clients reading `limit=500` pages of them at once. */
export async function worstCaseReads(ctx: BenchContext): Promise<void> {
  const dir = path.join(ctx.root, "worst");
  writeWorstCaseDataset(dir, 500);
  const bus = await ctx.startBus(dir);
  try {
    const idle = rss(bus.pid);
    const reads = ctx.wrk(bus.url, [{ method: "GET", path: "/messages?limit=500" }], 4);
    const peak = await peakRss(bus.pid, reads);
    ctx.report(
      "RSS during 4 concurrent worst-case reads (limit=500 of 64 KiB control-character bodies, 196 MiB of JSON)",
      `${fmt(peak)} MiB peak (${fmt(idle)} MiB idle); ${fmt((await reads).perSecond)} pages/s of at most 1 MiB`,
    );
  } finally {
    await bus.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * 20,000 reader names on a 3,696-message store, each asking once; what posts and a page cost before and
 * after. Each name must ask exactly once, and 500 posts keep the store the size it is said to be: loads
 * of a set count, which wrk cannot stop at, so the Node generator sends them.
 */
export async function manyReaders(ctx: BenchContext): Promise<void> {
  const dir = path.join(ctx.root, "readers");
  writeDataset(dir, 3_696);
  const names = addReaders(dir, 20_000);
  const bus = await ctx.startBus(dir);
  const posts = () =>
    load({
      url: bus.url,
      path: () => "/post",
      body: (n) => JSON.stringify({ from: "m3", to: "m4", body: `after the readers ${n}` }),
      auth: ctx.auth,
      concurrency: 1,
      requests: 500,
      expect: 201,
    });
  try {
    const before = { rss: rss(bus.pid), post: await posts() };
    await load({
      url: bus.url,
      path: (n) => `/messages?unread_by=${names[n]}&limit=1`,
      auth: ctx.auth,
      concurrency: 8,
      requests: names.length,
      expect: 200,
    });
    const after = { rss: rss(bus.pid), post: await posts() };
    // Right after, RSS holds garbage V8 has not given back yet; an idle half minute lets it.
    await sleep(IDLE_SETTLE_MS);
    ctx.report(
      `RSS before and after 20,000 reader names each asked once (3,696 messages), and ${IDLE_SETTLE_MS / 1000} s later`,
      `${fmt(before.rss)} MiB, then ${fmt(after.rss)} MiB, then ${fmt(rss(bus.pid))} MiB`,
    );
    ctx.report("POST /post, 1 client, before and after those 20,000 readers", `${latency(before.post)}, then ${latency(after.post)}`);
    const page = await ctx.wrk(bus.url, [{ method: "GET", path: "/messages?limit=500" }], 1);
    ctx.report("GET /messages?limit=500 when message 1 has 20,000 readers in read_by", latency(page));
  } finally {
    await bus.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The same 20,000 names on a store long enough that each builds an unread cursor (4 bytes per message of
 * its list, 80 KiB here): 1.6 GB if every cursor were kept, so the figure shows the cache's bound.
 */
export async function manyCursors(ctx: BenchContext): Promise<void> {
  const dir = path.join(ctx.root, "cursors");
  const messages = 20_000;
  writeDataset(dir, messages);
  const bus = await ctx.startBus(dir);
  try {
    const before = rss(bus.pid);
    const asked = load({ url: bus.url, path: (n) => `/messages?unread_by=cursor-${n}&limit=1`, auth: ctx.auth, concurrency: 8, requests: 20_000, expect: 200 });
    const peak = await peakRss(bus.pid, asked);
    await sleep(IDLE_SETTLE_MS);
    ctx.report(
      `RSS before, at most during, and ${IDLE_SETTLE_MS / 1000} s after 20,000 reader names each asked once (${fmt(messages)} messages: a cursor each, the cache capped at ${CURSOR_CACHE_BYTES / 2 ** 20} MiB)`,
      `${fmt(before)} MiB, ${fmt(peak)} MiB, ${fmt(rss(bus.pid))} MiB; ${latency(await asked)} per request`,
    );
  } finally {
    await bus.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
