/**
 * A real HTTP proxy on loopback in front of a real bus that fails requests on purpose, the way a flaky
 * network or nginx with a restarting upstream does: each request takes the next scripted fault, then
 * requests pass through untouched. It records every request it saw (method, path, headers).
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";

export type Fault =
  /** the connection is reset before anything reaches the bus */
  | "reset-before"
  /** the bus gets the request and answers, and the client's connection is reset instead of the answer */
  | "reset-after"
  /** a 502 page from the proxy; the bus never sees the request */
  | "502"
  /** the bus gets the request, the client gets a 504 */
  | "504-after"
  /** the connection is held this many ms before passing the request on */
  | { delayMs: number }
  /** the request is held unanswered until the proxy closes */
  | "hold"
  | "pass";

export interface Seen {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
}

export interface FlakyProxy {
  url: string;
  faults: Fault[];
  seen: Seen[];
  /** Resets every open client connection, as a network that drops them all at once. */
  dropAll(): void;
  close(): Promise<void>;
}

export async function startFlakyProxy(target: string, faults: Fault[] = []): Promise<FlakyProxy> {
  const seen: Seen[] = [];
  const state = { faults: [...faults] };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", async () => {
      seen.push({ method: req.method!, path: req.url!, headers: req.headers });
      const fault = state.faults.shift() ?? "pass";
      if (fault === "reset-before") return req.socket.resetAndDestroy();
      if (fault === "hold") return;
      if (fault === "502") return void res.writeHead(502, { "content-type": "text/html" }).end("<html><title>502 Bad Gateway</title></html>");
      if (typeof fault === "object") await new Promise((resolve) => setTimeout(resolve, fault.delayMs));
      const upstream = await forward(target, req, Buffer.concat(chunks)).catch(() => undefined);
      if (!upstream) return req.socket.resetAndDestroy();
      if (fault === "reset-after") return req.socket.resetAndDestroy();
      if (fault === "504-after") return void res.writeHead(504, { "content-type": "text/html" }).end("<html><title>504 Gateway Time-out</title></html>");
      res.writeHead(upstream.status, upstream.headers).end(upstream.body);
    });
  });
  const sockets = new Set<import("node:net").Socket>();
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get faults() {
      return state.faults;
    },
    set faults(next: Fault[]) {
      state.faults = next;
    },
    seen,
    dropAll: () => {
      for (const socket of sockets) socket.resetAndDestroy();
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function forward(target: string, req: http.IncomingMessage, body: Buffer): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const headers = { ...req.headers };
    delete headers.host;
    const out = http.request(target + req.url, { method: req.method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const h = { ...res.headers };
        delete h["transfer-encoding"];
        delete h.connection;
        resolve({ status: res.statusCode!, headers: h, body: Buffer.concat(chunks) });
      });
      res.on("error", reject);
    });
    out.on("error", reject);
    out.end(body);
  });
}
