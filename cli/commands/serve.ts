/**
 * `claude-bus serve`: runs the bus until SIGTERM or SIGINT, then stops after in-flight writes are on
 * disk. SIGHUP re-reads a credential file. The host's unit runs this same command from the bundle.
 */
import * as path from "node:path";
import { CREDENTIAL_LIMIT_RANGES, DEFAULT_DATA_DIR, DEFAULT_HOST, DEFAULT_PORT, FILE_LIMIT_RANGES, MIB } from "../../contract/defaults";
import { TEAM_CREDENTIAL_ROLES, TeamCredentialRole } from "../../contract/defaults";
import { isTeamCredentialRole } from "../../service/access";
import { serveCredentials, writeLocalEnvFile } from "../../service/localCredentials";
import type { RetentionOptions } from "../../service/retention";
import type { CompactionStage } from "../../service/compaction";
import type { FileLimits } from "../../service/fileStore";
import { Log, stdoutSink, structuredLogger } from "../../service/log";
import { startBus } from "../../service/server";
import { booleanOption, noPositionals, ParsedCommand, stringOption } from "../args";
import { EXIT } from "../exitCodes";
import { Io, UsageError } from "../io";

export interface ServeSettings {
  host: string;
  port: number;
  data: string;
  retention?: RetentionOptions;
  teamCredential: TeamCredentialRole;
  /** The limits of attached files that differ from the defaults (each uploader's own among them). */
  files: Partial<FileLimits>;
  /** Long-polls one credential may hold at once, when not the default. */
  maxLongPolls?: number;
  /** nginx on this host is in front: its X-Real-IP names the client (the host's unit says so). */
  behindProxy?: true;
}

type ServeNumberOption = "max-file-mib" | "file-quota-mib" | "file-max-age-days" | "uploader-max-files" | "uploader-quota-mib" | "uploader-max-partials" | "max-long-polls";

/** A whole-number option within its range (FILE_LIMIT_RANGES, CREDENTIAL_LIMIT_RANGES), or undefined when absent. */
function wholeNumber(parsed: ParsedCommand<"serve">, option: ServeNumberOption, range: { min: number; max: number }, unit: string): number | undefined {
  const text = stringOption(parsed, option);
  if (text === undefined) return undefined;
  if (!/^\d{1,9}$/.test(text) || Number(text) < range.min || Number(text) > range.max) {
    throw new UsageError(`serve: --${option} must be a whole number of ${unit} from ${range.min} to ${range.max}`);
  }
  return Number(text);
}

function fileLimits(parsed: ParsedCommand<"serve">): Partial<FileLimits> {
  const maxFileMiB = wholeNumber(parsed, "max-file-mib", FILE_LIMIT_RANGES.maxFileMiB, "MiB");
  const quotaMiB = wholeNumber(parsed, "file-quota-mib", FILE_LIMIT_RANGES.fileQuotaMiB, "MiB");
  const maxAgeDays = wholeNumber(parsed, "file-max-age-days", FILE_LIMIT_RANGES.fileMaxAgeDays, "days");
  const uploaderMaxFiles = wholeNumber(parsed, "uploader-max-files", CREDENTIAL_LIMIT_RANGES.uploaderMaxFiles, "files");
  const uploaderQuotaMiB = wholeNumber(parsed, "uploader-quota-mib", CREDENTIAL_LIMIT_RANGES.uploaderQuotaMiB, "MiB");
  const uploaderMaxPartials = wholeNumber(parsed, "uploader-max-partials", CREDENTIAL_LIMIT_RANGES.uploaderMaxPartials, "uploads");
  return {
    ...(maxFileMiB !== undefined && { maxFileBytes: maxFileMiB * MIB }),
    ...(quotaMiB !== undefined && { quotaBytes: quotaMiB * MIB }),
    ...(maxAgeDays !== undefined && { maxAgeDays }),
    ...(uploaderMaxFiles !== undefined && { uploaderMaxFiles }),
    ...(uploaderQuotaMiB !== undefined && { uploaderQuotaBytes: uploaderQuotaMiB * MIB }),
    ...(uploaderMaxPartials !== undefined && { uploaderMaxPartials }),
  };
}

export function serveSettings(parsed: ParsedCommand<"serve">): ServeSettings {
  noPositionals("serve", parsed);
  const port = stringOption(parsed, "port") ?? String(DEFAULT_PORT);
  if (!/^\d{1,5}$/.test(port) || Number(port) > 65535) throw new UsageError("serve: --port must be a number from 0 to 65535");
  const host = stringOption(parsed, "host") ?? DEFAULT_HOST;
  if (host === "") throw new UsageError("serve: --host must not be empty");
  const data = stringOption(parsed, "data") ?? DEFAULT_DATA_DIR;
  if (data === "") throw new UsageError("serve: --data must not be empty");
  const days = stringOption(parsed, "retain-days");
  if (days !== undefined && (!/^\d{1,5}$/.test(days) || Number(days) < 1)) throw new UsageError("serve: --retain-days must be a whole number of days from 1");
  const archive = stringOption(parsed, "archive") ?? "gzip";
  if (archive !== "gzip" && archive !== "none") throw new UsageError('serve: --archive must be "gzip" or "none"');
  if (days === undefined && parsed.values.archive !== undefined) throw new UsageError("serve: --archive goes with --retain-days");
  const teamCredential = stringOption(parsed, "team-credential") ?? "member";
  if (!isTeamCredentialRole(teamCredential)) throw new UsageError(`serve: --team-credential must be ${TEAM_CREDENTIAL_ROLES.map((r) => `"${r}"`).join(" or ")}`);
  const maxLongPolls = wholeNumber(parsed, "max-long-polls", CREDENTIAL_LIMIT_RANGES.maxLongPolls, "long-polls");
  return {
    host,
    port: Number(port),
    data,
    teamCredential,
    files: fileLimits(parsed),
    ...(maxLongPolls !== undefined && { maxLongPolls }),
    ...(booleanOption(parsed, "behind-proxy") && { behindProxy: true as const }),
    ...(days !== undefined && { retention: { days: Number(days), archive: archive === "gzip" } }),
  };
}

/**
 * Logs each stage of a compaction. CLAUDE_BUS_COMPACTION_PAUSE=<stage> stops it there for good: the
 * crash tests kill -9 the bus at each stage and check that the next start loses nothing.
 */
function compactionStages(log: Log, pauseAt: string | undefined): (stage: CompactionStage) => Promise<void> {
  return async (stage) => {
    log({ msg: "compaction stage", stage });
    if (stage === pauseAt) await new Promise(() => undefined);
  };
}

export async function serve(parsed: ParsedCommand<"serve">, io: Io): Promise<number> {
  const settings = serveSettings(parsed);
  const log = structuredLogger(stdoutSink);
  const dataDir = path.resolve(settings.data);
  const credentials = serveCredentials(io.env, dataDir);

  // Signal handlers go in before start-up: SIGHUP's default action would kill a bus that is reloaded
  // while it replays its store (a rotation right after a restart). Early signals take effect once started.
  let reloadRequested = false;
  let reload: () => void = () => {
    reloadRequested = true;
  };
  let requestStop!: (signal: string) => void;
  const stopRequested = new Promise<string>((resolve) => (requestStop = resolve));
  const onHup = () => reload();
  const onTerm = () => requestStop("SIGTERM");
  const onInt = () => requestStop("SIGINT");
  process.on("SIGHUP", onHup).on("SIGTERM", onTerm).on("SIGINT", onInt);
  log({ msg: "starting", dataDir });
  try {
    const retention = settings.retention && { ...settings.retention, onStage: compactionStages(log, io.env.CLAUDE_BUS_COMPACTION_PAUSE) };
    const bus = await startBus({
      host: settings.host,
      port: settings.port,
      dataDir,
      credentials: credentials.source,
      retention,
      teamCredential: settings.teamCredential,
      files: settings.files,
      maxLongPolls: settings.maxLongPolls,
      behindProxy: settings.behindProxy,
    });
    if (credentials.localFile && "pass" in credentials.source) {
      const written = writeLocalEnvFile(credentials.localFile, credentials.source, bus.url);
      log({ msg: written ? "local credentials written" : "local credentials reused", file: credentials.localFile });
      io.err(`claude-bus serve: the credential is in ${credentials.localFile}; point the CLI at this bus with`);
      io.err(`  export BUS_ENV_FILE=${credentials.localFile}`);
    }
    reload = () => bus.reloadCredentials();
    if (reloadRequested) reload();

    log({ msg: "shutting down", signal: await stopRequested });
    try {
      await bus.close();
    } catch (error) {
      log({ level: "error", msg: "shutdown failed", error: String(error) });
      return EXIT.failure;
    }
    return EXIT.ok;
  } finally {
    process.off("SIGHUP", onHup).off("SIGTERM", onTerm).off("SIGINT", onInt);
  }
}
