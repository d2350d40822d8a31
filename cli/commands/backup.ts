/**
 * `claude-bus backup`: GET /backup (a consistent .tar.gz of the whole store, taken while the bus runs)
 * into a local file over the same HTTPS and credential as everything else; no SSH key needed.
 */
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { createBusClient } from "../../client/index";
import { booleanOption, noPositionals, ParsedCommand, stringOption } from "../args";
import { connectionFlags, resolveConfig } from "../config";
import { EXIT } from "../exitCodes";
import { Io, UsageError } from "../io";

/** claude-bus-backup-20261129T140102Z.tar.gz: sorts by time, and safe in every file system. */
export const defaultBackupName = (now: Date): string => `claude-bus-backup-${now.toISOString().replace(/[-:]|\.\d+/g, "")}.tar.gz`;

export async function backup(parsed: ParsedCommand, io: Io): Promise<number> {
  noPositionals("backup", parsed);
  const file = path.resolve(stringOption(parsed, "out") ?? defaultBackupName(new Date()));
  if (!booleanOption(parsed, "force") && (await exists(file))) throw new UsageError(`${file} exists: pass --force to replace it, or --out another FILE`);
  const cfg = await resolveConfig(connectionFlags(parsed), io);
  const { bytes } = await createBusClient(cfg).backup(file);
  io.out(`✓ backup of ${cfg.url} written to ${file} (${bytes} bytes)`);
  io.out(`  restore it into an empty data dir with: claude-bus restore ${file} [--data DIR | --ssh --target HOST --config host.json]`);
  return EXIT.ok;
}

async function exists(file: string): Promise<boolean> {
  try {
    await fs.lstat(file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw err;
  }
}
