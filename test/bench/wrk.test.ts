/** What the bench reads from wrk, and what it hands wrk's Lua script. */
import { parseWrkResult, requestLines } from "../../bench/wrk";

const WRK_OUTPUT = `Running 3s test @ http://127.0.0.1:40123
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.48ms    2.67ms  63.62ms   96.53%
    Req/Sec    27.02k     7.93k   34.35k    90.00%
  80673 requests in 3.00s, 11.00MB read
  Non-2xx or 3xx responses: 73
Requests/sec:  26891.23
Transfer/sec:      3.67MB
wrk-result {"requests":80673,"duration":3000012,"p50":1275,"p99":5123,"max":63620,"connect":0,"read":2,"write":0,"status":73,"timeout":1}
`;

describe("parseWrkResult", () => {
  it("reads the script's result line: answers with the expected status per second, latencies in ms, every kind of error", () => {
    expect(parseWrkResult(WRK_OUTPUT)).toEqual({ requests: 80_600, perSecond: 80_600 / 3.000012, p50ms: 1.275, p99ms: 5.123, maxms: 63.62, errors: 76 });
  });

  it("says so when wrk printed no result", () => {
    expect(() => parseWrkResult("unable to connect to 127.0.0.1:1 Connection refused\n")).toThrow(/wrk printed no result:\nunable to connect/);
  });
});

describe("requestLines", () => {
  it("writes one METHOD<TAB>PATH<TAB>BODY line per request; JSON keeps tabs and newlines escaped", () => {
    const body = JSON.stringify({ from: "a", body: "two\tcolumns\nand a line" });
    expect(
      requestLines([
        { method: "GET", path: "/health" },
        { method: "POST", path: "/post", body },
      ]),
    ).toBe(`GET\t/health\t\nPOST\t/post\t{"from":"a","body":"two\\tcolumns\\nand a line"}\n`);
  });
});
