/** The servers under test, each in a child process of its own so the bench's own work never runs in theirs. */
import { type ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

export interface ServerChild {
  url: string;
  pid: number;
  /** What it printed up to listening. */
  startOutput: string;
  /** The first line it prints holding `text` (a log line's `"msg":"..."`, say), from start-up on. */
  line(text: string): Promise<string>;
  /** SIGTERM, and wait for the exit. */
  stop(): Promise<void>;
}

function startChild(args: string[], env: NodeJS.ProcessEnv, ready: (out: string) => string | undefined): Promise<ServerChild> {
  const proc = spawn(process.execPath, args, { env, stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  return new Promise((resolve, reject) => {
    const onEarlyExit = (code: number | null) => reject(new Error(`${args.join(" ")} exited ${code} before it was ready:\n${out}`));
    const collect = (d: Buffer) => {
      out += d.toString();
      const url = ready(out);
      if (!url) return;
      // From here on the per-request log lines are only drained: collecting them would load this process.
      proc.stdout!.off("data", collect).resume();
      proc.off("exit", onEarlyExit);
      resolve({ url, pid: proc.pid!, startOutput: out, line: (text) => line(proc, out, text), stop: () => stop(proc) });
    };
    proc.stdout!.on("data", collect);
    proc.on("exit", onEarlyExit);
  });
}

/** A whole line of `startOutput` holding `text`, or else the next one printed (the caller asks right after start-up). */
function line(proc: ChildProcess, startOutput: string, text: string): Promise<string> {
  const whole = startOutput.split("\n");
  let partial = whole.pop()!;
  const early = whole.find((l) => l.includes(text));
  if (early !== undefined) return Promise.resolve(early);
  return new Promise((resolve, reject) => {
    const scan = (d: Buffer) => {
      const lines = (partial + d.toString()).split("\n");
      partial = lines.pop()!;
      const hit = lines.find((l) => l.includes(text));
      if (hit === undefined) return;
      proc.stdout!.off("data", scan);
      proc.off("exit", gone);
      resolve(hit);
    };
    const gone = () => reject(new Error(`the server exited before it printed ${text}`));
    proc.stdout!.on("data", scan);
    proc.once("exit", gone);
  });
}

async function stop(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null) return;
  const exited = new Promise((r) => proc.once("exit", r));
  proc.kill("SIGTERM");
  await exited;
}

/** The bare node:http or Express 5 server of bareServer.ts (compiled beside this file). */
export function startBare(kind: "node" | "express"): Promise<ServerChild> {
  return startChild([path.join(__dirname, "bareServer.js"), kind], { PATH: process.env.PATH }, (out) => out.match(/^(http:\S+)\n/)?.[1]);
}

/** The shipped service bundle (what the host runs) serving `dataDir` with `serve`'s `args`, on a free port unless they name one. */
export function startBus(bundle: string, credentials: { user: string; pass: string }, dataDir: string, args: string[] = []): Promise<ServerChild> {
  const env = { PATH: process.env.PATH, BUS_USER: credentials.user, BUS_PASS: credentials.pass };
  const port = args.includes("--port") ? [] : ["--port", "0"];
  return startChild([bundle, "serve", ...port, "--data", dataDir, ...args], env, (out) => {
    const line = out.split("\n").find((l) => l.includes('"msg":"listening"'));
    return line ? JSON.parse(line).url : undefined;
  });
}

/** VmRSS (now) and VmHWM (the lifetime high) of a process, in MiB (Linux /proc). */
export function memory(pid: number): { rss: number; peak: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
  return { rss: kb("VmRSS") / 1024, peak: kb("VmHWM") / 1024 };
}
