/**
 * `claude-bus serve`: runs the bus until SIGTERM or SIGINT, then stops after in-flight writes are on
 * disk. SIGHUP re-reads a credential file. The host's unit runs this same command from the bundle.
 */
import * as path from "node:path";
import { MIB } from "../../contract/defaults";
import {
  parseFlagText,
  serviceOption,
  SERVICE_OPTION_DEFAULTS,
  SERVICE_OPTION_NAMES,
  type ServiceOptionName,
  type ServiceOptionValues,
  type ServeFlag,
  type TeamCredentialRole,
} from "../../contract/serviceOptions";
import { serveCredentials, startBus, stdoutSink, structuredLogger, writeLocalEnvFile } from "../../service";
import type { CompactionStage, FileLimits, Log, RetentionOptions } from "../../service";
import { noPositionals, type ParsedCommand } from "../args";
import { EXIT } from "../exitCodes";
import { type Io, UsageError } from "../io";

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

/** The options serve was given, each checked by its row of the table (contract/serviceOptions.ts); absent ones are left out. */
export function givenOptions(parsed: ParsedCommand<"serve">): Partial<ServiceOptionValues> {
  const given: Partial<Record<ServiceOptionName, unknown>> = {};
  for (const name of SERVICE_OPTION_NAMES) {
    const text = parsed.values[serviceOption(name).flag as ServeFlag] as string | boolean | undefined;
    if (text === undefined) continue;
    try {
      given[name] = text === true ? true : parseFlagText(name, text as string);
    } catch (error) {
      throw new UsageError(`serve: ${(error as Error).message}`);
    }
  }
  const options = given as Partial<ServiceOptionValues>;
  for (const name of SERVICE_OPTION_NAMES) {
    const needs = serviceOption(name).needs as ServiceOptionName | undefined;
    if (needs && options[name] !== undefined && (options[needs] ?? SERVICE_OPTION_DEFAULTS[needs]) === 0) {
      throw new UsageError(`serve: --${serviceOption(name).flag} goes with --${serviceOption(needs).flag}`);
    }
  }
  return options;
}

/** The limits of attached files that serve was given, in the service's units; 0 (a share) is the service's own default. */
function fileLimits(given: Partial<ServiceOptionValues>): Partial<FileLimits> {
  const { maxFileMiB, fileQuotaMiB = 0, fileMaxAgeDays, uploaderMaxFiles, uploaderQuotaMiB = 0, uploaderMaxPartials } = given;
  return {
    ...(maxFileMiB !== undefined && { maxFileBytes: maxFileMiB * MIB }),
    ...(fileQuotaMiB > 0 && { quotaBytes: fileQuotaMiB * MIB }),
    ...(fileMaxAgeDays !== undefined && { maxAgeDays: fileMaxAgeDays }),
    ...(uploaderMaxFiles !== undefined && { uploaderMaxFiles }),
    ...(uploaderQuotaMiB > 0 && { uploaderQuotaBytes: uploaderQuotaMiB * MIB }),
    ...(uploaderMaxPartials !== undefined && { uploaderMaxPartials }),
  };
}

export function serveSettings(parsed: ParsedCommand<"serve">): ServeSettings {
  noPositionals("serve", parsed);
  const given = givenOptions(parsed);
  const { host, port, data, retainDays, archiveRemoved, teamCredential } = { ...SERVICE_OPTION_DEFAULTS, ...given };
  return {
    host,
    port,
    data,
    teamCredential,
    files: fileLimits(given),
    ...(given.maxLongPolls !== undefined && { maxLongPolls: given.maxLongPolls }),
    ...(given.behindProxy && { behindProxy: true as const }),
    ...(retainDays > 0 && { retention: { days: retainDays, archive: archiveRemoved } }),
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
