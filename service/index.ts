/**
 * The service's one face: what the rest of the repository (the `serve`, `restore` and `import` commands)
 * may use. Everything else under service/ is its own business.
 */
export { startBus } from "./http/server";
export type { BusOptions, RunningBus } from "./http/server";
export { serveCredentials, writeLocalEnvFile } from "./members/localCredentials";
export type { RetentionOptions } from "./store/retention";
export type { CompactionStage } from "./store/compaction";
export type { FileLimits } from "./files/fileStore";
export { stdoutSink, structuredLogger } from "./log";
export type { Log, LogFields } from "./log";
export { importSeed, restoreBackup } from "./dataDir/dataDirTools";
