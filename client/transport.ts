/**
 * One HTTP exchange with the bus over node:http(s). Not the global fetch: undici and its wasm parser
 * cost ~100 ms and ~40 MiB on first use, which every Claude Code prompt would pay through the hook.
 */
import * as fs from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { UnreachableError } from "./errors";

export interface Exchange {
  method: "GET" | "POST" | "PUT" | "DELETE";
  url: string;
  headers: Record<string, string>;
  body?: string;
  /** The whole exchange, connect to last byte; past it the request is abandoned as unreachable. */
  timeoutMs: number;
}

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

/** Sends one request; resolves with any HTTP answer, rejects with an UnreachableError when there is none. */
export function exchange(base: string, req: Exchange): Promise<Answer> {
  const url = new URL(req.url);
  const send = url.protocol === "https:" ? https.request : http.request;
  return new Promise((resolve, reject) => {
    const fail = (reason: string, code?: string) => reject(new UnreachableError(base, reason, code));
    const headers = { ...req.headers, ...(req.body === undefined ? {} : { "content-length": String(Buffer.byteLength(req.body)) }) };
    // agent: false: one connection per exchange, closed after it, so a short-lived process exits at once
    const request = send(url, { method: req.method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", (err: NodeJS.ErrnoException) => fail(describe(err), err.code));
    });
    const timer = setTimeout(() => {
      request.destroy();
      fail(`no answer within ${req.timeoutMs} ms`, "ETIMEDOUT");
    }, req.timeoutMs);
    request.on("close", () => clearTimeout(timer));
    request.on("error", (err: NodeJS.ErrnoException) => fail(describe(err), err.code));
    request.end(req.body);
  });
}

/**
 * A GET whose 200 answer streams into `file` (through `file.part`, renamed when whole, so a cut download
 * never looks finished); any other answer is read as text. `timeoutMs` is how long it may stall.
 */
export function download(
  base: string,
  req: { url: string; headers: Record<string, string>; timeoutMs: number },
  file: string,
): Promise<{ status: number; text: string; bytes: number }> {
  const url = new URL(req.url);
  const send = url.protocol === "https:" ? https.request : http.request;
  return new Promise((resolve, reject) => {
    const fail = (err: NodeJS.ErrnoException) => reject(new UnreachableError(base, describe(err), err.code));
    const request = send(url, { method: "GET", headers: req.headers, agent: false }, (res) => {
      if (res.statusCode !== 200) {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8"), bytes: 0 }));
        return;
      }
      const part = `${file}.part`;
      let bytes = 0;
      res.on("data", (chunk: Buffer) => (bytes += chunk.length));
      // A new file of its own ("wx"): a .part left by a killed run, or a link planted there, keeps no say over
      // its mode. Removed in this tick, so the pipeline is in place before the first byte is read.
      try {
        fs.rmSync(part, { force: true });
      } catch (err) {
        res.resume();
        return reject(err);
      }
      pipeline(res, fs.createWriteStream(part, { mode: 0o600, flags: "wx" }))
        .then(() => fs.promises.rename(part, file))
        .then(() => resolve({ status: 200, text: "", bytes }))
        .catch(async (err: NodeJS.ErrnoException) => {
          await fs.promises.rm(part, { force: true });
          if (err.syscall === "open" || err.syscall === "write" || err.syscall === "rename") reject(err);
          else fail(err);
        });
    });
    request.setTimeout(req.timeoutMs, () => request.destroy(Object.assign(new Error(`nothing arrived for ${req.timeoutMs} ms`), { code: "ETIMEDOUT" })));
    request.on("error", fail);
    request.end();
  });
}

export interface StreamRequest {
  method: "GET" | "HEAD" | "PUT";
  url: string;
  headers: Record<string, string>;
  /** A PUT's body, sent once the bus answers `100 Continue`: a request it refuses on its headers sends none. */
  body?: Readable;
  /** How long nothing may arrive before the request is abandoned (ETIMEDOUT), while the answer streams too. */
  idleMs: number;
}

/**
 * Sends one request and resolves with the answer as it starts; reading its body is the caller's. No answer
 * is an UnreachableError; the body breaking off later is an error of the answer's stream (see inTransit).
 */
export function openStream(base: string, req: StreamRequest): Promise<http.IncomingMessage> {
  const url = new URL(req.url);
  const send = url.protocol === "https:" ? https.request : http.request;
  const headers = req.body ? { ...req.headers, expect: "100-continue" } : req.headers;
  return new Promise((resolve, reject) => {
    const request = send(url, { method: req.method, headers, agent: false }, (res) => {
      // A body the bus did not ask for is not sent; after the answer the one-use connection is done.
      req.body?.unpipe(request).destroy();
      res.on("end", () => request.destroy());
      resolve(res);
    });
    if (req.body) {
      const body = req.body;
      body.on("error", (err) => request.destroy(err));
      request.on("continue", () => body.pipe(request));
    } else request.end();
    request.setTimeout(req.idleMs, () => request.destroy(Object.assign(new Error(`nothing moved for ${req.idleMs} ms`), { code: "ETIMEDOUT" })));
    request.on("error", (err: NodeJS.ErrnoException) => reject(inTransit(base, err)));
  });
}

/** A failure while bytes travel, as the UnreachableError retries know; a local file's error (it names its path) stays itself. */
export function inTransit(base: string, err: NodeJS.ErrnoException): Error {
  if (err instanceof UnreachableError || err.path !== undefined) return err;
  return new UnreachableError(base, describe(err), err.code ?? "ECONNRESET");
}

function describe(err: NodeJS.ErrnoException): string {
  return err.code ? `${err.code} (${err.message})` : err.message;
}
