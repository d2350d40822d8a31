/**
 * When and how long to wait before trying a request again. Only failures in transit are retried: the
 * request may not have arrived (a reset, a refused or timed-out connection), or a proxy answered for a
 * bus it could not reach (502, 503, 504). Posts carry an Idempotency-Key, so a retry of one that did
 * arrive is answered with the original message and stores nothing twice.
 */
import { BusError, UnreachableError } from "./errors";

export interface RetryPolicy {
  /** Tries after the first; 0 sends once. */
  retries: number;
  /** The first wait; each further one doubles, and each is drawn uniformly from [0, that] ("full jitter"). */
  baseDelayMs: number;
  /** No single wait is longer. */
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { retries: 4, baseDelayMs: 200, maxDelayMs: 3_000 };

const TRANSIENT_STATUS = new Set([502, 503, 504]);
const TRANSIENT_CODES = new Set(["ECONNRESET", "ECONNREFUSED", "EPIPE", "ETIMEDOUT", "ECONNABORTED", "EAI_AGAIN", "ENETUNREACH", "EHOSTUNREACH"]);

export function isTransient(err: unknown): boolean {
  if (err instanceof BusError) return TRANSIENT_STATUS.has(err.status);
  if (err instanceof UnreachableError) return err.code === undefined || TRANSIENT_CODES.has(err.code);
  return false;
}

/** The wait before try `attempt` (1 = the first retry). */
export function backoffMs(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(random() * ceiling);
}

/** Runs `attempt` until it succeeds, fails for good, or the tries are used up. */
export async function withRetries<T>(policy: RetryPolicy, attempt: () => Promise<T>): Promise<T> {
  for (let tried = 0; ; tried++) {
    try {
      return await attempt();
    } catch (err) {
      if (tried >= policy.retries || !isTransient(err)) throw err;
      await new Promise((resolve) => setTimeout(resolve, backoffMs(policy, tried + 1)));
    }
  }
}
