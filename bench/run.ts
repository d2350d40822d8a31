/**
 * `npm run bench`: the figures the README quotes, in one run on this machine. Every server
 * runs in its own child process; this process only generates load (closed loop, keep-alive).
 * The bare node:http figure is the scale: read every other figure as a ratio of it.
 */
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { buildServiceBundle } from "../provision/bundle";
import { manyReaders, worstCaseReads } from "./abuse";
import { fileTransfers } from "./files";
import { load } from "./load";
import { LAGGING_READER, READER, writeDataset } from "./dataset";
import { fmt, markdownTable, throughput } from "./table";

const USER = "bench";
const PASS = "bench-password-not-a-secret";
const AUTH = "Basic " + Buffer.from(`${USER}:${PASS}`).toString("base64");
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);

interface Child {
  proc: ChildProcess;
  url: string;
  out: () => string;
}

function startChild(args: string[], env: NodeJS.ProcessEnv, ready: (out: string) => string | undefined): Promise<Child> {
  const proc = spawn(process.execPath, args, { env, stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  return new Promise((resolve, reject) => {
    const collect = (d: Buffer) => {
      out += d.toString();
      const url = ready(out);
      if (url) {
        // From here on only drain the per-request log lines: collecting them would load this process.
        proc.stdout!.off("data", collect).resume();
        resolve({ proc, url, out: () => out });
      }
    };
    proc.stdout!.on("data", collect);
    proc.on("exit", (code) => reject(new Error(`child exited ${code} before it was ready:\n${out}`)));
  });
}

async function stop(child: Child): Promise<void> {
  const exited = new Promise((r) => child.proc.once("exit", r));
  child.proc.kill("SIGTERM");
  await exited;
}

function startBare(): Promise<Child> {
  const script = `require("http").createServer((q, s) => { q.resume(); s.setHeader("Content-Type", "application/json"); s.end('{"ok":true}'); })
    .listen(0, "127.0.0.1", function () { console.log("http://127.0.0.1:" + this.address().port); });`;
  return startChild(["-e", script], { PATH: process.env.PATH }, (out) => out.match(/^(http:\S+)\n/)?.[1]);
}

/** The shipped service bundle, built once per run (what the host runs). */
let bundle: string;

function startBus(dataDir: string, args: string[] = []): Promise<Child> {
  return startChild([bundle, "serve", "--port", "0", "--data", dataDir, ...args], { PATH: process.env.PATH, BUS_USER: USER, BUS_PASS: PASS }, (out) => {
    const line = out.split("\n").find((l) => l.includes('"msg":"listening"'));
    return line ? JSON.parse(line).url : undefined;
  });
}

/** VmRSS / VmHWM of a child, in MiB (Linux /proc). */
function memory(pid: number): { rss: number; peak: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
  return { rss: kb("VmRSS") / 1024, peak: kb("VmHWM") / 1024 };
}

const rows: Array<[string, string]> = [];
function report(label: string, value: string): void {
  rows.push([label, value]);
  console.log(`${label}: ${value}`);
}

async function bareServer(): Promise<number> {
  const bare = await startBare();
  try {
    await load({ url: bare.url, concurrency: 32, seconds: 1, expect: 200 }); // JIT warm-up
    const r = await load({ url: bare.url, concurrency: 32, seconds: SECONDS, expect: 200 });
    report("bare node:http GET, 32 clients", throughput(r));
    return r.perSecond;
  } finally {
    await stop(bare);
  }
}

async function posting(root: string, bare: number): Promise<void> {
  const bus = await startBus(path.join(root, "post"));
  try {
    report("RSS of an empty bus after start", `${fmt(memory(bus.proc.pid!).rss)} MiB`);
    await load({ url: `${bus.url}/health`, auth: AUTH, concurrency: 32, seconds: 1, expect: 200 }); // JIT warm-up
    const health = await load({ url: `${bus.url}/health`, auth: AUTH, concurrency: 32, seconds: SECONDS, expect: 200 });
    report("bus GET /health (auth, no disk), 32 clients", `${throughput(health)} = ${fmt((health.perSecond / bare) * 100)}% of bare`);
    for (const concurrency of [1, 32]) {
      const r = await load({
        url: `${bus.url}/post`,
        method: "POST",
        auth: AUTH,
        body: (n) => JSON.stringify({ from: `bench${n % 32}`, to: "any", body: `benchmark message ${n}: the build is green, see /opt/foo`, tags: ["bench"] }),
        concurrency,
        seconds: SECONDS,
        expect: 201,
      });
      report(`bus POST /post (durable, fsync), ${concurrency} client${concurrency > 1 ? "s" : ""}`, `${throughput(r)} = ${fmt((r.perSecond / bare) * 100, 1)}% of bare`);
    }
  } finally {
    await stop(bus);
  }
}

/** `rssAfterLoad`: also report memory after the query load (the README keeps it for the largest set only). */
async function dataset(root: string, count: number, { rssAfterLoad = false } = {}): Promise<void> {
  const dir = path.join(root, `d${count}`);
  const label = count >= 1e6 ? `${count / 1e6}M` : `${count / 1e3}k`;
  let t = Date.now();
  writeDataset(dir, count);
  const size = fs.statSync(path.join(dir, "bus.jsonl")).size;
  console.log(`(generated ${label} messages in ${fmt((Date.now() - t) / 1000, 1)} s)`);

  t = Date.now();
  const bus = await startBus(dir);
  const startMs = Date.now() - t;
  const replayed = JSON.parse(bus.out().split("\n").find((l) => l.includes('"msg":"store replayed"'))!);
  try {
    // No peak here: VmHWM is a lifetime high-water mark, so the after-load figure's peak covers replay.
    report(
      `start-up with ${label} messages (${fmt(size / 2 ** 20)} MiB of JSONL)`,
      `replay ${fmt(replayed.ms / 1000, 2)} s (process start to listening ${fmt(startMs / 1000, 2)} s), RSS ${fmt(memory(bus.proc.pid!).rss)} MiB`,
    );
    const query = `${bus.url}/messages?to=${READER}&unread_by=${READER}&limit=50`;
    const r = await load({ url: query, auth: AUTH, concurrency: 1, seconds: SECONDS, requests: 5000, expect: 200 });
    report(`GET /messages?to=X&unread_by=X&limit=50 at ${label}, 1 client`, throughput(r));
    const lagging = `${bus.url}/messages?to=${LAGGING_READER}&unread_by=${LAGGING_READER}&limit=50`;
    const worst = await load({ url: lagging, auth: AUTH, concurrency: 1, seconds: SECONDS, requests: 5000, expect: 200 });
    report(`same query, reader who left its oldest message unread, at ${label}`, throughput(worst));
    if (rssAfterLoad) {
      const after = memory(bus.proc.pid!);
      report(`RSS after the GET load at ${label}`, `${fmt(after.rss)} MiB (peak ${fmt(after.peak)} MiB)`);
    }
  } finally {
    await stop(bus);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const root = fs.mkdtempSync(path.join(process.env.BENCH_DIR ?? os.tmpdir(), "claude-bus-bench-"));
  console.log(`claude-bus bench: node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model}), data in ${root}, ${SECONDS} s per load phase\n`);
  try {
    bundle = (await buildServiceBundle(path.join(root, "bundle"))).file;
    const bare = await bareServer();
    await posting(root, bare);
    await dataset(root, 100_000);
    await dataset(root, 1_000_000, { rssAfterLoad: true });
    const abuse = {
      root,
      auth: AUTH,
      seconds: SECONDS,
      startBus: async (dir: string, args?: string[]) => {
        const child = await startBus(dir, args);
        return { url: child.url, pid: child.proc.pid!, stop: () => stop(child) };
      },
      rss: (pid: number) => memory(pid).rss,
      report,
    };
    await worstCaseReads(abuse);
    await manyReaders(abuse);
    await fileTransfers({ ...abuse, peak: (pid) => memory(pid).peak });
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
  console.log(`\nREADME.md's Benchmark table (paste it verbatim):\n\n${markdownTable(rows)}`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
