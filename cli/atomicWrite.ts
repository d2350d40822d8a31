/** Crash-safe file replacement: a reader sees the old content or the new, never a mix or nothing. */
import { promises as fs } from "node:fs";
import * as path from "node:path";

/** Writes `text` to a temp file beside `file` with `mode`, fsyncs it, renames it over `file`, fsyncs the dir. */
export async function writeFileAtomic(file: string, text: string, mode: number): Promise<void> {
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
    await moveAtomic(temp, file);
  } catch (err) {
    await fs.rm(temp, { force: true });
    throw err;
  }
}

/** Renames `from` over `to` and fsyncs the directory so the rename survives a crash. */
export async function moveAtomic(from: string, to: string): Promise<void> {
  await fs.rename(from, to);
  const dir = await fs.open(path.dirname(to), "r");
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}
