/**
 * Retention's compaction of a 1M-message store, which `serve --retain-days N` starts right after it
 * begins to listen: how long it takes, and what a post costs meanwhile. Posts start as soon as the port
 * takes connections, before the bus logs `listening`, so no part of the compaction escapes them. They run
 * until the bus logs the end of the compaction, a stop wrk cannot wait for, so the Node generator sends
 * them; as many are sent again afterwards, so "meanwhile" is read against "after" from the same generator.
 */
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { BenchContext } from "./context";
import { writeDataset } from "./dataset";
import { load } from "./load";
import type { LoadResult } from "./loadResult";
import { fmt } from "./table";
import { postRequests } from "./throughput";

const MESSAGES = 1_000_000;
const RETAIN_DAYS = 6;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
    server.once("error", reject);
  });
}

const connects = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = net.connect(port, "127.0.0.1", () => resolve(true)).once("error", () => resolve(false));
    socket.once("connect", () => socket.destroy());
  });

/** Once `port` takes connections (the kernel's, even while the bus's event loop is busy), or `starting` fails. */
async function accepting(port: number, starting: Promise<unknown>): Promise<void> {
  let failed = false;
  starting.catch(() => (failed = true));
  while (!failed && !(await connects(port))) await sleep(10);
}

export async function compaction(ctx: BenchContext): Promise<void> {
  const dir = path.join(ctx.root, "compaction");
  writeDataset(dir, MESSAGES);
  const port = await freePort();
  const starting = ctx.startBus(dir, ["--retain-days", String(RETAIN_DAYS), "--port", String(port)]);
  try {
    await accepting(port, starting);
    const retention = starting.then((bus) => bus.line('"msg":"retention '));
    const done = starting.then((bus) => bus.line('"msg":"compaction done"'));
    const posts = (until?: Promise<unknown>, requests?: number): Promise<LoadResult> =>
      load({
        url: `http://127.0.0.1:${port}`,
        path: () => "/post",
        body: (n) => postRequests[n % postRequests.length].body!,
        auth: ctx.auth,
        concurrency: 1,
        until,
        requests,
        expect: 201,
      });
    const meanwhile = await posts(retention);
    const outcome = JSON.parse(await retention) as { removed?: number; error?: string };
    if (outcome.removed === undefined) throw new Error(`compaction failed: ${outcome.error}`);
    const { ms } = JSON.parse(await done) as { ms: number };
    const after = await posts(undefined, meanwhile.requests);
    ctx.report(
      `compaction of a 1M-message store (--retain-days ${RETAIN_DAYS}: the older ${fmt(outcome.removed / 1e3)}k removed and archived, ${fmt((MESSAGES - outcome.removed) / 1e3)}k kept), posts from 1 client meanwhile`,
      `${fmt(ms / 1000, 2)} s; ${fmt(meanwhile.requests)} posts meanwhile: p50 ${fmt(meanwhile.p50ms, 2)} ms, p99 ${fmt(meanwhile.p99ms, 2)} ms, max ${fmt(meanwhile.maxms, 2)} ms (as many after it: p99 ${fmt(after.p99ms, 2)} ms)`,
    );
  } finally {
    await starting.then(
      (bus) => bus.stop(),
      () => undefined,
    );
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
