/** How the bench prints its figures: the Markdown table README.md's Benchmark section holds verbatim. */
import type { LoadResult } from "./load";

export const fmt = (n: number, digits = 0) => n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });

export const throughput = (r: LoadResult) =>
  `${fmt(r.perSecond)} req/s (p50 ${fmt(r.p50ms, 2)} ms, p99 ${fmt(r.p99ms, 2)} ms${r.errors ? `, ${r.errors} errors` : ""})`;

/** The README's `| figure | result |` table, one row per reported figure. */
export function markdownTable(rows: Array<[figure: string, result: string]>): string {
  return ["| figure | result |", "|---|---|", ...rows.map(([figure, result]) => `| ${figure} | ${result} |`)].join("\n");
}
