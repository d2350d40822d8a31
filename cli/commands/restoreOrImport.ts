/**
 * `claude-bus restore FILE`: here (dataDir.ts), or on a host over SSH with its bus stopped meanwhile;
 * with --from-s3, a backup read straight from the backup bucket (the newest, or KEY).
 */
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { booleanOption, type ParsedCommand } from "../args";
import { EXIT } from "../exitCodes";
import { type Io, UsageError } from "../io";
import { fileArgument, importHere, restoreHere } from "./dataDir";

export async function restore(parsed: ParsedCommand<"restore">, io: Io): Promise<number> {
  if (booleanOption(parsed, "from-s3")) return fromBucket(parsed, io);
  if (parsed.values["s3-env"] !== undefined) throw new UsageError("--s3-env goes with --from-s3");
  return restoreFile(parsed, io);
}

const restoreFile = (parsed: ParsedCommand<"restore">, io: Io) =>
  booleanOption(parsed, "ssh") ? overSsh("restore", parsed, booleanOption(parsed, "force") ? ["--force"] : [], io) : restoreHere(parsed, io);

export async function importCommand(parsed: ParsedCommand<"import">, io: Io): Promise<number> {
  return booleanOption(parsed, "ssh") ? overSsh("import", parsed, booleanOption(parsed, "json") ? ["--json"] : [], io) : importHere(parsed, io);
}

/** Downloads the backup into a private temp dir, then restores that file as `restore FILE` would. */
async function fromBucket(parsed: ParsedCommand<"restore">, io: Io): Promise<number> {
  if (parsed.positionals.length > 1) throw new UsageError("restore --from-s3 takes at most one KEY (without it: the newest backup)");
  const { resolveBackupTarget } = await import("../backupTargetSource");
  const { openBackupBucket } = await import("../backupBucket");
  const bucket = openBackupBucket(await resolveBackupTarget(parsed, io));
  let key = parsed.positionals[0];
  if (key === undefined) {
    const stored = await bucket.list();
    if (stored.length === 0) throw new Error(`no backups in ${bucket.where}`);
    key = stored[stored.length - 1].key;
  }
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "claude-bus-restore-"));
  try {
    const file = path.join(dir, "backup.tar.gz");
    const { bytes } = await bucket.download(key, file);
    io.err(`downloaded ${key} from the backup bucket (${bytes} bytes)`);
    return await restoreFile({ ...parsed, positionals: [file] }, io);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/** `args`: the flags (--force, --json) the host's own restore or import gets. */
async function overSsh(command: "restore" | "import", parsed: ParsedCommand<"restore" | "import">, args: string[], io: Io): Promise<number> {
  const { bytes } = fileArgument(command, parsed);
  const { sshHost } = await import("../sshHost");
  const { dataCommandOverSsh } = await import("../../provision/ssh/runner");
  const { target, cfg } = sshHost(command, parsed);
  const output = await dataCommandOverSsh(target, cfg, command, bytes, args, io.err);
  for (const line of output.split("\n")) if (line && !line.startsWith("changed: ")) io.out(line);
  return EXIT.ok;
}
