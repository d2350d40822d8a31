/** ~/.claude/settings.json, read strictly and rewritten atomically with every key we do not own kept as it was. */
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { writeFileDurably } from "../contract/durableFile";
import { readFileAndMode } from "./fileAndMode";

export type Settings = Record<string, unknown>;

export class SettingsError extends Error {}

export function claudeDir(home = os.homedir()): string {
  return path.join(home, ".claude");
}

export function settingsPath(home?: string): string {
  return path.join(claudeDir(home), "settings.json");
}

export async function readSettings(file = settingsPath()): Promise<{ settings: Settings; mode: number } | undefined> {
  const read = await readFileAndMode(file);
  if (!read) return undefined;
  const { text, mode } = read;
  let settings: unknown;
  try {
    settings = JSON.parse(text);
  } catch (err) {
    throw new SettingsError(`${file} is not valid JSON (${(err as Error).message}): fix it by hand, then re-run`);
  }
  if (!isObject(settings)) throw new SettingsError(`${file} is not a JSON object: fix it by hand, then re-run`);
  return { settings, mode };
}

/** Writes `settings` back with the file's old mode (0600 for a new file), so a crash cannot leave it half-written. */
export async function writeSettings(settings: Settings, mode = 0o600, file = settingsPath(), platform: NodeJS.Platform = process.platform): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  await writeFileDurably(file, `${JSON.stringify(settings, null, 2)}\n`, { mode, platform });
}

/** `settings[key]` as an object ({} when absent); a SettingsError when the file has something else there. */
export function objectAt(settings: Settings, key: string, file = settingsPath()): Record<string, unknown> {
  const value = settings[key] ?? {};
  if (!isObject(value)) throw new SettingsError(`${file}: "${key}" is not an object: fix it by hand, then re-run`);
  return value;
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
