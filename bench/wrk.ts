/**
 * The load generator for throughput and latency figures: wrk, a C program that drives node:http at about
 * three times the rate a Node generator on the same two cores reaches, so it is not what limits a figure.
 * Its Lua script only cycles through requests prepared in advance (auth header, POST bodies).
 */
import { execFile, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import type { LoadResult } from "./loadResult";

export const WRK_MISSING = "wrk is not installed: apt-get install wrk";

/** Whether `wrk` is on the PATH: checked before the bench starts anything. */
export function wrkInstalled(): boolean {
  return (spawnSync("wrk", ["--version"], { stdio: "ignore" }).error as NodeJS.ErrnoException | undefined)?.code !== "ENOENT";
}

export interface WrkRequest {
  method: "GET" | "POST";
  /** Path and query. */
  path: string;
  /** A JSON body, sent as application/json. */
  body?: string;
}

export interface WrkOptions {
  /** The server's origin, e.g. http://127.0.0.1:8787. */
  url: string;
  /** Sent in turn, from the first again after the last, on every connection. */
  requests: WrkRequest[];
  /** The Authorization header's value, if any. */
  auth?: string;
  connections: number;
  seconds: number;
  /** A directory for the script and the request file. */
  workDir: string;
}

/**
 * Reads `METHOD<TAB>PATH<TAB>BODY` lines (args: Authorization value or "", the file), formats each once
 * per thread, and sends them in turn; at the end prints one `wrk-result {json}` line (times in µs).
 */
const SCRIPT = `
local prepared, sent = {}, 0

function init(args)
  local auth, file = args[1], args[2]
  for line in io.lines(file) do
    local method, path, body = line:match("^(%u+)\\t([^\\t]*)\\t(.*)$")
    local headers = {}
    if auth ~= "" then headers["Authorization"] = auth end
    if body == "" then body = nil else headers["Content-Type"] = "application/json" end
    prepared[#prepared + 1] = wrk.format(method, path, headers, body)
  end
end

function request()
  sent = sent % #prepared + 1
  return prepared[sent]
end

function done(summary, latency)
  local e = summary.errors
  io.write(string.format(
    'wrk-result {"requests":%d,"duration":%d,"p50":%d,"p99":%d,"max":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
end
`;

/** Each request line; bodies are JSON, which never holds a raw tab or newline. */
export function requestLines(requests: WrkRequest[]): string {
  return requests.map(({ method, path, body = "" }) => `${method}\t${path}\t${body}\n`).join("");
}

/**
 * The result in wrk's output. wrk counts an answer of 400 or more as a `status` error (and still in its
 * requests); connect, read, write and timeout errors are requests that got no answer.
 */
export function parseWrkResult(stdout: string): LoadResult {
  const line = stdout.split("\n").find((l) => l.startsWith("wrk-result "));
  if (!line) throw new Error(`wrk printed no result:\n${stdout}`);
  const r = JSON.parse(line.slice("wrk-result ".length)) as Record<string, number>;
  const answered = r.requests - r.status;
  return {
    requests: answered,
    perSecond: answered / (r.duration / 1e6),
    p50ms: r.p50 / 1e3,
    p99ms: r.p99 / 1e3,
    maxms: r.max / 1e3,
    errors: r.connect + r.read + r.write + r.status + r.timeout,
  };
}

/** Closed-loop keep-alive load: `connections` connections, each sending its next request once the last one is answered. */
export async function wrk(opts: WrkOptions): Promise<LoadResult> {
  const script = path.join(opts.workDir, "wrk.lua");
  const requests = path.join(opts.workDir, "wrk-requests.txt");
  fs.mkdirSync(opts.workDir, { recursive: true });
  fs.writeFileSync(script, SCRIPT);
  fs.writeFileSync(requests, requestLines(opts.requests));
  // wrk's default two threads (one per connection at most): they got more from bare node:http than one did.
  const threads = Math.min(2, opts.connections);
  const args = [`-t${threads}`, `-c${opts.connections}`, `-d${opts.seconds}s`, "--timeout", "30s", "-s", script, opts.url, "--", opts.auth ?? "", requests];
  const { stdout } = await promisify(execFile)("wrk", args, { maxBuffer: 1 << 20 });
  return parseWrkResult(stdout);
}
