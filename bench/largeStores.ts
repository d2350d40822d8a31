/**
 * A store of 100k or 1M messages (dataset.ts): start-up, the session-start query of a reader who is up to
 * date and of one who left its oldest message unread, and for the largest also memory after that load
 * and acking a page of 500 ids in one request.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { MAX_ACK_BATCH } from "../contract/defaults";
import type { BenchContext } from "./context";
import { LAGGING_READER, READER, writeDataset } from "./dataset";
import { memory } from "./servers";
import { fmt, throughput } from "./table";
import type { WrkRequest } from "./wrk";

const label = (count: number) => (count >= 1e6 ? `${count / 1e6}M` : `${count / 1e3}k`);

/** One request per 500 consecutive ids of 1..count, all acked by one reader that has acked nothing yet. */
function batchAcks(count: number): WrkRequest[] {
  return Array.from({ length: Math.floor(count / MAX_ACK_BATCH) }, (_, b) => ({
    method: "POST",
    path: "/ack",
    body: JSON.stringify({ reader: "acker", ids: Array.from({ length: MAX_ACK_BATCH }, (_, i) => String(b * MAX_ACK_BATCH + i + 1)) }),
  }));
}

async function storeAtScale(ctx: BenchContext, count: number, { largest = false } = {}): Promise<void> {
  const dir = path.join(ctx.root, `d${count}`);
  let t = Date.now();
  writeDataset(dir, count);
  const size = fs.statSync(path.join(dir, "bus.jsonl")).size;
  console.log(`(generated ${label(count)} messages in ${fmt((Date.now() - t) / 1000, 1)} s)`);

  t = Date.now();
  const bus = await ctx.startBus(dir);
  const startMs = Date.now() - t;
  const replayed = JSON.parse(bus.startOutput.split("\n").find((l) => l.includes('"msg":"store replayed"'))!);
  try {
    // No peak here: VmHWM is a lifetime high-water mark, so the after-load figure's peak covers replay.
    ctx.report(
      `start-up with ${label(count)} messages (${fmt(size / 2 ** 20)} MiB of JSONL)`,
      `replay ${fmt(replayed.ms / 1000, 2)} s (process start to listening ${fmt(startMs / 1000, 2)} s), RSS ${fmt(memory(bus.pid).rss)} MiB`,
    );
    const query = (reader: string): WrkRequest[] => [{ method: "GET", path: `/messages?to=${reader}&unread_by=${reader}&limit=50` }];
    ctx.report(`GET /messages?to=X&unread_by=X&limit=50 at ${label(count)}, 1 client`, throughput(await ctx.wrk(bus.url, query(READER), 1)));
    ctx.report(`same query, reader who left its oldest message unread, at ${label(count)}`, throughput(await ctx.wrk(bus.url, query(LAGGING_READER), 1)));
    if (!largest) return;
    const after = memory(bus.pid);
    ctx.report(`RSS after the GET load at ${label(count)}`, `${fmt(after.rss)} MiB (peak ${fmt(after.peak)} MiB)`);
    const acks = await ctx.wrk(bus.url, batchAcks(count), 1);
    ctx.report(
      `POST /ack of ${MAX_ACK_BATCH} ids (one write, one fsync) at ${label(count)}, 1 client`,
      `${throughput(acks)} = ${fmt(acks.perSecond * MAX_ACK_BATCH)} acks/s`,
    );
  } finally {
    await bus.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export async function largeStores(ctx: BenchContext): Promise<void> {
  await storeAtScale(ctx, 100_000);
  await storeAtScale(ctx, 1_000_000, { largest: true });
}
