/**
 * What the UserPromptSubmit hook costs each prompt, and the PostToolUse hook each tool call: `claude-bus
 * hook` as Claude Code starts it (a whole process, bin/claude-bus on dist/, the event on stdin) with
 * nothing new on a loopback bus, side by side with `node -e 0`, each run in turn so a drift of the
 * machine's speed touches both alike. PostToolUse twice: where the live path delivers (it returns without
 * asking the bus) and as the fallback where it does not (it asks the bus).
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

/** The part of the bench's context this figure needs (bench/context.ts's BenchContext has it). */
export interface HookCostContext {
  root: string;
  /** The Authorization header the bus takes: the hook reads the same credential from its env file. */
  auth: string;
  startBus(dataDir: string): Promise<{ url: string; stop(): Promise<void> }>;
  report(figure: string, result: string): void;
}

const RUNS = 30;
const BIN = path.resolve(__dirname, "../../bin/claude-bus");

export async function hookCost(ctx: HookCostContext): Promise<void> {
  const dir = path.join(ctx.root, "hook-cost");
  const bus = await ctx.startBus(path.join(dir, "data"));
  try {
    const home = path.join(dir, "home");
    const [user, pass] = Buffer.from(ctx.auth.replace(/^Basic /, ""), "base64")
      .toString("utf8")
      .split(/:(.*)/s);
    fs.mkdirSync(path.join(home, ".secrets"), { recursive: true, mode: 0o700 });
    fs.writeFileSync(path.join(home, ".secrets", "claude-bus.env"), `BUS_USER=${user}\nBUS_PASS=${pass}\nBUS_URL=${bus.url}\nBUS_ME=hook-bench\n`, {
      mode: 0o600,
    });
    const env = { PATH: process.env.PATH, HOME: home };
    const prompt = costs(JSON.stringify({ session_id: "hook-bench", hook_event_name: "UserPromptSubmit", prompt: "hi" }), env);
    ctx.report(
      "UserPromptSubmit hook, nothing new (whole process, loopback bus), vs node -e 0",
      `median ${median(prompt.hook).toFixed(0)} ms vs ${median(prompt.bare).toFixed(0)} ms (${RUNS} runs each)`,
    );
    // the live path's marker, naming this (running) process and the socket the hook's environment names
    const socket = path.join(dir, "inbox.sock");
    fs.mkdirSync(path.join(home, ".claude-bus", "sessions"), { recursive: true, mode: 0o700 });
    fs.writeFileSync(path.join(home, ".claude-bus", "sessions", "tool-bench.live.json"), JSON.stringify({ pid: process.pid, socket }));
    const toolEvent = (session: string) => JSON.stringify({ session_id: session, hook_event_name: "PostToolUse", tool_name: "Bash" });
    const live = costs(toolEvent("tool-bench"), { ...env, CLAUDE_CODE_MESSAGING_SOCKET: socket });
    const fallback = costs(toolEvent("tool-bench-fallback"), env);
    ctx.report(
      "PostToolUse hook per tool call: live path on (returns at once) / fallback (asks the bus), vs node -e 0",
      `median ${median(live.hook).toFixed(0)} ms / ${median(fallback.hook).toFixed(0)} ms vs ${median(live.bare).toFixed(0)} ms (${RUNS} runs each)`,
    );
  } finally {
    await bus.stop();
  }
}

/** `claude-bus hook` on `event` and `node -e 0`, in turn, RUNS times after one warm-up (the page cache, not the hook). */
function costs(event: string, env: Record<string, string | undefined>): { hook: number[]; bare: number[] } {
  const hook: number[] = [];
  const bare: number[] = [];
  for (let i = 0; i < RUNS + 1; i++) {
    const h = timed(() => spawnSync(process.execPath, ["--", BIN, "hook"], { input: event, env, encoding: "utf8" }));
    const b = timed(() => spawnSync(process.execPath, ["-e", "0"], { env, encoding: "utf8" }));
    if (h.result.status !== 0 || h.result.stdout !== "")
      throw new Error(`claude-bus hook did not run clean: ${h.result.status} ${h.result.stdout}${h.result.stderr}`);
    if (i === 0) continue;
    hook.push(h.ms);
    bare.push(b.ms);
  }
  return { hook, bare };
}

function timed<T>(run: () => T): { result: T; ms: number } {
  const start = process.hrtime.bigint();
  const result = run();
  return { result, ms: Number(process.hrtime.bigint() - start) / 1e6 };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
