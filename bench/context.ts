/**
 * What each part of the bench is given. A part is an async function of a BenchContext that starts the
 * servers it needs, measures, and reports its figures as table rows; run.ts calls the parts in order.
 */
import type { ServerChild } from "./servers";
import type { WrkRequest } from "./wrk";
import type { LoadResult } from "./loadResult";

export interface BenchContext {
  /** A directory of this run's, removed at its end: each part makes its own folder in it. */
  root: string;
  /** The Authorization header the bus takes. */
  auth: string;
  /** How long each load phase runs (BENCH_SECONDS). */
  seconds: number;
  /** The bus on `dataDir`, with `args` added to `serve`'s. */
  startBus(dataDir: string, args?: string[]): Promise<ServerChild>;
  /** wrk against `url` (with the bus's auth) at `connections` connections, for `seconds` unless told. */
  wrk(url: string, requests: WrkRequest[], connections: number, seconds?: number): Promise<LoadResult>;
  /** Adds a row to the table (and prints it at once). */
  report(figure: string, result: string): void;
}
