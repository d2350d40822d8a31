/** The bench's printed table is the one README.md holds, so a run's output can be pasted as is. */
import * as fs from "node:fs";
import * as path from "node:path";
import { markdownTable, ofCeilings, percent, throughput } from "../../bench/table";

/** The table under README.md's "### Benchmark" heading, as its lines. */
function readmeBenchTable(): string[] {
  const readme = fs.readFileSync(path.join(__dirname, "..", "..", "README.md"), "utf8").split("\n");
  const start = readme.findIndex((line) => line.startsWith("### Benchmark"));
  const first = readme.findIndex((line, i) => i > start && line.startsWith("|"));
  const end = readme.findIndex((line, i) => i > first && !line.startsWith("|"));
  return readme.slice(first, end);
}

describe("the bench's Markdown table", () => {
  it("formats load results as the README quotes them", () => {
    expect(throughput({ requests: 58_932, perSecond: 19_644.2, p50ms: 1.2751, p99ms: 5.1234, maxms: 9.1, errors: 0 })).toBe(
      "19,644 req/s (p50 1.28 ms, p99 5.12 ms)",
    );
    expect(throughput({ requests: 10, perSecond: 972, p50ms: 0.86, p99ms: 5.17, maxms: 9.1, errors: 3 })).toBe(
      "972 req/s (p50 0.86 ms, p99 5.17 ms, 3 errors)",
    );
  });

  it("gives a share in whole percent, with one decimal below 10%", () => {
    expect(percent(0.7834)).toBe("78%");
    expect(percent(0.0571)).toBe("5.7%");
  });

  it("reads a bus figure against both ceilings", () => {
    expect(ofCeilings(7_000, { node: 50_000, express: 8_000 })).toBe("= 14% of bare node:http, 88% of bare Express");
  });

  it("prints a figure | result table", () => {
    expect(markdownTable([["RSS of an empty bus after start", "64 MiB"]])).toBe("| figure | result |\n|---|---|\n| RSS of an empty bus after start | 64 MiB |");
  });

  it("is, byte for byte, the table README.md shows", () => {
    const lines = readmeBenchTable();
    expect(lines.length).toBeGreaterThan(2);
    const rows = lines.slice(2).map((line) => line.slice(2, -2).split(" | ") as [string, string]);
    expect(markdownTable(rows)).toBe(lines.join("\n"));
  });
});
