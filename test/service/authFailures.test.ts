/** The failure count behind 429s: what counts, for how long, whose address, and how much it remembers. */
import type { IncomingMessage } from "node:http";
import { MAX_TRACKED_ADDRESSES } from "../../contract/defaults";
import { AuthFailures, clientAddress } from "../../service/members/authFailures";

const limits = { allowed: 3, windowMs: 60_000, blockMs: 300_000 };

function clock(start = 1_000_000): { now: () => number; advance(ms: number): void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

describe("AuthFailures", () => {
  it("blocks an address after `allowed` different wrong credentials in a window, for blockMs, and only that address", () => {
    const time = clock();
    const failures = new AuthFailures(limits, time.now);
    expect(failures.failed("198.51.100.7", "a")).toBe(false);
    expect(failures.failed("198.51.100.7", "b")).toBe(false);
    expect(failures.blockedFor("198.51.100.7")).toBe(0);
    expect(failures.failed("198.51.100.7", "c")).toBe(true);
    expect(failures.blockedFor("198.51.100.7")).toBe(300_000);
    expect(failures.blockedFor("198.51.100.8")).toBe(0);
    time.advance(299_999);
    expect(failures.blockedFor("198.51.100.7")).toBe(1);
    time.advance(1);
    expect(failures.blockedFor("198.51.100.7")).toBe(0);
  });

  it("counts one wrong credential repeated once: a client retrying a stale password blocks nobody", () => {
    const failures = new AuthFailures(limits, clock().now);
    for (let i = 0; i < 50; i++) failures.failed("198.51.100.7", "stale");
    expect(failures.blockedFor("198.51.100.7")).toBe(0);
  });

  it("starts over when the window has passed", () => {
    const time = clock();
    const failures = new AuthFailures(limits, time.now);
    failures.failed("198.51.100.7", "a");
    failures.failed("198.51.100.7", "b");
    time.advance(60_000);
    expect(failures.failed("198.51.100.7", "c")).toBe(false);
    expect(failures.blockedFor("198.51.100.7")).toBe(0);
  });

  it("counts an IPv6 address by its /64", () => {
    const failures = new AuthFailures(limits, clock().now);
    failures.failed("2001:db8:1:2::1", "a");
    failures.failed("2001:db8:1:2:ffff::9", "b");
    failures.failed("2001:0db8:0001:0002:0:0:0:77", "c");
    expect(failures.blockedFor("2001:db8:1:2::abcd")).toBe(300_000);
    expect(failures.blockedFor("2001:db8:1:3::1")).toBe(0);
  });

  it(`remembers at most ${MAX_TRACKED_ADDRESSES} addresses, and a flood of new ones does not free a blocked one`, () => {
    const failures = new AuthFailures(limits, clock().now);
    for (const guess of ["a", "b", "c"]) failures.failed("203.0.113.1", guess);
    for (let i = 0; i < MAX_TRACKED_ADDRESSES + 500; i++) failures.failed(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, "x");
    expect(failures.tracked).toBeLessThanOrEqual(MAX_TRACKED_ADDRESSES);
    expect(failures.blockedFor("203.0.113.1")).toBe(300_000);
  });
});

describe("clientAddress", () => {
  const req = (remoteAddress: string, realIp?: string) =>
    ({ socket: { remoteAddress }, headers: realIp === undefined ? {} : { "x-real-ip": realIp } }) as unknown as IncomingMessage;

  it("behind the proxy, takes X-Real-IP from loopback (nginx on the host) and ignores it from anywhere else", () => {
    expect(clientAddress(req("127.0.0.1", "198.51.100.7"), true)).toBe("198.51.100.7");
    expect(clientAddress(req("::1", "2001:db8::5"), true)).toBe("2001:db8::5");
    expect(clientAddress(req("::ffff:127.0.0.1", "198.51.100.7"), true)).toBe("198.51.100.7");
    expect(clientAddress(req("198.51.100.9", "127.0.0.1"), true)).toBe("198.51.100.9");
    expect(clientAddress(req("::ffff:198.51.100.9"), true)).toBe("198.51.100.9");
  });

  it("not behind the proxy, ignores X-Real-IP even from loopback: a local process cannot pick its address", () => {
    expect(clientAddress(req("127.0.0.1", "198.51.100.7"), false)).toBe("127.0.0.1");
    expect(clientAddress(req("::1", "2001:db8::5"), false)).toBe("::1");
    expect(clientAddress(req("::ffff:127.0.0.1", "198.51.100.7"), false)).toBe("127.0.0.1");
  });

  it("keeps the socket's address when X-Real-IP is not an address", () => {
    expect(clientAddress(req("127.0.0.1", "not-an-ip"), true)).toBe("127.0.0.1");
    expect(clientAddress(req("127.0.0.1", "198.51.100.7, 10.0.0.1"), true)).toBe("127.0.0.1");
  });
});
