/**
 * `npm run bench`: the figures the README quotes, in one run on this machine. Every server runs in its
 * own child process, loaded by wrk (see wrk.ts) unless a part says why it cannot be. The bare node:http
 * and bare Express 5 figures are the scale: read the bus's figures as shares of them.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { buildServiceBundle } from "../provision/bundle";
import { manyCursors, manyReaders, worstCaseReads } from "./abuse";
import { claims } from "./claims";
import { hookCost } from "./hookCost";
import { compaction } from "./compaction";
import { fileTransfers } from "./files";
import type { BenchContext } from "./context";
import { largeStores } from "./largeStores";
import { liveLatency } from "./liveLatency";
import { longPoll } from "./longPoll";
import { startBus } from "./servers";
import { markdownTable } from "./table";
import { busThroughput, ceilings } from "./throughput";
import { webApp } from "./webApp";
import { WRK_MISSING, wrk, wrkInstalled } from "./wrk";

const CREDENTIALS = { user: "bench", pass: "bench-password-not-a-secret" };
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);

async function main(): Promise<void> {
  const root = fs.mkdtempSync(path.join(process.env.BENCH_DIR ?? os.tmpdir(), "claude-bus-bench-"));
  console.log(`claude-bus bench: node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model}), data in ${root}, ${SECONDS} s per load phase\n`);
  const rows: Array<[string, string]> = [];
  try {
    const bundle = (await buildServiceBundle(path.join(root, "bundle"))).file;
    const auth = `Basic ${Buffer.from(`${CREDENTIALS.user}:${CREDENTIALS.pass}`).toString("base64")}`;
    const ctx: BenchContext = {
      root,
      auth,
      seconds: SECONDS,
      startBus: (dataDir, args) => startBus(bundle, CREDENTIALS, dataDir, args),
      wrk: (url, requests, connections, seconds = SECONDS) => wrk({ url, requests, auth, connections, seconds, workDir: path.join(root, "wrk") }),
      report(figure, result) {
        rows.push([figure, result]);
        console.log(`${figure}: ${result}`);
      },
    };
    await busThroughput(ctx, await ceilings(ctx));
    await largeStores(ctx);
    await longPoll(ctx);
    await claims(ctx);
    await compaction(ctx);
    await worstCaseReads(ctx);
    await manyReaders(ctx);
    await manyCursors(ctx);
    await hookCost(ctx);
    await liveLatency(ctx);
    await fileTransfers(ctx);
    await webApp(ctx);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
  console.log(`\nREADME.md's Benchmark table (paste it verbatim):\n\n${markdownTable(rows)}`);
}

if (!wrkInstalled()) {
  console.error(`npm run bench: ${WRK_MISSING}`);
  process.exit(1);
}
main().catch((error) => {
  console.error(error);
  process.exit(1);
});
