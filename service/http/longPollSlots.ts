/**
 * Long-polls held at once, per credential: each costs an open request and its memory, so one credential
 * may hold only so many; beyond, 429 with Retry-After (when its first held one ends at the latest). The
 * team credential is counted per client address: every machine without its own credential shares it.
 */
import type { Identity } from "../members/access";
import { getOrCreate } from "../../contract/maps";

export class LongPollSlots {
  /** Per holder, the end time (ms) of each long-poll it holds. */
  private readonly held = new Map<string, Set<{ ends: number }>>();

  constructor(
    readonly max: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes a slot for a long-poll of `ms` until `release` is called; at the cap, how long until one frees up. */
  take(holder: string, ms: number): { release(): void } | { retryAfterMs: number } {
    const now = this.now();
    const slots = getOrCreate(this.held, holder, () => new Set<{ ends: number }>());
    if (slots.size >= this.max) return { retryAfterMs: Math.max(0, Math.min(...[...slots].map((s) => s.ends)) - now) };
    const slot = { ends: now + ms };
    slots.add(slot);
    const own = slots;
    return {
      release: () => {
        own.delete(slot);
        if (own.size === 0 && this.held.get(holder) === own) this.held.delete(holder);
      },
    };
  }
}

/** Whose long-polls a request's count among: its machine's, or the team credential's from its address. */
export const longPollHolder = (identity: Identity, address: string): string => (identity.kind === "machine" ? identity.name : `~team@${address}`);
