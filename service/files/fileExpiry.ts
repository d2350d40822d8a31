/**
 * Files grow old (fileStore.ts `sweep`): what has expired is deleted at start and then every hour, like
 * retention, while the bus goes on serving.
 */
import type { FileStore } from "./fileStore";
import type { Log } from "../log";
import { atStartAndHourly } from "../store/retention";

export function startFileExpiry(files: FileStore, log: Log): { stop(): void } {
  return atStartAndHourly(async () => {
    try {
      const deleted = await files.sweep();
      if (deleted.files + deleted.partials > 0) log({ msg: "expired files deleted", ...deleted });
    } catch (error) {
      log({ level: "error", msg: "file expiry failed; the next run tries again", error: (error as Error).message });
    }
  });
}
