/** Writing a whole small file so that a crash leaves the old one or the new one, never a mix or nothing. */
import { promises as fsp } from "fs";
import * as path from "path";

/** fsync a directory, so a rename or a new entry in it survives a crash. */
export async function syncDir(dir: string): Promise<void> {
  const handle = await fsp.open(dir, "r");
  await handle.sync().finally(() => handle.close());
}

/** Writes `text` to `file + suffix`, fsyncs it, renames it over `file` and fsyncs the directory. */
export async function writeFileDurably(file: string, text: string, suffix = ".tmp"): Promise<void> {
  const temp = file + suffix;
  await fsp.writeFile(temp, text, { mode: 0o600 });
  const handle = await fsp.open(temp, "r+");
  await handle.sync().finally(() => handle.close());
  await fsp.rename(temp, file);
  await syncDir(path.dirname(file));
}
