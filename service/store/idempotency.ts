/**
 * The Idempotency-Keys of recent posts: a repeat of a post (same sender, same key, within the window)
 * gets the message it made instead of a second one. Keys are stored in their message's line, so they
 * come back on start; in memory they are kept for the window only, oldest first.
 */
import { IDEMPOTENCY_WINDOW_HOURS } from "../../contract/defaults";

const WINDOW_MS = IDEMPOTENCY_WINDOW_HOURS * 3_600_000;

export class IdempotencyKeys {
  /** `${from}\0${key}` → id and post time, in posting order. */
  private readonly keys = new Map<string, { id: number; time: number }>();

  remember(from: string, key: string, id: number, time: number): void {
    const entry = `${from}\0${key}`;
    this.keys.delete(entry); // re-inserted last: the map stays in posting order
    this.keys.set(entry, { id, time });
  }

  /** The id a post with this key made within the window, if any. */
  find(from: string, key: string, now = Date.now()): number | undefined {
    this.forgetOlderThan(now - WINDOW_MS);
    return this.keys.get(`${from}\0${key}`)?.id;
  }

  /** How many keys are remembered (what they cost: one entry each, for the window). */
  get size(): number {
    return this.keys.size;
  }

  private forgetOlderThan(time: number): void {
    for (const [entry, { time: posted }] of this.keys) {
      if (posted >= time) return;
      this.keys.delete(entry);
    }
  }
}
