/**
 * What an abusive client can make the bus hold: the largest possible answers read at once, and many
 * reader names. Each figure is the bus's memory (RSS, sampled while the load runs) and latency.
 */
import * as fs from "fs";
import * as path from "path";
import { addReaders, writeDataset, writeWorstCaseDataset } from "./dataset";
import { load, LoadResult } from "./load";
import { fmt } from "./table";

export interface BusChild {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

export interface AbuseContext {
  root: string;
  auth: string;
  seconds: number;
  startBus(dataDir: string): Promise<BusChild>;
  rss(pid: number): number;
  report(figure: string, result: string): void;
}

/** The highest RSS seen while `work` runs, sampled every 50 ms. */
async function peakRss(ctx: AbuseContext, pid: number, work: Promise<unknown>): Promise<number> {
  let peak = ctx.rss(pid);
  const timer = setInterval(() => (peak = Math.max(peak, ctx.rss(pid))), 50);
  try {
    await work;
  } finally {
    clearInterval(timer);
  }
  return Math.max(peak, ctx.rss(pid));
}

const latency = (r: LoadResult) => `p50 ${fmt(r.p50ms, 2)} ms, max ${fmt(r.maxms, 2)} ms`;

/** 500 messages of 393 KiB each, and 4 clients reading `limit=500` pages of them at once. */
export async function worstCaseReads(ctx: AbuseContext): Promise<void> {
  const dir = path.join(ctx.root, "worst");
  writeWorstCaseDataset(dir, 500);
  const bus = await ctx.startBus(dir);
  try {
    const idle = ctx.rss(bus.pid);
    let run: LoadResult | undefined;
    const peak = await peakRss(ctx, bus.pid, (async () => {
      run = await load({ url: `${bus.url}/messages?limit=500`, auth: ctx.auth, concurrency: 4, seconds: ctx.seconds, expect: 200 });
    })());
    ctx.report(
      "RSS during 4 concurrent worst-case reads (limit=500 of 64 KiB control-character bodies, 196 MiB of JSON)",
      `${fmt(peak)} MiB peak (${fmt(idle)} MiB idle); ${fmt(run!.perSecond)} pages/s of at most 1 MiB`,
    );
  } finally {
    await bus.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** 20,000 reader names on a 3,696-message store, each asking once; what posts and a page cost before and after. */
export async function manyReaders(ctx: AbuseContext): Promise<void> {
  const dir = path.join(ctx.root, "readers");
  writeDataset(dir, 3_696);
  const names = addReaders(dir, 20_000);
  const bus = await ctx.startBus(dir);
  const post = () =>
    load({
      url: `${bus.url}/post`,
      method: "POST",
      auth: ctx.auth,
      body: (n) => JSON.stringify({ from: "m3", to: "m4", body: `after the readers ${n}` }),
      concurrency: 1,
      seconds: ctx.seconds,
      requests: 500,
      expect: 201,
    });
  try {
    const before = { rss: ctx.rss(bus.pid), post: await post() };
    await load({
      url: bus.url,
      path: (n) => `/messages?unread_by=${names[n % names.length]}&limit=1`,
      auth: ctx.auth,
      concurrency: 8,
      seconds: 600,
      requests: names.length,
      expect: 200,
    });
    const after = { rss: ctx.rss(bus.pid), post: await post() };
    ctx.report("RSS before and after 20,000 reader names each asked once (3,696 messages)", `${fmt(before.rss)} MiB, then ${fmt(after.rss)} MiB`);
    ctx.report("POST /post, 1 client, before and after those 20,000 readers", `${latency(before.post)}, then ${latency(after.post)}`);
    const page = await load({ url: `${bus.url}/messages?limit=500`, auth: ctx.auth, concurrency: 1, seconds: ctx.seconds, requests: 200, expect: 200 });
    ctx.report("GET /messages?limit=500 when message 1 has 20,000 readers in read_by", latency(page));
  } finally {
    await bus.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
