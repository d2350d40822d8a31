/**
 * Claims and receipts: durable claims per second under wrk (new claims, then renewals of them: each one
 * write and one fsync), and how soon a waiter hears of what it waits for: a `GET /claims?resource=R&wait=N`
 * of a release of R, a `GET /messages/<id>/receipt?reader=NAME&wait=N` of NAME's ack. Wake-ups are timed
 * by the bench's own HTTP client, as the message long-poll's are (longPoll.ts), from the moment the
 * freeing request is sent: the bus wakes the waiter once that change is on disk, before it answers the
 * request itself, so the waiter's answer often arrives first.
 */
import * as fs from "node:fs";
import * as http from "node:http";
import * as path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { MAX_WAIT_SECONDS } from "../contract/defaults";
import type { BenchContext } from "./context";
import { percentile } from "./loadResult";
import { ask, type Answer } from "./longPoll";
import { fmt, throughput } from "./table";
import type { WrkRequest } from "./wrk";

const CLIENTS = 32;
const WAKE_UPS = 300;
/** Between asking and letting go: the waiter's request is parsed and held by then. */
const WAITER_HEAD_START_MS = 20;

/** Claims of 4,096 resources by 32 holders in turn: the first pass claims them, every later one renews. */
const claimRequests: WrkRequest[] = Array.from({ length: 4_096 }, (_, n) => ({
  method: "POST",
  path: "/claims",
  body: JSON.stringify({ resource: `repo:src/module-${n}.ts`, ttl: 600, holder: `bench${n % CLIENTS}`, note: "benchmark" }),
}));

const ok = (a: Answer, status: number, what: string) => {
  if (a.status !== status) throw new Error(`${what} answered ${a.status}: ${a.body.slice(0, 200)}`);
  return JSON.parse(a.body) as Record<string, unknown>;
};

const now = () => Number(process.hrtime.bigint()) / 1e6;

/** Ms from sending the request that frees (a release, an ack) to the waiter's answer, `count` times. */
async function wakeUps(count: number, round: (agent: http.Agent, i: number) => Promise<{ sentAt: number; woken: Answer }>): Promise<number[]> {
  const agent = new http.Agent({ keepAlive: true });
  const delays: number[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const { sentAt, woken } = await round(agent, i);
      delays.push(woken.at - sentAt);
    }
  } finally {
    agent.destroy();
  }
  return delays.sort((a, b) => a - b);
}

export async function claims(ctx: BenchContext): Promise<void> {
  const dir = path.join(ctx.root, "claims");
  const bus = await ctx.startBus(dir);
  try {
    for (const clients of [1, CLIENTS]) {
      const load = await ctx.wrk(bus.url, claimRequests, clients);
      ctx.report(`bus POST /claims (claims, then renewals; durable, fsync), ${clients} client${clients > 1 ? "s" : ""}`, throughput(load));
    }
    const { url, auth } = { url: bus.url, auth: ctx.auth };
    const releases = await wakeUps(WAKE_UPS, async (agent, i) => {
      const resource = `task:wake-${i}`;
      ok(await ask(agent, url, auth, "/claims", { resource, ttl: 600, holder: "holder" }).answer, 201, "POST /claims");
      const waiter = ask(agent, url, auth, `/claims?resource=${encodeURIComponent(resource)}&wait=${MAX_WAIT_SECONDS}`);
      await waiter.sent;
      await sleep(WAITER_HEAD_START_MS);
      const release = ask(agent, url, auth, "/claims/release", { resource, holder: "holder" });
      const sentAt = await release.sent.then(now);
      ok(await release.answer, 200, "POST /claims/release");
      const woken = await waiter.answer;
      if ((ok(woken, 200, "GET /claims?wait").claims as unknown[]).length !== 0)
        throw new Error(`the waiter was answered ${woken.body.slice(0, 200)} before ${resource} was free`);
      return { sentAt, woken };
    });
    ctx.report(
      "claim wait wake-up, from sending a release (durable, fsync) to the answer of GET /claims?resource=R&wait=60",
      `p50 ${fmt(percentile(releases, 0.5), 2)} ms, p99 ${fmt(percentile(releases, 0.99), 2)} ms (${WAKE_UPS} releases)`,
    );
    const acks = await wakeUps(WAKE_UPS, async (agent, i) => {
      const posted = ok(await ask(agent, url, auth, "/post", { from: "sender", to: "reader", body: `read me ${i}` }).answer, 201, "POST /post");
      const waiter = ask(agent, url, auth, `/messages/${posted.id as string}/receipt?reader=reader&wait=${MAX_WAIT_SECONDS}`);
      await waiter.sent;
      await sleep(WAITER_HEAD_START_MS);
      const ack = ask(agent, url, auth, `/ack/${posted.id as string}`, { reader: "reader" });
      const sentAt = await ack.sent.then(now);
      ok(await ack.answer, 200, "POST /ack");
      const woken = await waiter.answer;
      if (ok(woken, 200, "GET receipt").read_at === null) throw new Error(`the receipt waiter was answered before the ack: ${woken.body.slice(0, 200)}`);
      return { sentAt, woken };
    });
    ctx.report(
      "receipt wake-up, from sending an ack (durable, fsync) to the answer of GET /messages/<id>/receipt?reader=NAME&wait=60",
      `p50 ${fmt(percentile(acks, 0.5), 2)} ms, p99 ${fmt(percentile(acks, 0.99), 2)} ms (${WAKE_UPS} acks)`,
    );
  } finally {
    await bus.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
