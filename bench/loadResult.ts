/** What a load run measured, whichever generator ran it, and the one definition of its percentiles. */

export interface LoadResult {
  /** Answers with the expected status. */
  requests: number;
  perSecond: number;
  p50ms: number;
  p99ms: number;
  maxms: number;
  /** Failed connections, timeouts and answers with another status. */
  errors: number;
}

/** The sample at quantile `q` (0 to 1) of samples sorted ascending: the nearest rank at or below; NaN when there are none. */
export function percentile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}

/** A result from every answer's latency in ms (in any order), the run's length and its error count. */
export function fromLatencies(latencies: number[], seconds: number, errors: number): LoadResult {
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    requests: sorted.length,
    perSecond: sorted.length / seconds,
    p50ms: percentile(sorted, 0.5),
    p99ms: percentile(sorted, 0.99),
    maxms: sorted[sorted.length - 1] ?? NaN,
    errors,
  };
}
