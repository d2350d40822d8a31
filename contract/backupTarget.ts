/**
 * Where scheduled backups go: an S3-compatible bucket (DigitalOcean Spaces), described by an env file of
 * its own in the credentials file's format: the stack's `backupEnv` output, /etc/claude-bus/backup-s3.env
 * on the host, ~/.secrets/claude-bus-backup.env on a laptop that restores from it. The key pair lives
 * only there (or in BACKUP_S3_* variables), never in an argument.
 */
import { z } from "zod";
import { EnvFileError, parseEnvText, renderEnvLines } from "./envFile";
import { isLoopbackUrl } from "./loopback";

/** What the bucket's backups are called under the prefix: the name sorts by time (see defaultBackupName). */
export const BACKUP_OBJECT_NAME = /^claude-bus-backup-\d{8}T\d{6}Z\.tar\.gz$/;
/** The signing region when none is set (DigitalOcean's own SDK example signs with it for every region). */
export const DEFAULT_S3_SIGNING_REGION = "us-east-1";

const endpoint = z.string().refine((value) => {
  try {
    const url = new URL(value);
    if (url.username || url.password || url.pathname !== "/" || url.search) return false;
    return url.protocol === "https:" || (url.protocol === "http:" && isLoopbackUrl(value));
  } catch {
    return false;
  }
}, "must be the bucket service's https:// URL with no path, like https://fra1.digitaloceanspaces.com (plain http only to loopback)");

export const BackupTargetSchema = z.object({
  BACKUP_S3_ENDPOINT: endpoint,
  BACKUP_S3_REGION: z
    .string()
    .regex(/^[a-z0-9-]{2,32}$/, "must be a region name like us-east-1")
    .optional(),
  BACKUP_S3_BUCKET: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, "must be a bucket name (3-63 of a-z, 0-9, '.', '-')"),
  /** A "folder" in the bucket the backups go under, e.g. `prod/`; empty: the bucket's top level. */
  BACKUP_S3_PREFIX: z
    .string()
    .regex(/^(?:[A-Za-z0-9._-]+\/)*$/, "must be empty or path segments each ending in /, like prod/")
    .optional(),
  BACKUP_S3_ACCESS_KEY_ID: z.string().regex(/^[A-Za-z0-9+/=_-]{4,128}$/, "must be the key's access key id"),
  BACKUP_S3_SECRET_ACCESS_KEY: z.string().regex(/^[A-Za-z0-9+/=_-]{8,128}$/, "must be the key's secret (letters, digits, + / = _ -)"),
});
export type BackupTarget = z.infer<typeof BackupTargetSchema>;
export const BACKUP_TARGET_KEYS = Object.keys(BackupTargetSchema.shape) as Array<keyof BackupTarget>;
/** The keys a target must set (the host step checks its stdin has each). */
export const REQUIRED_BACKUP_TARGET_KEYS = BACKUP_TARGET_KEYS.filter((key) => !BackupTargetSchema.shape[key].safeParse(undefined).success);

/** Parses a backup target env file's text; errors name the file and line, never a value. */
export function parseBackupTarget(text: string, file: string): BackupTarget {
  return parseEnvText(text, file, BackupTargetSchema);
}

/**
 * The target from BACKUP_S3_* variables of an environment, or undefined when none is set; errors name
 * the variable, never its value.
 */
export function backupTargetFromEnv(env: NodeJS.ProcessEnv): BackupTarget | undefined {
  const set = BACKUP_TARGET_KEYS.filter((key) => env[key] !== undefined && env[key] !== "");
  if (set.length === 0) return undefined;
  const text = renderEnvLines(set.map((key) => [key, env[key]]));
  try {
    return parseBackupTarget(text, "the environment");
  } catch (err) {
    // The line number means nothing here: name the variable alone.
    if (err instanceof EnvFileError) throw new EnvFileError("the environment", err.message.replace(/^the environment:\d+: /, ""));
    throw err;
  }
}

/** The env file's text, in BACKUP_TARGET_KEYS's order. */
export function renderBackupTarget(target: BackupTarget): string {
  return renderEnvLines(BACKUP_TARGET_KEYS.map((key) => [key, target[key]]));
}
