/**
 * The Node load generator, for the loads wrk cannot express: a set number of distinct requests (each sent
 * once), or requests until some event in the server. It shares these two cores with the server and tops
 * out far below wrk (about a third of bare node:http's rate), so no throughput figure comes from it.
 */
import * as http from "node:http";
import { fromLatencies, type LoadResult } from "./loadResult";

export interface LoadOptions {
  /** The server's origin. */
  url: string;
  /** Path and query of the n-th request (counted from 0 over all clients). */
  path: (n: number) => string;
  /** A JSON body for the n-th request: POSTs it when given, else GETs. */
  body?: (n: number) => string;
  auth: string;
  concurrency: number;
  /** Stop after this many requests, or once `until` settles, whichever comes first. */
  requests?: number;
  until?: Promise<unknown>;
  /** Status that counts as success. */
  expect: number;
}

/** A closed-loop load: `concurrency` keep-alive clients, each sending its next request when the last one answered. */
export async function load(opts: LoadOptions): Promise<LoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: opts.concurrency });
  const latencies: number[] = [];
  let errors = 0;
  let sent = 0;
  let stopped = false;
  const stop = () => (stopped = true);
  opts.until?.then(stop, stop);
  const started = process.hrtime.bigint();

  const once = (n: number) =>
    new Promise<void>((resolve) => {
      const body = opts.body?.(n);
      const headers: Record<string, string> = { Authorization: opts.auth };
      if (body !== undefined) {
        headers["Content-Type"] = "application/json";
        headers["Content-Length"] = String(Buffer.byteLength(body));
      }
      const t0 = process.hrtime.bigint();
      const req = http.request(new URL(opts.path(n), opts.url), { method: body === undefined ? "GET" : "POST", headers, agent }, (res) => {
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
    while (!stopped && (opts.requests === undefined || sent < opts.requests)) await once(sent++);
  };
  await Promise.all(Array.from({ length: opts.concurrency }, client));
  agent.destroy();
  return fromLatencies(latencies, Number(process.hrtime.bigint() - started) / 1e9, errors);
}
