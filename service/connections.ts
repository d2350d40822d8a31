/**
 * What reaches the HTTP server before (or instead of) a request Express sees, answered in the contract's
 * JSON shape and in order: requests node's parser rejects, `Expect` headers, CONNECT, and connections
 * that never send a byte. No answer jumps ahead of one still in flight on the same connection.
 */
import * as http from "http";
import type { Socket } from "net";
import type { Duplex } from "stream";
import { HTTP_ERRORS, HttpErrorName, errorBody } from "../contract/httpErrors";

export interface ConnectionTimeouts {
  /** How long a connection may stay open without sending its first byte. */
  firstByteMs: number;
  /** How long a request's headers, and the whole request, may take to arrive. */
  headersMs: number;
  requestMs: number;
}

export const CONNECTION_TIMEOUTS: ConnectionTimeouts = { firstByteMs: 10_000, headersMs: 10_000, requestMs: 30_000 };

/** The server's own options: node's defaults would answer a missing Host with an empty 400. */
export function serverOptions(timeouts: ConnectionTimeouts): http.ServerOptions {
  return {
    requireHostHeader: false,
    headersTimeout: timeouts.headersMs,
    requestTimeout: timeouts.requestMs,
    connectionsCheckingInterval: Math.min(1_000, timeouts.headersMs),
  };
}

/** A whole HTTP/1.1 error response on a raw socket, then the connection is closed. */
function rawError(socket: Duplex, kind: HttpErrorName, text: string, extraHeaders = ""): void {
  const { status } = HTTP_ERRORS[kind];
  const body = errorBody(text);
  socket.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nX-Robots-Tag: noindex\r\n${extraHeaders}` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

export function guardConnections(server: http.Server, timeouts: ConnectionTimeouts): void {
  /** Requests on each connection whose answer is not finished yet, and the error to send after them. */
  const inFlight = new WeakMap<Socket, number>();
  const pending = new WeakMap<Socket, () => void>();

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
    res.once("close", () => {
      const left = (inFlight.get(socket) ?? 1) - 1;
      inFlight.set(socket, left);
      if (left === 0) pending.get(socket)?.();
    });
  });

  server.on("clientError", (error: NodeJS.ErrnoException, socket: Duplex) => {
    if (error.code === "ECONNRESET" || !socket.writable) return void socket.destroy();
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
