import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { startBus, type TestBus } from "../support/bus";
import { postJson, request, type RequestOptions } from "../support/http";

const JSON_TYPE = { "Content-Type": "application/json" };

describe("bad input gets a clear 4xx JSON error, never a 5xx, and changes nothing stored", () => {
  let bus: TestBus;
  let snapshot: () => string;

  beforeAll(async () => {
    bus = await startBus();
    expect((await postJson(bus.url, "/post", { from: "a", to: "b", body: "keep me" })).status).toBe(201);
    expect((await postJson(bus.url, "/ack/1", { reader: "b" })).status).toBe(200);
    snapshot = () => ["bus.jsonl", "acks.jsonl"].map((f) => fs.readFileSync(path.join(bus.dataDir, f), "utf8")).join("\n--\n");
  });
  afterAll(async () => {
    await bus.close();
  });

  const cases: Array<[string, number, string, RequestOptions]> = [];
  const post = (name: string, status: number, body: string | Buffer, headers: Record<string, string> = JSON_TYPE) =>
    cases.push([name, status, "/post", { method: "POST", headers, body }]);
  const ack = (name: string, status: number, body: string | Buffer, headers: Record<string, string> = JSON_TYPE, id = "1") =>
    cases.push([name, status, `/ack/${id}`, { method: "POST", headers, body }]);
  const get = (name: string, status: number, query: string) => cases.push([name, status, `/messages?${query}`, {}]);
  const ok = { from: "a", body: "x" };

  // Content type
  post("no content type", 415, JSON.stringify(ok), {});
  post("text/plain", 415, JSON.stringify(ok), { "Content-Type": "text/plain" });
  post("form encoded", 415, "from=a&body=x", { "Content-Type": "application/x-www-form-urlencoded" });
  post("latin-1 charset", 415, JSON.stringify(ok), { "Content-Type": "application/json; charset=iso-8859-1" });
  post("unknown content encoding", 415, JSON.stringify(ok), { ...JSON_TYPE, "Content-Encoding": "x-unknown" });
  post("gzip that is not gzip", 400, JSON.stringify(ok), { ...JSON_TYPE, "Content-Encoding": "gzip" });
  ack("ack without content type", 415, JSON.stringify({ reader: "c" }), {});
  // Not JSON, not UTF-8, not an object
  post("empty body", 400, "");
  post("truncated JSON", 400, '{"from":"a","body":"x"');
  post("trailing garbage", 400, '{"from":"a","body":"x"} x');
  post("non-UTF-8 bytes", 400, Buffer.concat([Buffer.from('{"from":"a","body":"'), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('"}')]));
  post("overlong UTF-8 encoding", 400, Buffer.concat([Buffer.from('{"from":"a","body":"'), Buffer.from([0xc0, 0xaf]), Buffer.from('"}')]));
  post("lone surrogate escape", 400, '{"from":"a","body":"\\ud800"}');
  for (const v of ["null", "[]", '"text"', "42", "true"]) post(`JSON ${v}`, 400, v);
  // Sizes
  post("body one byte over 64 KiB", 413, JSON.stringify({ from: "a", body: "x".repeat(65_537) }));
  post("body of 64 KiB of 4-byte characters plus one", 413, JSON.stringify({ from: "a", body: `${"🚀".repeat(16_384)}x` }));
  post("request over 512 KiB", 413, JSON.stringify({ from: "a", body: "y".repeat(600_000) }));
  post("5 MiB of garbage", 413, Buffer.alloc(5 * 1024 * 1024, 0x41));
  // Wrong types and values
  const bad: Array<[string, unknown]> = [
    ["from missing", { body: "x" }],
    ["body missing", { from: "a" }],
    ["from a number", { from: 5, body: "x" }],
    ["body a number", { from: "a", body: 5 }],
    ["body an object", { from: "a", body: { text: "x" } }],
    ["empty body text", { from: "a", body: "" }],
    ["empty from", { from: "", body: "x" }],
    ["from 65 characters", { from: "a".repeat(65), body: "x" }],
    ["from with a space", { from: "my host", body: "x" }],
    ["from with a slash", { from: "../etc", body: "x" }],
    ["to null", { from: "a", to: null, body: "x" }],
    ["to with a newline", { from: "a", to: "b\nc", body: "x" }],
    ["tags a string", { from: "a", body: "x", tags: "build" }],
    ["tags with a number", { from: "a", body: "x", tags: [1] }],
    ["17 tags", { from: "a", body: "x", tags: Array.from({ length: 17 }, (_, i) => `t${i}`) }],
    ["tag of 33 characters", { from: "a", body: "x", tags: ["t".repeat(33)] }],
    ["empty tag", { from: "a", body: "x", tags: [""] }],
    ["unknown field", { from: "a", body: "x", extra: 1 }],
    ["client-chosen id", { from: "a", body: "x", id: "99" }],
    ["client-chosen read_by", { from: "a", body: "x", read_by: ["b"] }],
  ];
  for (const [name, value] of bad) post(name, 400, JSON.stringify(value));
  post("__proto__ key", 400, '{"from":"a","body":"x","__proto__":{"polluted":true}}');
  ack("ack without reader", 400, "{}");
  ack("ack reader a number", 400, JSON.stringify({ reader: 1 }));
  ack("ack with extra field", 400, JSON.stringify({ reader: "c", also: "d" }));
  ack("ack bad reader name", 400, JSON.stringify({ reader: "a b" }));
  ack("ack not JSON", 400, "reader=c");
  ack("ack unknown id", 404, JSON.stringify({ reader: "c" }), JSON_TYPE, "2");
  ack("ack negative id", 404, JSON.stringify({ reader: "c" }), JSON_TYPE, "-1");
  ack("ack huge id", 404, JSON.stringify({ reader: "c" }), JSON_TYPE, "1".repeat(400));
  ack("ack malformed escape in id", 400, JSON.stringify({ reader: "c" }), JSON_TYPE, "%E0%A4%A");
  // Query strings
  for (const limit of ["0", "-1", "1.5", "abc", "", "1e3", " 5", "0x10"]) get(`limit=${limit}`, 400, `limit=${encodeURIComponent(limit)}`);
  for (const since of ["-1", "abc", "1.5", "", "1e3"]) get(`since=${since}`, 400, `since=${encodeURIComponent(since)}`);
  get("limit twice", 400, "limit=1&limit=2");
  get("to twice", 400, "to=a&to=b");
  get("empty to", 400, "to=");
  get("bad to", 400, "to=a%20b");
  get("non-UTF-8 unread_by", 400, "unread_by=%FF%FE");
  get("bracket array syntax", 400, "from[]=a");
  get("nested object syntax", 400, "from[x]=a");
  get("unknown parameter", 400, "unread=a");

  test.each(cases)("%s -> %i", async (_name, status, route, opts) => {
    const before = snapshot();
    const r = await request(bus.url, route, opts);
    expect(r.status).toBe(status);
    expect(r.headers["content-type"]).toMatch(/^application\/json/);
    expect(r.json).toEqual({ error: expect.any(String) });
    expect(r.json.error.length).toBeGreaterThan(5);
    expect(snapshot()).toBe(before);
    const health = await request(bus.url, "/health");
    expect(health.json.count).toBe(1);
  });

  test("errors say what is wrong", async () => {
    const r = await postJson(bus.url, "/post", { from: "a", body: "x", extra: 1 });
    expect(r.json.error).toContain("extra");
    const q = await request(bus.url, "/messages?limit=0");
    expect(q.json.error).toContain("limit");
    const big = await postJson(bus.url, "/post", { from: "a", body: "x".repeat(65_537) });
    expect(big.json.error).toContain("65536");
  });

  test("a missing field says it is required and what belongs there, in words", async () => {
    expect((await postJson(bus.url, "/post", { body: "x" })).json).toEqual({ error: "from is required: the sender's machine name" });
    expect((await postJson(bus.url, "/post", { from: "a" })).json).toEqual({ error: "body is required: the message text" });
    expect((await postJson(bus.url, "/ack/1", {})).json).toEqual({ error: "reader is required: the machine name that read the message" });
    expect((await postJson(bus.url, "/post", { from: 7, body: "x" })).json.error).toMatch(/^from: /);
    expect((await postJson(bus.url, "/post", { from: "a", body: "x", tags: ["ok", ""] })).json).toEqual({ error: "tags[1]: must not be empty" });
  });

  test("after all of that the stored message and its ack are intact", async () => {
    const r = await request(bus.url, "/messages");
    expect(r.json.messages).toEqual([expect.objectContaining({ id: "1", body: "keep me", read_by: ["a", "b"] })]);
    expect(bus.logs.some((l) => l.includes('"status":5'))).toBe(false);
  });
});

describe("requests node's HTTP parser rejects", () => {
  test("a malformed request line or header gets a JSON 400 and the bus keeps serving", async () => {
    const bus = await startBus();
    try {
      for (const raw of ["GARBAGE\r\n\r\n", "GET /health HTTP/1.1\r\nBad Header Line\r\n\r\n", "POST /post HTTP/1.1\r\nContent-Length: -5\r\n\r\n"]) {
        const reply = await rawExchange(bus.url, raw);
        expect(reply).toMatch(/^HTTP\/1\.1 400 /);
        expect(reply).toContain("X-Robots-Tag: noindex");
        expect(JSON.parse(reply.slice(reply.indexOf("\r\n\r\n") + 4))).toEqual({ error: expect.stringContaining("malformed HTTP request") });
      }
      expect((await request(bus.url, "/health")).status).toBe(200);
    } finally {
      await bus.close();
    }
  });
});

function rawExchange(url: string, raw: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname, () => socket.end(raw));
    let data = "";
    socket.on("data", (d: Buffer) => (data += d.toString()));
    socket.on("end", () => resolve(data));
    socket.on("error", reject);
  });
}
