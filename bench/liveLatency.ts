/**
 * Post-to-model latency of live delivery, with the real Claude Code (the newest the tests install) and a
 * scripted model on loopback, after a real `claude-bus bootstrap`: from the post's answer to the moment
 * the model is sent a request holding the message. Idle: a stream-json session between prompts, woken
 * by the post (urgent: sent at once; ordinary: after the batch window). Busy: a task whose tool call is
 * running when the post is made; the message is written into the session at once and reaches the model
 * at the next tool boundary, which this part holds for a fixed time, so it reports the write (the ack)
 * and whether the very next request held the message.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { createBusClient } from "../client/index";
import { LIVE_BATCH_MS, LIVE_START_GRACE_MS } from "../cli/delivery/live";
import { CLAUDE_BIN_DIR, CLAUDE_CODE_NEWEST, type ClaudeHome, installClaudeCode, startSession } from "../test/claude/claudeCode";
import { startScriptedModel, type Turn } from "../test/claude/scriptedModel";
import type { BenchContext } from "./context";

const SAMPLES = 5;
/** How long the busy session's tool call runs after the post: the write must land well inside it. */
const TOOL_HOLD_MS = 3_000;

const now = () => Number(process.hrtime.bigint()) / 1e6;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until<T>(probe: () => T | undefined | false | Promise<T | undefined | false>, ms = 120_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error("live latency: timed out");
    await sleep(2);
  }
}

export async function liveLatency(ctx: BenchContext): Promise<void> {
  await installClaudeCode(CLAUDE_CODE_NEWEST);
  const dir = path.join(ctx.root, "live-latency");
  const bus = await ctx.startBus(path.join(dir, "data"));
  try {
    const [user, pass] = Buffer.from(ctx.auth.replace(/^Basic /, ""), "base64")
      .toString("utf8")
      .split(/:(.*)/s);
    // a HOME with `claude-bus` (this checkout's) and `claude` on PATH, as test/claude's claudeHome makes it
    const bin = path.join(dir, "home", "bin");
    fs.mkdirSync(bin, { recursive: true });
    fs.symlinkSync(path.resolve(__dirname, "../../bin/claude-bus"), path.join(bin, "claude-bus"));
    const h: ClaudeHome = { home: path.join(dir, "home"), path: [bin, CLAUDE_BIN_DIR, path.dirname(process.execPath), "/usr/bin", "/bin"].join(":") };
    const boot = spawnSync("claude-bus", ["bootstrap", "--me", "kilo"], {
      cwd: h.home,
      env: { HOME: h.home, PATH: h.path, BUS_URL: bus.url, BUS_USER: user, BUS_PASS: pass },
      encoding: "utf8",
    });
    if (boot.status !== 0) throw new Error(`bootstrap failed: ${boot.stdout}${boot.stderr}`);
    const client = createBusClient({ url: bus.url, user, pass });
    const unread = async () => (await client.messages({ to: "kilo", unread_by: "kilo" })).length;

    // requests as they arrive, with when
    const seen: Array<{ at: number; text: string }> = [];
    const go = path.join(dir, "go");
    const model = await startScriptedModel((request): Turn => {
      seen.push({ at: now(), text: request.text });
      // a busy task's prompt gets one tool call; what comes after that call, and everything else, a text
      const lastUser = JSON.stringify([...request.body.messages].reverse().find((m: { role: string }) => m.role === "user"));
      if (!lastUser.includes("busy task") || lastUser.includes('"tool_result"')) return { text: "ok" };
      return { tool: "Bash", input: { command: `while [ ! -e ${go} ]; do sleep 0.05; done`, description: "hold" } };
    });
    const reached = async (marker: string, posted: number) => (await until(() => seen.find((r) => r.at >= posted && r.text.includes(marker)))).at - posted;
    try {
      const session = startSession(h, model.url, ["--allowedTools", "Bash"], {}, CLAUDE_CODE_NEWEST);
      await session.prompt("hello");
      await sleep(LIVE_START_GRACE_MS); // the live path starts delivering after the session-start hook's turn
      const idle = async (tags: string[]) => {
        const times: number[] = [];
        for (let i = 0; i < SAMPLES; i++) {
          const results = session.events.filter((e) => e.type === "result").length;
          const marker = `idle-${tags.join("")}-${i}-${Date.now()}`;
          await client.post({ from: "lima", to: "kilo", body: marker, tags });
          times.push(await reached(marker, now()));
          await until(() => session.events.filter((e) => e.type === "result").length > results);
        }
        return times;
      };
      const urgent = await idle(["urgent"]);
      const ordinary = await idle([]);
      ctx.report(
        "live delivery, idle session woken (post answered to model request), urgent",
        `median ${median(urgent).toFixed(0)} ms, max ${Math.max(...urgent).toFixed(0)} ms (${SAMPLES} posts, Claude Code ${CLAUDE_CODE_NEWEST})`,
      );
      ctx.report("live delivery, idle session woken, ordinary (batched)", `median ${median(ordinary).toFixed(0)} ms (batch window ${LIVE_BATCH_MS} ms)`);

      const writes: number[] = [];
      let nextRequestHeldIt = 0;
      for (let i = 0; i < SAMPLES; i++) {
        fs.rmSync(go, { force: true });
        const before = seen.length;
        const task = session.prompt(`busy task ${i}`);
        await until(() => seen.slice(before).some((r) => r.text.includes(`busy task ${i}`)));
        await sleep(500); // the tool call is running
        const marker = `busy-${i}-${Date.now()}`;
        const posted = now();
        await client.post({ from: "lima", to: "kilo", body: marker, tags: ["urgent"] });
        await until(async () => (await unread()) === 0);
        writes.push(now() - posted);
        await sleep(Math.max(0, TOOL_HOLD_MS - (now() - posted)));
        const released = seen.length;
        fs.writeFileSync(go, "");
        await task;
        if (seen[released]?.text.includes(marker)) nextRequestHeldIt++;
      }
      ctx.report(
        "live delivery, busy session (post answered to written into the session, urgent)",
        `median ${median(writes).toFixed(0)} ms; in the request right after the tool call: ${nextRequestHeldIt}/${SAMPLES}`,
      );
      await session.end();
    } finally {
      await model.close();
    }
  } finally {
    await bus.stop();
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
