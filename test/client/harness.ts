/**
 * Test harness for the client: the CLI built once per test file with esbuild and run as a real
 * child process, against a real bus from service/server.ts on an ephemeral loopback port,
 * with a temporary HOME so nothing touches the real ~/.secrets or ~/.claude.
 */
import { spawn } from "node:child_process";
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { build } from "esbuild";
import { RunningBus, startBus } from "../../service/server";

const REPO = path.resolve(__dirname, "../..");

/**
 * Bundles client/cli.ts into node_modules/.cache (so `require` of packages resolves from the repo).
 * One bundle per jest worker: the CLI starts in ~0.1 s instead of compiling TypeScript per run.
 */
export async function buildCli(): Promise<string> {
  const cacheDir = path.join(REPO, "node_modules", ".cache", "claude-bus-client-test");
  await removeStaleBuilds(cacheDir);
  const outfile = path.join(cacheDir, `cli-${process.pid}`, "cli.js");
  await build({
    entryPoints: [path.join(REPO, "client", "cli.ts")],
    outfile,
    bundle: true,
    platform: "node",
    target: "node18",
    format: "cjs",
    packages: "external",
    logLevel: "error",
    // service/main.ts runs itself when `require.main === module`; inside one bundle that would be
    // true for every module, so `claude-bus rotate` (which imports it) would start a server
    define: { "require.main": "undefined" },
  });
  return outfile;
}

/** Drops the bundles of test processes that have ended (signal 0 only asks whether a pid exists). */
async function removeStaleBuilds(cacheDir: string): Promise<void> {
  const entries = await fs.readdir(cacheDir).catch(() => [] as string[]);
  for (const entry of entries) {
    const pid = Number(/^cli-(\d+)$/.exec(entry)?.[1]);
    if (!pid) continue;
    try {
      process.kill(pid, 0);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ESRCH") await fs.rm(path.join(cacheDir, entry), { recursive: true, force: true });
    }
  }
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliRun {
  home: string;
  env?: Record<string, string>;
  stdin?: string;
  cwd?: string;
}

/** Runs `node cli.js ...args` with only PATH and HOME from this process: no BUS_* leaks in. */
export function runCli(cli: string, args: string[], run: CliRun): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], {
      cwd: run.cwd ?? run.home,
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: run.home, ...run.env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(run.stdin ?? "");
  });
}

export async function tempDir(prefix: string): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), `claude-bus-${prefix}-`));
}

export interface TestBus {
  bus: RunningBus;
  url: string;
  user: string;
  pass: string;
  dataDir: string;
  /** The dotenv file the bus reads its credential from (re-read by bus.reloadCredentials()). */
  credentialsFile: string;
  close(): Promise<void>;
}

/** A real bus on 127.0.0.1, port 0, with a file credential so a test can rotate it. */
export async function startTestBus(user = "claude", pass = "InitialPassw0rdInitialPassw0"): Promise<TestBus> {
  const dataDir = await tempDir("data");
  const credentialsFile = path.join(dataDir, "credentials.env");
  await fs.writeFile(credentialsFile, `BUS_USER=${user}\nBUS_PASS=${pass}\n`, { mode: 0o600 });
  const bus = await startBus({ port: 0, dataDir, credentials: { file: credentialsFile }, log: () => undefined });
  return {
    bus,
    url: bus.url,
    user,
    pass,
    dataDir,
    credentialsFile,
    close: async () => {
      await bus.close();
      await fs.rm(dataDir, { recursive: true, force: true });
    },
  };
}

export interface ServedBus extends Omit<TestBus, "bus"> {
  pid: number;
}

/**
 * The bus as `claude-bus serve` in a child process, credential from BUS_CREDENTIALS_FILE: a rotation
 * test rewrites that file and sends the process SIGHUP, exactly as the host's rotation step does.
 */
export async function startServedBus(cli: string, user = "claude", pass = "InitialPassw0rdInitialPassw0"): Promise<ServedBus> {
  const dataDir = await tempDir("data");
  const credentialsFile = path.join(dataDir, "credentials.env");
  await fs.writeFile(credentialsFile, `BUS_USER=${user}\nBUS_PASS=${pass}\n`, { mode: 0o600 });
  const child = spawn(process.execPath, [cli, "serve", "--port", "0", "--data", dataDir], {
    env: { PATH: process.env.PATH, BUS_CREDENTIALS_FILE: credentialsFile },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    let output = "";
    child.stdout.on("data", (chunk) => {
      output += chunk;
      const listening = output.split("\n").find((line) => line.includes('"msg":"listening"'));
      if (listening) resolve(JSON.parse(listening).url);
    });
    child.stderr.on("data", (chunk) => (output += chunk));
    child.on("exit", (code) => reject(new Error(`claude-bus serve exited (${code}) before listening:\n${output}`)));
  });
  return {
    pid: child.pid!,
    url,
    user,
    pass,
    dataDir,
    credentialsFile,
    close: async () => {
      child.kill("SIGTERM");
      await exited;
      await fs.rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Writes ~/.secrets/claude-bus.env in `home` the way bootstrap would. */
export async function writeHomeEnv(home: string, text: string): Promise<string> {
  const dir = path.join(home, ".secrets");
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, "claude-bus.env");
  await fs.writeFile(file, text, { mode: 0o600 });
  return file;
}

export function envText(bus: Pick<TestBus, "url" | "user" | "pass">): string {
  return `BUS_USER=${bus.user}\nBUS_PASS=${bus.pass}\nBUS_URL=${bus.url}\n`;
}

/** A loopback port with nothing listening: bind, read the port, close. */
export async function closedPort(): Promise<number> {
  const net = await import("node:net");
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as import("node:net").AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export async function modeOf(file: string): Promise<number> {
  return (await fs.stat(file)).mode & 0o777;
}
