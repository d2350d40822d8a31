/**
 * `claude-bus backup`: GET /backup (a consistent .tar.gz of the whole store, taken while the bus runs)
 * into a local file over the same HTTPS and credential as everything else; no SSH key needed. With
 * --to-s3 the file goes to the backup bucket instead, and only the newest --keep N stay there (the
 * host's daily timer runs this).
 */
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { createBusClient } from "../../client/index";
import { BACKUP_KEEP_RANGE, DEFAULT_BACKUP_KEEP } from "../../contract/defaults";
import { booleanOption, noPositionals, type ParsedCommand, stringOption } from "../args";
import { connectionFlags, resolveConfig } from "../config";
import { EXIT } from "../exitCodes";
import { type Io, UsageError } from "../io";

/** claude-bus-backup-20261129T140102Z.tar.gz: sorts by time, and safe in every file system. */
export const defaultBackupName = (now: Date): string => `claude-bus-backup-${now.toISOString().replace(/[-:]|\.\d+/g, "")}.tar.gz`;

export async function backup(parsed: ParsedCommand<"backup">, io: Io): Promise<number> {
  noPositionals("backup", parsed);
  if (booleanOption(parsed, "to-s3")) return backupToBucket(parsed, io);
  for (const option of ["keep", "s3-env"] as const) if (parsed.values[option] !== undefined) throw new UsageError(`--${option} goes with --to-s3`);
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

/** --keep N: a whole number in BACKUP_KEEP_RANGE. */
function keepOption(parsed: ParsedCommand<"backup">): number {
  const text = stringOption(parsed, "keep");
  if (text === undefined) return DEFAULT_BACKUP_KEEP;
  const keep = Number(text);
  const { min, max } = BACKUP_KEEP_RANGE;
  if (!/^\d+$/.test(text) || keep < min || keep > max) throw new UsageError(`--keep must be a whole number from ${min} to ${max}, got ${JSON.stringify(text)}`);
  return keep;
}

/** GET /backup into a private temp file, up to the bucket, then the oldest deleted beyond --keep. */
async function backupToBucket(parsed: ParsedCommand<"backup">, io: Io): Promise<number> {
  for (const option of ["out", "force"] as const) if (parsed.values[option] !== undefined) throw new UsageError(`--${option} is for a local file, not --to-s3`);
  const keep = keepOption(parsed);
  const { resolveBackupTarget } = await import("../backupTargetSource");
  const { openBackupBucket } = await import("../backupBucket");
  const bucket = openBackupBucket(await resolveBackupTarget(parsed, io));
  const cfg = await resolveConfig(connectionFlags(parsed), io);
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "claude-bus-backup-"));
  try {
    const name = defaultBackupName(new Date());
    const file = path.join(dir, name);
    await createBusClient(cfg).backup(file);
    const { key, bytes } = await bucket.upload(file, name);
    io.out(`✓ backup of ${cfg.url} uploaded to ${bucket.where}${name} (${bytes} bytes)`);
    const deleted = await bucket.prune(keep);
    for (const old of deleted) io.out(`  deleted the older ${old}`);
    io.out(`  the bucket keeps the newest ${keep}; restore one with: claude-bus restore --from-s3 ${key} [--data DIR | --ssh ...]`);
    return EXIT.ok;
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/** `claude-bus backups`: what the backup bucket holds, oldest first. */
export async function backups(parsed: ParsedCommand<"backups">, io: Io): Promise<number> {
  noPositionals("backups", parsed);
  const { resolveBackupTarget } = await import("../backupTargetSource");
  const { openBackupBucket } = await import("../backupBucket");
  const bucket = openBackupBucket(await resolveBackupTarget(parsed, io));
  const stored = await bucket.list();
  if (booleanOption(parsed, "json")) io.out(JSON.stringify(stored));
  else if (stored.length === 0) io.out(`no backups in ${bucket.where}`);
  else for (const { key, bytes, modified } of stored) io.out(`${modified}  ${String(bytes).padStart(12)}  ${key}`);
  return EXIT.ok;
}
