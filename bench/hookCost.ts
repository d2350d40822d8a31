/**
 * What the UserPromptSubmit hook costs each prompt: `claude-bus hook` as Claude Code starts it (a whole
 * process, bin/claude-bus on dist/, the event on stdin) with nothing new on a loopback bus, side by side
 * with `node -e 0`, each run in turn so a drift of the machine's speed touches both alike.
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
    const [user, pass] = Buffer.from(ctx.auth.replace(/^Basic /, ""), "base64").toString("utf8").split(/:(.*)/s);
    fs.mkdirSync(path.join(home, ".secrets"), { recursive: true, mode: 0o700 });
    fs.writeFileSync(path.join(home, ".secrets", "claude-bus.env"), `BUS_USER=${user}\nBUS_PASS=${pass}\nBUS_URL=${bus.url}\nBUS_ME=hook-bench\n`, { mode: 0o600 });
    const event = JSON.stringify({ session_id: "hook-bench", hook_event_name: "UserPromptSubmit", prompt: "hi" });
    const env = { PATH: process.env.PATH, HOME: home };
    const hook: number[] = [];
    const bare: number[] = [];
    for (let i = 0; i < RUNS + 1; i++) {
      const h = timed(() => spawnSync(process.execPath, ["--", BIN, "hook"], { input: event, env, encoding: "utf8" }));
      const b = timed(() => spawnSync(process.execPath, ["-e", "0"], { env, encoding: "utf8" }));
      if (h.result.status !== 0 || h.result.stdout !== "") throw new Error(`claude-bus hook did not run clean: ${h.result.status} ${h.result.stdout}${h.result.stderr}`);
      if (i === 0) continue; // warm-up: the page cache, not the hook
      hook.push(h.ms);
      bare.push(b.ms);
    }
    ctx.report(
      "UserPromptSubmit hook, nothing new (whole process, loopback bus), vs node -e 0",
      `median ${median(hook).toFixed(0)} ms vs ${median(bare).toFixed(0)} ms (${RUNS} runs each)`,
    );
  } finally {
    await bus.stop();
  }
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
