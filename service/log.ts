/** Structured logs: one JSON object per line, never credentials or headers. */
export type LogFields = { level?: "info" | "warn" | "error"; msg: string } & Record<string, unknown>;
export type Log = (fields: LogFields) => void;
export type LineSink = (line: string) => void;

export const stdoutSink: LineSink = (line) => process.stdout.write(`${line}\n`);

export function structuredLogger(sink: LineSink): Log {
  return (fields) => sink(JSON.stringify({ time: new Date().toISOString(), level: "info", ...fields }));
}
