import * as http from "http";

export interface LoadResult {
  requests: number;
  perSecond: number;
  p50ms: number;
  p99ms: number;
  maxms: number;
  errors: number;
}

export interface LoadOptions {
  url: string;
  method?: "GET" | "POST";
  /** Path and query of each request (the n-th overall), when they differ from `url`'s. */
  path?: (n: number) => string;
  /** Body for each request (the n-th overall). */
  body?: (n: number) => string;
  auth?: string;
  concurrency: number;
  /** Stop after this long, or after `requests` requests, whichever comes first. */
  seconds: number;
  requests?: number;
  /** Status that counts as success. */
  expect: number;
}

/** A closed-loop load generator: `concurrency` keep-alive clients, each sending its next request when the last one answered. */
export async function load(opts: LoadOptions): Promise<LoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: opts.concurrency });
  const target = new URL(opts.url);
  const latencies: number[] = [];
  let errors = 0;
  let sent = 0;
  const started = process.hrtime.bigint();
  const deadline = started + BigInt(Math.round(opts.seconds * 1e9));

  const once = (n: number) =>
    new Promise<void>((resolve) => {
      const body = opts.body?.(n);
      const headers: Record<string, string> = {};
      if (opts.auth) headers.Authorization = opts.auth;
      if (body !== undefined) {
        headers["Content-Type"] = "application/json";
        headers["Content-Length"] = String(Buffer.byteLength(body));
      }
      const t0 = process.hrtime.bigint();
      const url = opts.path ? new URL(opts.path(n), target) : target;
      const req = http.request(url, { method: opts.method ?? "GET", headers, agent }, (res) => {
        res.resume();
        res.on("end", () => {
          if (res.statusCode === opts.expect) latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
          else errors++;
          resolve();
        });
      });
      req.on("error", () => {
        errors++;
        resolve();
      });
      req.end(body);
    });

  const client = async () => {
    while (process.hrtime.bigint() < deadline && (opts.requests === undefined || sent < opts.requests)) await once(sent++);
  };
  await Promise.all(Array.from({ length: opts.concurrency }, client));
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? NaN;
  return { requests: latencies.length, perSecond: latencies.length / elapsed, p50ms: pct(0.5), p99ms: pct(0.99), maxms: latencies[latencies.length - 1] ?? NaN, errors };
}
