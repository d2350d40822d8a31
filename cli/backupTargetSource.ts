/**
 * Where the CLI finds the backup bucket and its key pair: --s3-env FILE, else BACKUP_S3_ENV_FILE, else
 * ~/.secrets/claude-bus-backup.env when it exists, else the BACKUP_S3_* variables. Never an argument:
 * argv is visible to every user of the machine.
 */
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { type BackupTarget, backupTargetFromEnv, parseBackupTarget } from "../contract/backupTarget";
import { BACKUP_ENV_FILE_IN_HOME } from "../contract/defaults";
import { EnvFileError } from "../contract/envFile";
import { type OptionValues, type Parsed, stringOption } from "./args";
import { ConfigError } from "./config";
import { octal } from "./envFileStore";
import type { Io } from "./io";
import type { S3_ENV } from "./usage";

export async function resolveBackupTarget(parsed: Parsed<OptionValues<typeof S3_ENV>>, io: Io): Promise<BackupTarget> {
  const flag = stringOption(parsed, "s3-env");
  const named = flag ?? io.env.BACKUP_S3_ENV_FILE;
  const file = path.resolve(named ?? path.join(os.homedir(), BACKUP_ENV_FILE_IN_HOME));
  let text: string;
  try {
    text = await fs.readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw new EnvFileError(file, `cannot read: ${(err as NodeJS.ErrnoException).code}`);
    if (named !== undefined) throw new ConfigError(`${file} not found (given by ${flag ? "--s3-env" : "BACKUP_S3_ENV_FILE"})`);
    const fromEnv = backupTargetFromEnv(io.env);
    if (fromEnv) return fromEnv;
    throw new ConfigError(
      `no backup bucket: ${file} not found and no BACKUP_S3_* variables set ` +
        "(pulumi stack output --show-secrets backupEnv > that file, with mode 0600; or --s3-env FILE)",
    );
  }
  const mode = (await fs.stat(file)).mode & 0o777;
  if (io.platform !== "win32" && (mode & 0o077) !== 0) {
    io.err(`warning: ${file} holds the backup bucket's secret key and others can read it (mode ${octal(mode)}): chmod 600 ${file}`);
  }
  return parseBackupTarget(text, file);
}
