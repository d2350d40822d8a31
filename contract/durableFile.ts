/**
 * Crash-safe file replacement, for the service's data dir and the CLI's files alike: a reader sees the
 * old content or the new, never a mix or nothing.
 */
import { promises as fs } from "node:fs";
import * as path from "node:path";

export interface DurableWriteOptions {
  /** The file's mode; 0600 unless said. */
  mode?: number;
  /** The temp file is `file + tempSuffix` (a name a caller cleans up at start); else a new unique name beside `file`. */
  tempSuffix?: string;
  platform?: NodeJS.Platform;
}

/** Writes `text` to a temp file beside `file`, fsyncs it, renames it over `file`, fsyncs the dir; a failed write leaves no temp file. */
export async function writeFileDurably(file: string, text: string, opts: DurableWriteOptions = {}): Promise<void> {
  const mode = opts.mode ?? 0o600;
  const named = opts.tempSuffix !== undefined;
  const temp = named ? file + opts.tempSuffix : path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`);
  // A unique name is created new ("wx"): it never follows a link someone left in its place.
  const handle = await fs.open(temp, named ? "w" : "wx", mode);
  try {
    await handle.writeFile(text, "utf8");
    await handle.chmod(mode); // the umask may have narrowed or (never) widened the create mode
    await handle.sync();
  } catch (err) {
    await handle.close();
    await fs.rm(temp, { force: true });
    throw err;
  }
  await handle.close();
  try {
    await moveDurably(temp, file, opts.platform);
  } catch (err) {
    await fs.rm(temp, { force: true });
    throw err;
  }
}

/** Renames `from` over `to` and fsyncs the directory so the rename survives a crash. */
export async function moveDurably(from: string, to: string, platform: NodeJS.Platform = process.platform): Promise<void> {
  await fs.rename(from, to);
  await syncDir(path.dirname(to), platform);
}

/**
 * fsyncs a directory, so a rename or a new entry in it survives a crash. Windows cannot open a directory
 * to fsync it (EPERM/EISDIR), and NTFS journals the rename itself: there the rename is all.
 */
export async function syncDir(dir: string, platform: NodeJS.Platform = process.platform): Promise<void> {
  if (platform === "win32") return;
  const handle = await fs.open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
