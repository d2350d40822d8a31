/** Crash-safe file replacement: a reader sees the old content or the new, never a mix or nothing. */
import { promises as fs } from "node:fs";
import * as path from "node:path";

/** Writes `text` to a temp file beside `file` with `mode`, fsyncs it, renames it over `file`, fsyncs the dir. */
export async function writeFileAtomic(file: string, text: string, mode: number, platform: NodeJS.Platform = process.platform): Promise<void> {
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`);
  const handle = await fs.open(temp, "wx", mode);
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
    await moveAtomic(temp, file, platform);
  } catch (err) {
    await fs.rm(temp, { force: true });
    throw err;
  }
}

/**
 * Renames `from` over `to` and fsyncs the directory so the rename survives a crash. Windows cannot open
 * a directory to fsync it (EPERM/EISDIR), and NTFS journals the rename itself: there the rename is all.
 */
export async function moveAtomic(from: string, to: string, platform: NodeJS.Platform = process.platform): Promise<void> {
  await fs.rename(from, to);
  if (platform === "win32") return;
  const dir = await fs.open(path.dirname(to), "r");
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}
