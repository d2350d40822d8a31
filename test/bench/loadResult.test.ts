/** The one definition of the bench's percentiles. */
import { fromLatencies, percentile } from "../../bench/loadResult";

describe("percentile", () => {
  const hundred = Array.from({ length: 100 }, (_, i) => i + 1);

  it("is the sample at the nearest rank at or below the quantile", () => {
    expect(percentile(hundred, 0.5)).toBe(51);
    expect(percentile(hundred, 0.99)).toBe(100);
    expect(percentile([4, 7, 9], 0.5)).toBe(7);
  });

  it("is the largest sample at quantile 1, and NaN for no samples", () => {
    expect(percentile(hundred, 1)).toBe(100);
    expect(percentile([], 0.5)).toBeNaN();
  });
});

describe("fromLatencies", () => {
  it("sorts the latencies, counts them per second and keeps the errors", () => {
    expect(fromLatencies([3, 1, 2, 4], 2, 5)).toEqual({ requests: 4, perSecond: 2, p50ms: 3, p99ms: 4, maxms: 4, errors: 5 });
  });
});
