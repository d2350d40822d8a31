/** A transfer's progress on a terminal: one line on stderr, redrawn in place, cleared when done. */
import type { OnProgress } from "../client/index";
import { formatBytes } from "../contract/byteSize";
import type { Io } from "./io";

const WIDTH = 24;
/** Redraws at most this often: a fast transfer would otherwise spend its time on the terminal. */
const REDRAW_MS = 100;

export interface ProgressBar {
  update: OnProgress;
  /** Clears the line (the command then prints its own). */
  done(): void;
}

/** A bar labelled `label`, or one that shows nothing when stderr is not a terminal. */
export function progressBar(io: Io, label: string): ProgressBar {
  const status = io.status;
  if (!status) return { update: () => undefined, done: () => undefined };
  let drawn = 0;
  return {
    update(done, total) {
      const now = Date.now();
      if (now - drawn < REDRAW_MS && done < total) return;
      drawn = now;
      // Clamped: a file that grew while it was sent must not break the bar.
      const share = total > 0 ? Math.min(Math.max(done / total, 0), 1) : 1;
      const filled = Math.round(share * WIDTH);
      status(`${label} [${"#".repeat(filled)}${"-".repeat(WIDTH - filled)}] ${Math.floor(share * 100)}% of ${formatBytes(total)}`);
    },
    done: () => status(""),
  };
}
