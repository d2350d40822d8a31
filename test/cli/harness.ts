/**
 * The CLI as users run it: bundled once per test file with esbuild (the same entry as bin/claude-bus) and
 * run as a child process, against a real bus on an ephemeral loopback port, with a temporary HOME so
 * nothing touches the real ~/.secrets or ~/.claude.
 */
import { spawn } from "node:child_process";
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { build } from "esbuild";
import { spawnBus, startBus, type TestBus } from "../support/bus";
import { tempDir } from "../support/tempDir";

export { freePort as closedPort } from "../support/ports";
export { tempDir };
export type { TestBus };

const REPO = path.resolve(__dirname, "../..");
const PASSWORD = "InitialPassw0rdInitialPassw0";

/**
 * Bundles the CLI (bin/claude-bus's entry) into node_modules/.cache, so `require` of packages resolves
 * from the repo; one bundle per jest worker: the CLI starts in ~0.1 s instead of compiling TypeScript per run.
 */
export async function buildCli(): Promise<string> {
  const cacheDir = path.join(REPO, "node_modules", ".cache", "claude-bus-cli-test");
  await removeStaleBuilds(cacheDir);
  const outfile = path.join(cacheDir, `cli-${process.pid}`, "cli.js");
  await build({
    stdin: {
      contents: `require("./cli/main").main(process.argv.slice(2), require("./cli/io").processIo(), require("./cli/loaders").LOADERS).then((c) => { process.exitCode = c; });`,
      resolveDir: REPO,
      loader: "js",
    },
    outfile,
    bundle: true,
    platform: "node",
    target: "node18",
    format: "cjs",
    packages: "external",
    logLevel: "error",
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

/** Runs `node -- cli.js ...args` (as bin/claude-bus does) with only PATH and HOME from this process: no BUS_* leaks in. */
export function runCli(cli: string, args: string[], run: CliRun): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--", cli, ...args], {
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

/** A real bus reading its credential from a file, so a test can rotate it (on a data dir prepared before, if given). */
export function startTestBus(user = "claude", pass = PASSWORD, dataDir?: string): Promise<TestBus> {
  return startBus({ user, pass, credentialsFile: true, dataDir });
}

export interface ServedBus {
  pid: number;
  url: string;
  user: string;
  pass: string;
  dataDir: string;
  credentialsFile: string;
  close(): Promise<void>;
}

/**
 * The bus as `claude-bus serve` in a child process, credential from BUS_CREDENTIALS_FILE: a rotation
 * test rewrites that file and sends the process SIGHUP, exactly as the host's rotation step does.
 */
export async function startServedBus(cli: string, user = "claude", pass = PASSWORD): Promise<ServedBus> {
  const dataDir = tempDir("data");
  const credentialsFile = path.join(dataDir, "credentials.env");
  await fs.writeFile(credentialsFile, `BUS_USER=${user}\nBUS_PASS=${pass}\n`, { mode: 0o600 });
  const served = await spawnBus(cli, ["serve", "--port", "0", "--data", dataDir], { PATH: process.env.PATH, BUS_CREDENTIALS_FILE: credentialsFile });
  return { pid: served.child.pid!, url: served.url, user, pass, dataDir, credentialsFile, close: served.stop };
}

/** `claude-bus` on a PATH of its own in `home` (as after `npm link`), and no `claude` on it: returns that PATH. */
export async function linkClaudeBus(home: string): Promise<string> {
  const bin = path.join(home, "bin");
  await fs.mkdir(bin);
  await fs.symlink(path.join(REPO, "bin", "claude-bus"), path.join(bin, "claude-bus"));
  return `${bin}:/usr/bin:/bin`;
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

export async function modeOf(file: string): Promise<number> {
  return (await fs.stat(file)).mode & 0o777;
}

/** What each test of a CLI test file gets: the bundled CLI, its own bus, and its own HOME. */
export interface CliTestSet<Bus> {
  cli: string;
  bus: Bus;
  home: string;
  /** ~/.secrets/claude-bus.env in `home`, holding the bus's credential (unless `envFile: false`). */
  envFile: string;
}

export interface CliTestOptions<Bus> {
  /** BUS_ME in the env file; none without it. */
  me?: string;
  /** false: HOME starts empty, for a test of what writes the env file. */
  envFile?: false;
  /** The bus each test gets: () => startTestBus(), or startServedBus (the CLI's own serve). */
  startBus: (cli: string) => Promise<Bus>;
  /** The prefix of the HOME temp dir. */
  home?: string;
}

/** The CLI bundled once for the test file, before its own beforeAll. */
export function cliPerFile(use: (cli: string) => void): void {
  beforeAll(async () => use(await buildCli()));
}

type BusOfTest = Pick<TestBus, "url" | "user" | "pass" | "close">;

/**
 * The set-up the CLI test files share, as jest hooks: the CLI bundled once per file; per test a fresh bus
 * (a broadcast of one test must not reach another's inbox) and a fresh HOME with the env file, both gone
 * after the test. `use` gets each test's set before the test (and before the file's own beforeEach).
 * `replaceBus` closes the test's bus for another (one on a prepared data dir) and points the env file at it.
 */
export function cliPerTest<Bus extends BusOfTest>(options: CliTestOptions<Bus>, use: (set: CliTestSet<Bus>) => void): { replaceBus(next: Bus): Promise<void> } {
  let cli: string;
  let set: CliTestSet<Bus> | undefined;
  cliPerFile((bundled) => (cli = bundled));
  const envFileFor = async (home: string, bus: Bus) =>
    options.envFile === false
      ? path.join(home, ".secrets", "claude-bus.env")
      : await writeHomeEnv(home, envText(bus) + (options.me ? `BUS_ME=${options.me}\n` : ""));
  beforeEach(async () => {
    const home = tempDir(options.home ?? "home");
    const bus = await options.startBus(cli);
    set = { cli, bus, home, envFile: await envFileFor(home, bus) };
    use(set);
  });
  afterEach(async () => {
    if (!set) return;
    await set.bus.close();
    await fs.rm(set.home, { recursive: true, force: true });
    set = undefined;
  });
  return {
    async replaceBus(next) {
      if (!set) throw new Error("replaceBus runs inside a test");
      await set.bus.close();
      set = { ...set, bus: next, envFile: await envFileFor(set.home, next) };
      use(set);
    },
  };
}
