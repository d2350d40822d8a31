/**
 * Guessing is slow: a client address that fails to authenticate (a wrong credential, a wrong invite
 * code) too often in a window gets 429 for every request for a while, the right credential included, so
 * a guesser learns nothing while blocked. Only different wrong credentials count: a hook retrying one
 * stale password does not lock out the office behind the same address, and a guesser must vary. IPv6
 * addresses count by their /64, the block one host gets.
 */
import { isIP } from "node:net";
import type { IncomingMessage } from "node:http";
import { AUTH_BLOCK_SECONDS, AUTH_FAILURE_WINDOW_SECONDS, AUTH_FAILURES_ALLOWED, MAX_TRACKED_ADDRESSES } from "../../contract/defaults";

export interface FailureLimits {
  allowed: number;
  windowMs: number;
  blockMs: number;
}

export const AUTH_FAILURE_LIMITS: FailureLimits = {
  allowed: AUTH_FAILURES_ALLOWED,
  windowMs: AUTH_FAILURE_WINDOW_SECONDS * 1000,
  blockMs: AUTH_BLOCK_SECONDS * 1000,
};

interface Failures {
  /** Fingerprints of the wrong credentials tried in this window. */
  tried: Set<string>;
  windowStart: number;
  blockedUntil: number;
}

export const isLoopback = (address: string | undefined) => address !== undefined && (/^(?:::ffff:)?127\./.test(address) || address === "::1");

/**
 * The address a request came from: the socket's, or, behind the proxy (nginx on the host: `serve
 * --behind-proxy`, which the host's unit sets) and when the socket is loopback, the X-Real-IP nginx sets.
 * Otherwise X-Real-IP is ignored, so no client (a local process, an SSH tunnel) can pick its own address.
 */
export function clientAddress(req: IncomingMessage, behindProxy: boolean): string {
  const socket = req.socket.remoteAddress ?? "unknown";
  const real = req.headers["x-real-ip"];
  const address = behindProxy && isLoopback(socket) && typeof real === "string" && isIP(real.trim()) ? real.trim() : socket;
  return address.replace(/^::ffff:(?=\d+\.)/, "");
}

/** The key failures count under: an IPv4 address, or an IPv6 address's first 64 bits. */
function keyOf(address: string): string {
  if (isIP(address) !== 6) return address;
  const [head, tail = ""] = address.split("::");
  const groups = [...head.split(":").filter(Boolean)];
  const tailGroups = tail.split(":").filter(Boolean);
  const full = [...groups, ...Array(8 - groups.length - tailGroups.length).fill("0"), ...tailGroups];
  return `${full
    .slice(0, 4)
    .map((g) => parseInt(g, 16).toString(16))
    .join(":")}::/64`;
}

export class AuthFailures {
  private readonly byKey = new Map<string, Failures>();

  constructor(
    private readonly limits: FailureLimits = AUTH_FAILURE_LIMITS,
    private readonly now: () => number = Date.now,
  ) {}

  /** Milliseconds `address` stays blocked; 0 when it may try. */
  blockedFor(address: string): number {
    const entry = this.byKey.get(keyOf(address));
    return entry ? Math.max(0, entry.blockedUntil - this.now()) : 0;
  }

  /** Counts a failure with a credential of this fingerprint (a hash); returns true when it starts a block. */
  failed(address: string, fingerprint: string): boolean {
    const key = keyOf(address);
    const now = this.now();
    let entry = this.byKey.get(key);
    if (!entry || now - entry.windowStart >= this.limits.windowMs) {
      this.byKey.delete(key); // re-inserted last: Map order is then oldest activity first
      entry = { tried: new Set(), windowStart: now, blockedUntil: entry?.blockedUntil ?? 0 };
      this.byKey.set(key, entry);
      this.bound(now);
    }
    if (entry.tried.size < this.limits.allowed) entry.tried.add(fingerprint);
    if (entry.tried.size < this.limits.allowed || entry.blockedUntil > now) return false;
    entry.blockedUntil = now + this.limits.blockMs;
    return true;
  }

  /** Addresses remembered now (at most MAX_TRACKED_ADDRESSES). */
  get tracked(): number {
    return this.byKey.size;
  }

  /**
   * Stays within MAX_TRACKED_ADDRESSES, trimming a tenth at a time (so rarely): forgets finished windows
   * first, then the oldest addresses that are not blocked (so a flood of new addresses does not free a
   * blocked one), then the oldest of all.
   */
  private bound(now: number): void {
    if (this.byKey.size <= MAX_TRACKED_ADDRESSES) return;
    const target = Math.floor(MAX_TRACKED_ADDRESSES * 0.9);
    for (const [key, e] of this.byKey) if (now - e.windowStart >= this.limits.windowMs && e.blockedUntil <= now) this.byKey.delete(key);
    for (const forgettable of [(e: Failures) => e.blockedUntil <= now, () => true]) {
      for (const [key, e] of this.byKey) {
        if (this.byKey.size <= target) return;
        if (forgettable(e)) this.byKey.delete(key);
      }
    }
  }
}
