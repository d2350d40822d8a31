import * as fs from "fs";
import * as path from "path";
import { z } from "zod";
import { CredentialSource, parseEnvFile } from "./credentials";
import { generatePassword } from "./password";
import { stdoutSink, structuredLogger } from "./log";
import { startBus } from "./server";

const USAGE = "usage: claude-bus serve [--host 127.0.0.1] [--port 8787] [--data DIR]";
export const GENERATED_ENV_FILE = "claude-bus.env";

const ServeArgs = z.strictObject({
  host: z.string().min(1).default("127.0.0.1"),
  port: z
    .string()
    .regex(/^\d{1,5}$/, "--port must be a number from 0 to 65535")
    .transform(Number)
    .refine((p) => p <= 65535, "--port must be a number from 0 to 65535")
    .default(8787),
  // Local runs keep their data under ./data; the droplet passes --data /opt/claude-bus/data.
  data: z.string().min(1).default("./data"),
});

const ServeEnv = z.object({
  BUS_USER: z.string().min(1).optional(),
  BUS_PASS: z.string().min(1).optional(),
  BUS_CREDENTIALS_FILE: z.string().min(1).optional(),
});

export function parseServeArgs(argv: string[]): z.infer<typeof ServeArgs> {
  const args = argv[0] === "serve" ? argv.slice(1) : argv;
  const raw: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) {
    const match = /^--([a-z]+)(?:=(.*))?$/.exec(args[i]);
    if (!match) throw new Error(`unexpected argument ${JSON.stringify(args[i])}\n${USAGE}`);
    const value = match[2] ?? args[++i];
    if (value === undefined) throw new Error(`--${match[1]} needs a value\n${USAGE}`);
    raw[match[1]] = value;
  }
  const parsed = ServeArgs.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const what = issue.code === "unrecognized_keys" ? `unknown option(s): --${issue.keys.join(", --")}` : issue.message;
    throw new Error(`${what}\n${USAGE}`);
  }
  return parsed.data;
}

/**
 * `claude-bus serve`: runs the bus until SIGTERM/SIGINT, then shuts down gracefully and
 * resolves. SIGHUP re-reads a credential file. Rejects if the bus cannot start.
 */
export async function serveCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<void> {
  const args = parseServeArgs(argv);
  const log = structuredLogger(stdoutSink);
  const dataDir = path.resolve(args.data);
  const credentials = resolveCredentials(env, dataDir);

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
    const bus = await startBus({ host: args.host, port: args.port, dataDir, credentials: credentials.source });
    if (credentials.generatedFile) {
      writeEnvFile(credentials.generatedFile, { ...credentials.values!, BUS_URL: bus.url });
      log({ msg: "no BUS_USER/BUS_PASS given: local credentials written", file: credentials.generatedFile, hint: `source ${credentials.generatedFile}` });
    }
    reload = () => bus.reloadCredentials();
    if (reloadRequested) reload();

    log({ msg: "shutting down", signal: await stopRequested });
    await bus.close().catch((error) => {
      log({ level: "error", msg: "shutdown failed", error: String(error) });
      process.exitCode = 1;
    });
  } finally {
    process.off("SIGHUP", onHup).off("SIGTERM", onTerm).off("SIGINT", onInt);
  }
}

interface ResolvedCredentials {
  source: CredentialSource;
  /** Set when the credential was generated (or reused) in the data dir's env file. */
  generatedFile?: string;
  values?: { BUS_USER: string; BUS_PASS: string };
}

function resolveCredentials(rawEnv: NodeJS.ProcessEnv, dataDir: string): ResolvedCredentials {
  const env = ServeEnv.parse({
    BUS_USER: rawEnv.BUS_USER || undefined,
    BUS_PASS: rawEnv.BUS_PASS || undefined,
    BUS_CREDENTIALS_FILE: rawEnv.BUS_CREDENTIALS_FILE || undefined,
  });
  if (env.BUS_CREDENTIALS_FILE) return { source: { file: path.resolve(env.BUS_CREDENTIALS_FILE) } };
  if (env.BUS_PASS) return { source: { user: env.BUS_USER ?? "claude", pass: env.BUS_PASS } };
  if (env.BUS_USER) throw new Error("BUS_USER is set but BUS_PASS is not: give both, or neither to generate a local password");

  // Nothing given: reuse the data dir's generated credential so restarts keep it, else make one.
  const file = path.join(dataDir, GENERATED_ENV_FILE);
  const existing = fs.existsSync(file) ? parseEnvFile(fs.readFileSync(file, "utf8")) : {};
  const values =
    existing.BUS_USER && existing.BUS_PASS
      ? { BUS_USER: existing.BUS_USER, BUS_PASS: existing.BUS_PASS }
      : { BUS_USER: "claude", BUS_PASS: generatePassword() };
  return { source: { user: values.BUS_USER, pass: values.BUS_PASS }, generatedFile: file, values };
}

/** Write a 0600 shell-sourceable env file atomically (temp file + rename). */
function writeEnvFile(file: string, values: Record<string, string>): void {
  const text = Object.entries(values)
    .map(([k, v]) => `${k}=${v}\n`)
    .join("");
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, text, { mode: 0o600 });
  fs.chmodSync(tmp, 0o600);
  fs.renameSync(tmp, file);
}

if (require.main === module) {
  serveCommand(process.argv.slice(2), process.env).catch((error: Error) => {
    structuredLogger(stdoutSink)({ level: "error", msg: "claude-bus serve failed", error: error.message });
    process.stderr.write(`claude-bus serve: ${error.message}\n`);
    process.exit(1);
  });
}
