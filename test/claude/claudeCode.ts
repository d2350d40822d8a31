/**
 * The real Claude Code CLI for tests: pinned, installed from npm once into a cache outside the clone
 * (as test/host caches its rootfs), and run headless with an isolated HOME against a scripted model on
 * loopback. It is no dependency of the project: only these tests use it.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, promises as fs } from "node:fs";
import * as path from "node:path";

/** The oldest the README claims: hooks, tools and monitor, but no inbox socket (the fallback paths). */
export const CLAUDE_CODE_OLDEST = "2.1.197";
/** The newest on the registry (December 2026), which every test runs on unless it names the oldest. */
export const CLAUDE_CODE_NEWEST = "2.1.337";
const CACHE = process.env.CLAUDE_BUS_CLAUDE_CODE_CACHE ?? "/var/cache/claude-bus-claude-code";
const binDir = (version: string) => path.join(CACHE, version, "node_modules", ".bin");
export const CLAUDE_BIN_DIR = binDir(CLAUDE_CODE_NEWEST);
export const CLAUDE = path.join(CLAUDE_BIN_DIR, "claude");
/** The `claude` binary of one installed version. */
export const claudeAt = (version: string) => path.join(binDir(version), "claude");
const REPO = path.resolve(__dirname, "../..");

/** Installs a pinned CLI into the cache unless it is there (into a temp dir renamed into place: never half there). */
export async function installClaudeCode(version = CLAUDE_CODE_NEWEST): Promise<void> {
  if (existsSync(claudeAt(version))) return;
  const target = path.join(CACHE, version);
  const staging = `${target}.partial-${process.pid}`;
  await fs.mkdir(staging, { recursive: true });
  await new Promise<void>((resolve, reject) => {
    const npm = spawn("npm", ["install", "--no-audit", "--no-fund", "--no-save", "--prefix", staging, `@anthropic-ai/claude-code@${version}`], {
      stdio: ["ignore", "inherit", "inherit"],
    });
    npm.on("error", reject);
    npm.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`npm install @anthropic-ai/claude-code@${version} failed (exit ${code})`))));
  });
  await fs.rm(target, { recursive: true, force: true });
  await fs.rename(staging, target);
}

export interface ClaudeHome {
  home: string;
  /** PATH with `claude-bus` (this repo's bin/claude-bus, on its build) and, unless left out, `claude`. */
  path: string;
}

/** A HOME with a bin dir holding `claude-bus`, as `npm link` would leave it. */
export async function claudeHome(home: string, { withClaude = true } = {}): Promise<ClaudeHome> {
  if (!existsSync(path.join(REPO, "dist", "cli", "main.js"))) throw new Error("dist/ is missing: run `npm run build` (npm test builds first)");
  const bin = path.join(home, "bin");
  await fs.mkdir(bin, { recursive: true });
  await fs.symlink(path.join(REPO, "bin", "claude-bus"), path.join(bin, "claude-bus"));
  return { home, path: [bin, ...(withClaude ? [CLAUDE_BIN_DIR] : []), path.dirname(process.execPath), "/usr/bin", "/bin"].join(":") };
}

/** `claude-bus` on PATH as a wrapper that hides the session's inbox socket from every claude-bus process (hooks, server, monitor). */
export async function hideInboxSocket(h: ClaudeHome): Promise<void> {
  const bin = path.join(h.home, "bin", "claude-bus");
  await fs.rm(bin);
  await fs.writeFile(bin, `#!/bin/sh\nunset CLAUDE_CODE_MESSAGING_SOCKET CLAUDE_CODE_MESSAGING_TOKEN\nexec ${path.join(REPO, "bin", "claude-bus")} "$@"\n`, {
    mode: 0o755,
  });
}

/** The environment of a headless, offline Claude Code run: only loopback, nothing of this user's. */
export function claudeEnv(h: ClaudeHome, modelUrl: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    HOME: h.home,
    PATH: h.path,
    ANTHROPIC_API_KEY: "sk-test",
    ANTHROPIC_BASE_URL: modelUrl,
    DISABLE_TELEMETRY: "1",
    DISABLE_AUTOUPDATER: "1",
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
    ...extra,
  };
}

/**
 * A Claude Code session taking prompts one at a time on stdin (stream-json), so a test can act between
 * two prompts of the same session, as a person typing would.
 */
export interface Session {
  child: ChildProcess;
  /** Sends a prompt and resolves with the turn's result event once Claude Code has answered it. */
  prompt(text: string): Promise<any>; // the stream-json result event: each test reads what it needs
  /** Every stream-json event so far. */
  events: any[]; // as above
  end(): Promise<number | null>;
}

export function startSession(h: ClaudeHome, modelUrl: string, args: string[] = [], env: Record<string, string> = {}, version = CLAUDE_CODE_NEWEST): Session {
  const child = spawn(claudeAt(version), ["-p", "--input-format", "stream-json", "--output-format", "stream-json", "--verbose", ...args], {
    cwd: h.home,
    env: claudeEnv(h, modelUrl, env),
    stdio: ["pipe", "pipe", "pipe"],
  });
  const events: any[] = [];
  let buffer = "";
  let stderr = "";
  const waiters: Array<(event: any) => void> = [];
  child.stdout!.on("data", (d: Buffer) => {
    buffer += d.toString();
    for (let nl = buffer.indexOf("\n"); nl >= 0; nl = buffer.indexOf("\n")) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      if (!line.trim()) continue;
      const event = JSON.parse(line);
      events.push(event);
      if (event.type === "result") waiters.shift()?.(event);
    }
  });
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
  return {
    child,
    events,
    prompt(text) {
      const result = new Promise<any>((resolve, reject) => {
        waiters.push(resolve);
        void exited.then((code) => reject(new Error(`claude exited (${code}) before answering:\n${stderr}`)));
      });
      child.stdin!.write(`${JSON.stringify({ type: "user", message: { role: "user", content: text } })}\n`);
      return result;
    },
    async end() {
      child.stdin!.end();
      return exited;
    },
  };
}

/** One command of the real CLI (`claude plugin ...`), resolving with its exit code and output. */
export function runClaudeCli(h: ClaudeHome, args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(CLAUDE, args, { cwd: h.home, env: claudeEnv(h, "http://127.0.0.1:9"), stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, out }));
  });
}

/**
 * Claude Code's interactive UI in a terminal of its own (tmux on a private socket): the only mode that
 * runs plugin monitors. ~/.claude.json says the first-run questions were answered (onboarding, the test
 * API key, trust in the working directory), so the session starts straight at its prompt.
 */
export interface Terminal {
  /** The screen as text. */
  screen(): string;
  close(): Promise<void>;
}

export async function startInteractive(h: ClaudeHome, modelUrl: string, version = CLAUDE_CODE_NEWEST): Promise<Terminal> {
  const env = claudeEnv(h, modelUrl);
  await fs.writeFile(
    path.join(h.home, ".claude.json"),
    JSON.stringify({
      hasCompletedOnboarding: true,
      customApiKeyResponses: { approved: [env.ANTHROPIC_API_KEY.slice(-20)], rejected: [] },
      projects: { [h.home]: { hasTrustDialogAccepted: true } },
    }),
  );
  const socket = `claude-bus-test-${process.pid}-${Date.now()}`;
  const tmux = (...args: string[]) => spawnSync("tmux", ["-L", socket, ...args], { encoding: "utf8" });
  const command = ["env", "-i", ...Object.entries({ ...env, TERM: "xterm-256color" }).map(([k, v]) => `${k}=${v}`), claudeAt(version)];
  const started = spawnSync("tmux", ["-L", socket, "-f", "/dev/null", "new-session", "-d", "-x", "160", "-y", "50", "-c", h.home, ...command], {
    encoding: "utf8",
  });
  if (started.status !== 0) throw new Error(`tmux new-session failed: ${started.stderr}`);
  const claudePid = Number(tmux("list-panes", "-F", "#{pane_pid}").stdout.trim());
  return {
    screen: () => tmux("capture-pane", "-p").stdout,
    // the private server, and with it the session; then Claude Code's own exit, which still writes into
    // ~/.claude for a moment (removing HOME before that fails with ENOTEMPTY)
    async close() {
      tmux("kill-server");
      if (!(await exited(claudePid, 10_000))) process.kill(claudePid, "SIGKILL");
    },
  };
}

/** Whether process `pid` is gone within `ms`. */
async function exited(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    try {
      process.kill(pid, 0);
    } catch {
      return true;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return false;
}
