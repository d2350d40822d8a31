/**
 * `serve --retain-days N`: messages older than N days (and their acks) are removed by compaction at
 * start and then every hour, while the bus goes on serving.
 */
import type { CompactionOptions } from "./compaction";
import type { Log } from "../log";
import type { BusStore } from "./store";

export interface RetentionOptions extends CompactionOptions {
  days: number;
}

/** How often retention (and file expiry) looks for what has grown too old, in ms. */
export const RETENTION_INTERVAL_MS = 3_600_000;

/** Runs `run` now and then every RETENTION_INTERVAL_MS while the bus serves; its timer keeps no process alive. */
export function atStartAndHourly(run: () => Promise<void>): { stop(): void } {
  void run();
  const timer = setInterval(() => void run(), RETENTION_INTERVAL_MS);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

export function startRetention(store: BusStore, opts: RetentionOptions, log: Log): { stop(): void } {
  return atStartAndHourly(async () => {
    const cutoff = Date.now() - opts.days * 86_400_000;
    try {
      const removed = await store.removeOlderThan(cutoff, opts);
      if (removed > 0) log({ msg: "retention removed old messages", removed, olderThan: new Date(cutoff).toISOString(), oldest: store.oldest });
    } catch (error) {
      // The old files are whole until the swap: the next run tries again.
      log({ level: "error", msg: "retention failed; the store is as it was", error: (error as Error).message });
    }
  });
}
