/**
 * The bus for tests, for real: `startBus` runs it in this process on an ephemeral loopback port with real
 * files; `spawnBus` runs the shipped bundle (or the CLI) as a child process, for signals, crashes and exits.
 */
import { type ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { buildServiceBundle } from "../../provision/bundle";
import { type BusOptions, type RunningBus, startBus as startRealBus } from "../../service/http/server";
import { PASS, USER } from "./http";
import { tempDir } from "./tempDir";

export interface TestBus extends RunningBus {
  dataDir: string;
  user: string;
  pass: string;
  /** The dotenv file the bus reads its credential from, when started with `credentialsFile: true`. */
  credentialsFile?: string;
  /** The bus's log lines. */
  logs: string[];
}

export interface TestBusOptions {
  dataDir?: string;
  user?: string;
  pass?: string;
  /** Read the credential from a file (re-read by reloadCredentials()), as the host's unit does. */
  credentialsFile?: boolean;
  timeouts?: BusOptions["timeouts"];
  retention?: BusOptions["retention"];
  teamCredential?: BusOptions["teamCredential"];
  files?: BusOptions["files"];
  behindProxy?: BusOptions["behindProxy"];
  maxLongPolls?: BusOptions["maxLongPolls"];
  web?: BusOptions["web"];
  notify?: BusOptions["notify"];
}

/** The real bus on 127.0.0.1, port 0, with a fresh (or given) data dir. */
export async function startBus(opts: TestBusOptions = {}): Promise<TestBus> {
  const { user = USER, pass = PASS } = opts;
  const dataDir = opts.dataDir ?? tempDir("data");
  const logs: string[] = [];
  let credentialsFile: string | undefined;
  if (opts.credentialsFile) {
    credentialsFile = path.join(tempDir("credentials"), "credentials.env");
    fs.writeFileSync(credentialsFile, `BUS_USER=${user}\nBUS_PASS=${pass}\n`, { mode: 0o600 });
  }
  const bus = await startRealBus({
    port: 0,
    dataDir,
    credentials: credentialsFile ? { file: credentialsFile } : { user, pass },
    log: (line) => logs.push(line),
    timeouts: opts.timeouts,
    retention: opts.retention,
    teamCredential: opts.teamCredential,
    files: opts.files,
    behindProxy: opts.behindProxy,
    maxLongPolls: opts.maxLongPolls,
    web: opts.web,
    notify: opts.notify,
  });
  return { ...bus, dataDir, user, pass, credentialsFile, logs };
}

/** The shipped service bundle (provision/bundle.ts), built into a temp dir removed after the test file. */
export async function buildBundle(): Promise<string> {
  return (await buildServiceBundle(tempDir("bundle"))).file;
}

export interface BusProcess {
  child: ChildProcess;
  url: string;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM, then wait for the exit. */
  stop(): Promise<void>;
}

/**
 * Runs `node <script> ...args` (the bundle, or the CLI with `serve`) and waits for its "listening" log
 * line. `onOutput` sees stdout so far on every chunk, so a test can act during start-up.
 */
export function spawnBus(script: string, args: string[], env: NodeJS.ProcessEnv, onOutput?: (out: string, child: ChildProcess) => void): Promise<BusProcess> {
  const child = spawn(process.execPath, [script, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal })),
  );
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await exited;
  };
  return new Promise((resolve, reject) => {
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      onOutput?.(out, child);
      const line = out.split("\n").find((l) => l.includes('"msg":"listening"'));
      if (line) resolve({ child, url: JSON.parse(line).url, stdout: () => out, stderr: () => err, exited, stop });
    });
    child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
    void exited.then(({ code, signal }) => reject(new Error(`${path.basename(script)} exited (${code ?? signal}) before listening:\n${out}\n${err}`)));
  });
}

export function fileLines(file: string): string[] {
  const text = fs.readFileSync(file, "utf8");
  return text === "" ? [] : text.replace(/\n$/, "").split("\n");
}
