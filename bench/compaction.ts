/**
 * Retention's compaction of a 1M-message store, which `serve --retain-days N` starts as soon as the bus
 * listens: how long it takes, and what a post costs meanwhile. The posts run until the bus logs the end
 * of the compaction, a stop wrk cannot wait for, so the Node generator sends them; the same number is
 * sent again afterwards, so "meanwhile" is read against "after" from the same generator.
 */
import * as fs from "fs";
import * as path from "path";
import type { BenchContext } from "./context";
import { writeDataset } from "./dataset";
import { load } from "./load";
import type { LoadResult } from "./loadResult";
import { fmt } from "./table";
import { postRequests } from "./throughput";

const MESSAGES = 1_000_000;
const RETAIN_DAYS = 6;

export async function compaction(ctx: BenchContext): Promise<void> {
  const dir = path.join(ctx.root, "compaction");
  writeDataset(dir, MESSAGES);
  const bus = await ctx.startBus(dir, ["--retain-days", String(RETAIN_DAYS)]);
  try {
    const done = bus.nextLine('"msg":"compaction done"');
    const retention = bus.nextLine('"msg":"retention ');
    const posts = (until?: Promise<unknown>, requests?: number): Promise<LoadResult> =>
      load({ url: bus.url, path: () => "/post", body: (n) => postRequests[n % postRequests.length].body!, auth: ctx.auth, concurrency: 1, until, requests, expect: 201 });
    const meanwhile = await posts(retention);
    const outcome = JSON.parse(await retention) as { msg: string; removed?: number; error?: string };
    if (outcome.removed === undefined) throw new Error(`compaction failed: ${outcome.error}`);
    const { ms } = JSON.parse(await done) as { ms: number };
    const after = await posts(undefined, meanwhile.requests);
    ctx.report(
      `compaction of a 1M-message store (--retain-days ${RETAIN_DAYS}: the older ${fmt(outcome.removed / 1e3)}k removed and archived, ${fmt((MESSAGES - outcome.removed) / 1e3)}k kept), POSTs from 1 client meanwhile`,
      `${fmt(ms / 1000, 2)} s; ${fmt(meanwhile.requests)} POSTs meanwhile: p50 ${fmt(meanwhile.p50ms, 2)} ms, p99 ${fmt(meanwhile.p99ms, 2)} ms, max ${fmt(meanwhile.maxms, 2)} ms (as many after it: p99 ${fmt(after.p99ms, 2)} ms)`,
    );
  } finally {
    await bus.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
