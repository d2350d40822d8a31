/**
 * What reaches the HTTP server before (or instead of) a request Express sees, answered in the contract's
 * JSON shape and in order: requests node's parser rejects, `Expect` headers, CONNECT, connections that
 * never send a byte, and bodies that take too long. No answer jumps ahead of one still in flight on the
 * same connection. `Expect: 100-continue` is answered by the route, once it wants the body, so a request
 * refused on its headers (a wrong credential, a file too large) never sends its body.
 */
import * as http from "node:http";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import { SERVICE_KEEP_ALIVE_SECONDS, UPLOAD_IDLE_SECONDS } from "../../contract/defaults";
import { HTTP_ERRORS, type HttpErrorName, errorBody } from "../../contract/httpErrors";

export interface ConnectionTimeouts {
  /** How long a connection may stay open without sending its first byte. */
  firstByteMs: number;
  /** How long a request's headers may take to arrive, and then its body (an upload's only counts while it stalls). */
  headersMs: number;
  requestMs: number;
  /** How long an upload's body may send nothing. */
  uploadIdleMs: number;
}

export const CONNECTION_TIMEOUTS: ConnectionTimeouts = { firstByteMs: 10_000, headersMs: 10_000, requestMs: 30_000, uploadIdleMs: UPLOAD_IDLE_SECONDS * 1000 };

/**
 * The server's own options: node's defaults would answer a missing Host with an empty 400. Node's own
 * request timeout is off: it would cut every upload longer than requestMs (guardConnections times bodies).
 */
export function serverOptions(timeouts: ConnectionTimeouts): http.ServerOptions {
  return {
    requireHostHeader: false,
    headersTimeout: timeouts.headersMs,
    requestTimeout: 0,
    keepAliveTimeout: SERVICE_KEEP_ALIVE_SECONDS * 1000,
    connectionsCheckingInterval: Math.min(1_000, timeouts.headersMs),
  };
}

/** Requests whose body may take longer than requestMs (uploads, timed by their idleness instead). */
const longBodies = new WeakSet<http.IncomingMessage>();
export const allowLongBody = (req: http.IncomingMessage): void => void longBodies.add(req);

/** Whether the client waits for 100 Continue before it sends the body. */
export const expectsContinue = (req: http.IncomingMessage): boolean => /^100-continue$/i.test(req.headers.expect ?? "");

/** Lets a client that sent `Expect: 100-continue` send its body: called by a route once it wants it. */
export function acceptBody(req: http.IncomingMessage, res: http.ServerResponse): void {
  if (expectsContinue(req) && !res.headersSent) res.writeContinue();
}

const hasBody = (req: http.IncomingMessage) => req.headers["transfer-encoding"] !== undefined || Number(req.headers["content-length"] ?? 0) > 0;

/** A whole HTTP/1.1 error response on a raw socket, then the connection is closed. */
function rawError(socket: Duplex, kind: HttpErrorName, text: string, extraHeaders = ""): void {
  const { status } = HTTP_ERRORS[kind];
  const body = errorBody(text);
  socket.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nX-Robots-Tag: noindex\r\n${extraHeaders}` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

function timeOut(req: http.IncomingMessage, res: http.ServerResponse): void {
  if (req.complete || longBodies.has(req)) return;
  if (res.headersSent) return void req.socket.destroy();
  res.writeHead(HTTP_ERRORS.requestTimeout.status, { "Content-Type": "application/json; charset=utf-8", "X-Robots-Tag": "noindex", Connection: "close" });
  res.end(errorBody("the request's body did not arrive in time"), () => req.socket.destroy());
}

export function guardConnections(server: http.Server, timeouts: ConnectionTimeouts): void {
  /** Requests on each connection whose answer is not finished yet, and the error to send after them. */
  const inFlight = new WeakMap<Socket, number>();
  const pending = new WeakMap<Socket, () => void>();
  /** The last request on each connection: while its body is arriving, a parse error is in that body. */
  const latest = new WeakMap<Socket, http.IncomingMessage>();

  server.on("connection", (socket: Socket) => {
    // Node's header timeout starts at the first byte; a connection that sends none would stay forever.
    const timer = setTimeout(() => {
      if (socket.bytesRead === 0) socket.destroy();
    }, timeouts.firstByteMs);
    timer.unref();
    socket.once("close", () => clearTimeout(timer));
  });

  server.prependListener("request", (req: http.IncomingMessage, res: http.ServerResponse) => {
    const socket = req.socket;
    inFlight.set(socket, (inFlight.get(socket) ?? 0) + 1);
    latest.set(socket, req);
    // A body still arriving after requestMs: 408 (the route may not have answered yet), and the connection closes.
    const deadline = hasBody(req) ? setTimeout(() => timeOut(req, res), timeouts.requestMs) : undefined;
    res.once("close", () => {
      clearTimeout(deadline);
      const left = (inFlight.get(socket) ?? 1) - 1;
      inFlight.set(socket, left);
      if (left === 0) pending.get(socket)?.();
    });
  });

  // Node answers this itself with 100 Continue unless someone listens: the route decides (acceptBody).
  server.on("checkContinue", (req: http.IncomingMessage, res: http.ServerResponse) => server.emit("request", req, res));

  server.on("clientError", (error: NodeJS.ErrnoException, socket: Duplex) => {
    if (error.code === "ECONNRESET" || !socket.writable) return void socket.destroy();
    // A body cut short (the client went away mid-upload) or malformed: its request can never finish.
    if (latest.get(socket as Socket)?.complete === false) return void socket.destroy();
    const answer =
      error.code === "ERR_HTTP_REQUEST_TIMEOUT"
        ? () => rawError(socket, "requestTimeout", HTTP_ERRORS.requestTimeout.text)
        : () => rawError(socket, "badRequest", `malformed HTTP request (${error.code ?? "parse error"})`);
    // Answers go out in request order: the error waits for the answers still owed on this connection.
    if ((inFlight.get(socket as Socket) ?? 0) > 0) pending.set(socket as Socket, answer);
    else answer();
  });

  server.on("checkExpectation", (_req: http.IncomingMessage, res: http.ServerResponse) => {
    res.writeHead(HTTP_ERRORS.expectationFailed.status, { "Content-Type": "application/json; charset=utf-8", "X-Robots-Tag": "noindex", Connection: "close" });
    res.end(errorBody(HTTP_ERRORS.expectationFailed.text));
  });

  server.on("connect", (_req: http.IncomingMessage, socket: Duplex) => {
    rawError(socket, "methodNotAllowed", "method CONNECT not allowed: this is not a proxy", "Allow: GET, HEAD, POST\r\n");
  });
}
