/**
 * Long-poll (`GET /messages?wait=N`) with 1,000 idle waiters held open, each on its own connection: what
 * they cost in memory, and how soon a waiter hears of a post meant for it. wrk cannot hold requests open
 * or time one answer against another, so this part speaks HTTP itself; it times single requests, so
 * sharing the cores with the server costs it no throughput.
 */
import * as fs from "node:fs";
import * as http from "node:http";
import * as path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { MAX_WAIT_SECONDS } from "../contract/defaults";
import type { BenchContext } from "./context";
import { percentile } from "./loadResult";
import { memory } from "./servers";
import { fmt } from "./table";

const IDLE_WAITERS = 1_000;
const WAKE_UPS = 300;
/** Between asking and posting: the waiter's request is parsed and held by then, so the post wakes it. */
const WAITER_HEAD_START_MS = 20;

export interface Answer {
  status: number;
  body: string;
  /** When its last byte arrived (process.hrtime, ms). */
  at: number;
}

const now = () => Number(process.hrtime.bigint()) / 1e6;

/** One request on `agent`: when it was sent whole, and its answer with the time its last byte arrived. */
export function ask(agent: http.Agent, url: string, auth: string, route: string, json?: unknown): { sent: Promise<void>; answer: Promise<Answer> } {
  const body = json === undefined ? undefined : JSON.stringify(json);
  const headers: Record<string, string> = { Authorization: auth, ...(body !== undefined && { "Content-Type": "application/json" }) };
  const req = http.request(new URL(route, url), { method: body === undefined ? "GET" : "POST", headers, agent });
  const sent = new Promise<void>((resolve) => req.once("finish", resolve));
  const answer = new Promise<Answer>((resolve, reject) => {
    req.once("error", reject);
    req.once("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.once("end", () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString(), at: now() }));
    });
  });
  req.end(body);
  return { sent, answer };
}

/**
 * `count` waiters for messages to names nobody posts to, each asking again when its wait runs out.
 * Resolves once every request is sent; `stop` ends them, and throws if any got an answer but an empty
 * 200 at the end of its wait.
 */
async function idleWaiters(url: string, auth: string, count: number): Promise<{ stop(): void }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
  let stopping = false;
  let failure: string | undefined;
  const first = Array.from({ length: count }, (_, i) => {
    const route = `/messages?to=idle-${i}&unread_by=idle-${i}&wait=${MAX_WAIT_SECONDS}`;
    const again = (request: ReturnType<typeof ask>): Promise<void> => {
      const asked = now();
      request.answer.then(
        (a) => {
          if (stopping) return;
          const waited = (a.at - asked) / 1000;
          if (a.status !== 200 || a.body !== '{"messages":[]}\n') failure ??= `an idle waiter was answered ${a.status} ${a.body.slice(0, 200)}`;
          else if (waited < MAX_WAIT_SECONDS - 1) failure ??= `an idle waiter was answered after ${fmt(waited, 1)} s, not held for ${MAX_WAIT_SECONDS} s`;
          else void again(ask(agent, url, auth, route));
        },
        (error: Error) => {
          if (!stopping) failure ??= `an idle waiter failed: ${error.message}`;
        },
      );
      return request.sent;
    };
    return again(ask(agent, url, auth, route));
  });
  await Promise.all(first);
  return {
    stop() {
      stopping = true;
      agent.destroy();
      if (failure) throw new Error(failure);
    },
  };
}

/** Milliseconds from each post's 201 to the answer of the waiter it was meant for, over `count` posts. */
async function wakeUps(url: string, auth: string, count: number): Promise<number[]> {
  const agent = new http.Agent({ keepAlive: true });
  const delays: number[] = [];
  let since = "0";
  try {
    for (let i = 0; i < count; i++) {
      const waiter = ask(agent, url, auth, `/messages?to=wake&since=${since}&wait=${MAX_WAIT_SECONDS}`);
      await waiter.sent;
      await sleep(WAITER_HEAD_START_MS);
      const post = await ask(agent, url, auth, "/post", { from: "bench", to: "wake", body: `wake-up ${i}` }).answer;
      const answer = await waiter.answer;
      if (post.status !== 201) throw new Error(`POST /post answered ${post.status}: ${post.body}`);
      since = (JSON.parse(post.body) as { id: string }).id;
      const woken = JSON.parse(answer.body) as { messages: Array<{ id: string }> };
      if (woken.messages.length !== 1 || woken.messages[0].id !== since) throw new Error(`the waiter got ${answer.body.slice(0, 200)}, not message ${since}`);
      delays.push(answer.at - post.at);
    }
  } finally {
    agent.destroy();
  }
  return delays.sort((a, b) => a - b);
}

export async function longPoll(ctx: BenchContext): Promise<void> {
  const dir = path.join(ctx.root, "long-poll");
  // One credential from one address holds them all here: the per-credential cap is raised to fit.
  const bus = await ctx.startBus(dir, ["--max-long-polls", String(IDLE_WAITERS + 1)]);
  try {
    const none = memory(bus.pid).rss;
    const idle = await idleWaiters(bus.url, ctx.auth, IDLE_WAITERS);
    let delays: number[];
    try {
      await sleep(1_000); // the last requests sent are parsed and held
      ctx.report(
        `RSS with ${fmt(IDLE_WAITERS)} idle waiters (GET /messages?wait=${MAX_WAIT_SECONDS}, each its own connection)`,
        `${fmt(memory(bus.pid).rss)} MiB (${fmt(none)} MiB with none)`,
      );
      delays = await wakeUps(bus.url, ctx.auth, WAKE_UPS);
    } finally {
      idle.stop();
    }
    ctx.report(
      `long-poll wake-up, from a post's 201 to the waiter's answer, with ${fmt(IDLE_WAITERS)} idle waiters`,
      `p50 ${fmt(percentile(delays, 0.5), 2)} ms, p99 ${fmt(percentile(delays, 0.99), 2)} ms (${WAKE_UPS} posts)`,
    );
  } finally {
    await bus.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
