/**
 * The session cookie on the wire, and the origin checks around it. The cookie is HttpOnly (no script
 * reads it), SameSite=Strict (no other site's page sends it), Path=/, with a Max-Age, and Secure when the
 * request came over TLS: to this process directly, or, behind the proxy (nginx on the host, `serve
 * --behind-proxy`) and from loopback, as nginx's X-Forwarded-Proto says (trusted like its X-Real-IP).
 */
import type { IncomingMessage } from "node:http";
import type { TLSSocket } from "node:tls";
import { SESSION_COOKIE } from "../../contract/defaults";
import { isLoopback } from "./authFailures";

/** The session cookie's token, when the request carries one. */
export function sessionToken(req: IncomingMessage): string | null {
  for (const part of (req.headers.cookie ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === SESSION_COOKIE) return part.slice(eq + 1).trim() || null;
  }
  return null;
}

/** Whether the browser reached the bus over TLS. */
export function overTls(req: IncomingMessage, behindProxy: boolean): boolean {
  if ((req.socket as TLSSocket).encrypted) return true;
  return behindProxy && isLoopback(req.socket.remoteAddress) && req.headers["x-forwarded-proto"] === "https";
}

/** The Set-Cookie value that gives the browser `token` for `seconds` (0 with an empty token: remove it). */
export function sessionCookie(token: string, seconds: number, secure: boolean): string {
  return `${SESSION_COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${seconds}${secure ? "; Secure" : ""}`;
}

/**
 * Whether the request's Origin is the bus's own: the scheme it was reached by and its Host header (a
 * browser sends both; a page on another site cannot set either to this bus's). A missing Origin is not.
 */
export function sameOrigin(req: IncomingMessage, behindProxy: boolean): boolean {
  const origin = req.headers.origin;
  const host = req.headers.host;
  if (origin === undefined || host === undefined) return false;
  return origin.toLowerCase() === `${overTls(req, behindProxy) ? "https" : "http"}://${host}`.toLowerCase();
}

/** Methods that change nothing: the cookie alone may send them. */
export const isSafeMethod = (method: string | undefined): boolean => method === "GET" || method === "HEAD";
