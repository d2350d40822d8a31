/** The credentials env file on disk: read (with a warning when others can read it) and written privately. */
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { EnvFileError, type EnvFileValues, parseEnvFile } from "../contract/envFile";
import { writeFileDurably } from "../contract/durableFile";
import { readFileAndMode } from "./fileAndMode";

/**
 * Reads and parses the file; `undefined` when it does not exist. A file others can read (it holds the
 * password) is still used, with a warning that says how to fix it; Windows has no such modes.
 */
export async function readEnvFile(file: string, warn: (line: string) => void, platform = process.platform): Promise<EnvFileValues | undefined> {
  const read = await readFileAndMode(file).catch((err: Error) => {
    throw new EnvFileError(file, `cannot read: ${err.message}`);
  });
  if (!read) return undefined;
  const { text, mode } = read;
  if (platform !== "win32" && (mode & 0o077) !== 0) {
    warn(`warning: ${file} holds the bus password and others can read it (mode ${octal(mode)}): chmod 600 ${file}`);
  }
  return parseEnvFile(text, file);
}

/** Writes the credential file atomically with mode 0600, in a directory of mode 0700 (tightened if it was looser). */
export async function writeEnvFile(file: string, text: string, platform = process.platform): Promise<void> {
  const dir = path.dirname(file);
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  if (platform !== "win32") await fs.chmod(dir, 0o700);
  await writeFileDurably(file, text, { mode: 0o600 });
}

/** Where `rotate` keeps a new password beside the env file until it is verified (0600, like the env file). */
export const pendingEnvFile = (envFile: string) => `${envFile}.rotating`;

export const octal = (mode: number) => mode.toString(8).padStart(4, "0");
