/** How the bench prints its figures: the Markdown table README.md's Benchmark section holds verbatim. */
import type { LoadResult } from "./loadResult";

export const fmt = (n: number, digits = 0) => n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });

export const throughput = (r: LoadResult) =>
  `${fmt(r.perSecond)} req/s (p50 ${fmt(r.p50ms, 2)} ms, p99 ${fmt(r.p99ms, 2)} ms${r.errors ? `, ${r.errors} errors` : ""})`;

/** What the same load got from a bare node:http server and a bare Express 5 app, in req/s. */
export interface Ceilings {
  node: number;
  express: number;
}

/** A share in percent: one decimal below 10%, where a whole percent would hide most of the figure. */
export const percent = (share: number) => `${fmt(share * 100, share < 0.1 ? 1 : 0)}%`;

/** A bus figure against both ceilings: `= 14% of bare node:http, 78% of bare Express`. */
export const ofCeilings = (perSecond: number, ceilings: Ceilings) =>
  `= ${percent(perSecond / ceilings.node)} of bare node:http, ${percent(perSecond / ceilings.express)} of bare Express`;

/** The README's `| figure | result |` table, one row per reported figure. */
export function markdownTable(rows: Array<[figure: string, result: string]>): string {
  return ["| figure | result |", "|---|---|", ...rows.map(([figure, result]) => `| ${figure} | ${result} |`)].join("\n");
}
