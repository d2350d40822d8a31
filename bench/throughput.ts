/**
 * Requests per second under wrk: the two ceilings first (bare node:http, bare Express 5), then the bus's
 * cheapest route and its durable post, each read against both ceilings.
 */
import * as path from "node:path";
import type { BenchContext } from "./context";
import type { LoadResult } from "./loadResult";
import { memory, type ServerChild, startBare } from "./servers";
import { type Ceilings, fmt, ofCeilings, percent, throughput } from "./table";
import type { WrkRequest } from "./wrk";

const CLIENTS = 32;

/** A second of the same load first, so the figure is of JIT-compiled code. */
async function warmThenMeasure(ctx: BenchContext, server: ServerChild, requests: WrkRequest[], connections: number): Promise<LoadResult> {
  await ctx.wrk(server.url, requests, connections, 1);
  return ctx.wrk(server.url, requests, connections);
}

async function bare(ctx: BenchContext, kind: "node" | "express"): Promise<LoadResult> {
  const server = await startBare(kind);
  try {
    return await warmThenMeasure(ctx, server, [{ method: "GET", path: "/" }], CLIENTS);
  } finally {
    await server.stop();
  }
}

export async function ceilings(ctx: BenchContext): Promise<Ceilings> {
  const node = await bare(ctx, "node");
  ctx.report(`bare node:http GET, ${CLIENTS} clients`, throughput(node));
  const express = await bare(ctx, "express");
  ctx.report(`bare Express 5 GET, ${CLIENTS} clients`, `${throughput(express)} = ${percent(express.perSecond / node.perSecond)} of bare node:http`);
  return { node: node.perSecond, express: express.perSecond };
}

/** Posts from 32 senders in turn, each body a little different. */
export const postRequests: WrkRequest[] = Array.from({ length: 256 }, (_, n) => ({
  method: "POST",
  path: "/post",
  body: JSON.stringify({ from: `bench${n % 32}`, to: "any", body: `benchmark message ${n}: the build is green, see /opt/foo`, tags: ["bench"] }),
}));

export async function busThroughput(ctx: BenchContext, bareFigures: Ceilings): Promise<void> {
  const bus = await ctx.startBus(path.join(ctx.root, "post"));
  try {
    ctx.report("RSS of an empty bus after start", `${fmt(memory(bus.pid).rss)} MiB`);
    const health = await warmThenMeasure(ctx, bus, [{ method: "GET", path: "/health" }], CLIENTS);
    ctx.report(`bus GET /health (auth, no disk), ${CLIENTS} clients`, `${throughput(health)} ${ofCeilings(health.perSecond, bareFigures)}`);
    for (const clients of [1, CLIENTS]) {
      const post = await ctx.wrk(bus.url, postRequests, clients);
      ctx.report(
        `bus POST /post (durable, fsync), ${clients} client${clients > 1 ? "s" : ""}`,
        `${throughput(post)} ${ofCeilings(post.perSecond, bareFigures)}`,
      );
    }
  } finally {
    await bus.stop();
  }
}
