import * as path from "node:path";
import { MAX_PAGE_BYTES } from "../../contract/defaults";
import { fileLines, startBus, type TestBus } from "../support/bus";
import { postJson, request } from "../support/http";

type Msg = {
  id: string;
  ts: string;
  from: string;
  to: string;
  body: string;
  tags: string[];
  read_by: string[];
  read_at?: Record<string, string | null>;
  thread: string;
  reply_to?: string;
};

describe("bus HTTP API", () => {
  let bus: TestBus;
  beforeEach(async () => {
    bus = await startBus();
  });
  afterEach(async () => {
    await bus.close();
  });

  const post = async (m: Record<string, unknown>): Promise<Msg> => {
    const r = await postJson(bus.url, "/post", m);
    expect(r.status).toBe(201);
    return r.json;
  };
  const ack = (id: string, reader: string) => postJson(bus.url, `/ack/${id}`, { reader });
  const list = async (query: string): Promise<Msg[]> => {
    const r = await request(bus.url, `/messages${query}`);
    expect(r.status).toBe(200);
    return r.json.messages;
  };

  test("GET /health reports ok, the count and the server time", async () => {
    let r = await request(bus.url, "/health");
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ ok: true, count: 0, now: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/), oldest: null, bytes: 0 });
    await post({ from: "a", body: "x" });
    r = await request(bus.url, "/health");
    expect(r.json.count).toBe(1);
  });

  test("POST /post returns the saved message, with defaults, and stores it as one JSONL line", async () => {
    const before = Date.now();
    const first = await post({ from: "alpha", to: "beta", body: "hello ünïcode 🚀", tags: ["build", "x"] });
    const second = await post({ from: "beta", body: "to everyone" });
    expect(first).toEqual({
      id: "1",
      ts: expect.any(String),
      from: "alpha",
      to: "beta",
      body: "hello ünïcode 🚀",
      tags: ["build", "x"],
      read_by: ["alpha"],
      read_at: { alpha: first.ts },
      thread: "1",
    });
    expect(second).toEqual({
      id: "2",
      ts: expect.any(String),
      from: "beta",
      to: "any",
      body: "to everyone",
      tags: [],
      read_by: ["beta"],
      read_at: { beta: second.ts },
      thread: "2",
    });
    expect(first.ts).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(Date.parse(first.ts)).toBeGreaterThanOrEqual(before - 1);
    const lines = fileLines(path.join(bus.dataDir, "bus.jsonl")).map((l) => JSON.parse(l));
    // The line is the message as it was posted: read_at, like later acks, is the index's, not the line's.
    const { read_at: _first, ...firstLine } = first;
    const { read_at: _second, ...secondLine } = second;
    expect(lines).toEqual([firstLine, secondLine]);
  });

  test("a body of exactly 64 KiB and 16 tags of 32 characters are accepted", async () => {
    const body = "é".repeat(32_768); // 65,536 bytes of UTF-8
    const tags = Array.from({ length: 16 }, (_, i) => String(i).padStart(32, "t"));
    const m = await post({ from: "a", body, tags });
    expect(m.body).toBe(body);
    expect((await list(""))[0].tags).toEqual(tags);
  });

  test("a 64 KiB body of characters JSON must escape (six times its size as JSON) is accepted", async () => {
    const body = "\u0001".repeat(65_536);
    const r = await request(bus.url, "/post", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ from: "a", body }),
    });
    expect(r.status).toBe(201);
    expect(r.json.body).toBe(body);
  });

  test("GET /messages returns oldest first, default limit 50, limit clamped to 500", async () => {
    await Promise.all(Array.from({ length: 520 }, (_, i) => postJson(bus.url, "/post", { from: "a", body: `m${i}` })));
    const ids = (ms: Msg[]) => ms.map((m) => Number(m.id));
    const defaults = await list("");
    expect(ids(defaults)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(ids(await list("?limit=600"))).toEqual(Array.from({ length: 500 }, (_, i) => i + 1));
    expect(ids(await list("?limit=99999999999999999999999"))).toHaveLength(500);
    expect(ids(await list("?limit=500&since=500"))).toEqual(Array.from({ length: 20 }, (_, i) => i + 501));
    expect(ids(await list("?limit=1&since=7"))).toEqual([8]);
    expect(await list("?since=520")).toEqual([]);
    expect(await list("?since=99999999999999999999")).toEqual([]);
  });

  test('a page stops at its byte budget with "more": true, and since=<last id> reads on until every message came once', async () => {
    const body = "\u0001".repeat(65_536); // 393,216 bytes as JSON: the worst a message can be
    for (let i = 0; i < 8; i++) expect((await postJson(bus.url, "/post", { from: "a", body, tags: [`m${i}`] })).status).toBe(201);
    const seen: string[] = [];
    let since = "0";
    for (let pages = 0; ; pages++) {
      const r = await request(bus.url, `/messages?since=${since}&limit=500`);
      expect(r.status).toBe(200);
      expect(r.headers["content-length"]).toBeUndefined(); // streamed, not built whole
      expect(Buffer.byteLength(r.text)).toBeLessThanOrEqual(MAX_PAGE_BYTES + 400_000);
      const ids = r.json.messages.map((m: Msg) => m.id);
      expect(ids.length).toBeGreaterThan(0);
      seen.push(...ids);
      since = ids[ids.length - 1];
      if (!r.json.more) break;
      expect(pages).toBeLessThan(8);
    }
    expect(seen).toEqual(["1", "2", "3", "4", "5", "6", "7", "8"]);
    // A page that holds everything says nothing of more: its answer is as it always was.
    expect(Object.keys((await request(bus.url, "/messages?since=6")).json)).toEqual(["messages"]);
    expect((await request(bus.url, "/messages?limit=1")).json.more).toBe(true);
  });

  test("every combination of since, to, from, unread_by and limit matches a reference filter", async () => {
    const names = ["alpha", "beta", "gamma"];
    const posted: Msg[] = [];
    for (let i = 0; i < 40; i++) {
      const from = names[i % 3];
      const to = i % 4 === 0 ? undefined : names[(i * 7) % 3];
      posted.push(await post({ from, ...(to ? { to } : {}), body: `message ${i}` }));
    }
    // Acks in a scattered order, so read messages sit between unread ones.
    const acks: Array<[string, string]> = [];
    for (const m of posted) {
      const n = Number(m.id);
      if (n % 3 === 0) acks.push([m.id, "beta"]);
      if (n % 5 === 0 || n < 6) acks.push([m.id, "alpha"]);
    }
    for (const [id, reader] of acks) expect((await ack(id, reader)).status).toBe(200);

    const readers = new Map<string, Set<string>>();
    for (const m of posted) readers.set(m.id, new Set([m.from]));
    for (const [id, reader] of acks) readers.get(id)!.add(reader);

    const values = {
      since: [undefined, "0", "9", "33"],
      to: [undefined, "alpha", "beta", "any", "nobody"],
      from: [undefined, "gamma", "alpha", "nobody"],
      unread_by: [undefined, "alpha", "beta", "nobody"],
      limit: [undefined, "3", "700"],
    };
    let checked = 0;
    for (const since of values.since)
      for (const to of values.to)
        for (const from of values.from)
          for (const unread of values.unread_by)
            for (const limit of values.limit) {
              const expected = posted
                .filter((m) => since === undefined || Number(m.id) > Number(since))
                .filter((m) => to === undefined || m.to === to || m.to === "any")
                .filter((m) => from === undefined || m.from === from)
                .filter((m) => unread === undefined || !readers.get(m.id)!.has(unread))
                .slice(0, limit === undefined ? 50 : Math.min(Number(limit), 500))
                .map((m) => m.id);
              const params = new URLSearchParams();
              for (const [k, v] of Object.entries({ since, to, from, unread_by: unread, limit })) if (v !== undefined) params.set(k, v);
              // Twice: the second run goes through the low-water marks the first one set.
              for (let round = 0; round < 2; round++) {
                const got = await list(`?${params}`);
                expect({ query: params.toString(), ids: got.map((m) => m.id) }).toEqual({ query: params.toString(), ids: expected });
              }
              checked++;
            }
    expect(checked).toBe(4 * 5 * 4 * 4 * 3);
  });

  test("to=<name> returns messages to that name plus broadcasts; from=<name> only that sender", async () => {
    await post({ from: "a", to: "me", body: "direct" });
    await post({ from: "b", body: "broadcast" });
    await post({ from: "c", to: "other", body: "not mine" });
    await post({ from: "me", to: "a", body: "mine" });
    expect((await list("?to=me")).map((m) => m.body)).toEqual(["direct", "broadcast"]);
    expect((await list("?from=me")).map((m) => m.body)).toEqual(["mine"]);
    expect((await list("?to=any")).map((m) => m.body)).toEqual(["broadcast"]);
    expect((await list("?to=me&from=b")).map((m) => m.body)).toEqual(["broadcast"]);
  });

  test("the sender has read its own message: unread_by=<sender> never returns it", async () => {
    await post({ from: "me", to: "me", body: "note to self" });
    await post({ from: "me", body: "my broadcast" });
    await post({ from: "other", body: "their broadcast" });
    expect((await list("?to=me&unread_by=me")).map((m) => m.body)).toEqual(["their broadcast"]);
    const r = await ack("1", "me");
    expect(r.json).toEqual({ ok: true, id: "1", reader: "me", already: true });
  });

  test("POST /ack/<id> is idempotent, shows in read_by and unread_by, and survives a restart", async () => {
    const m = await post({ from: "a", to: "b", body: "please read" });
    expect((await list("?unread_by=b")).map((x) => x.id)).toEqual([m.id]);
    const first = await ack(m.id, "b");
    expect(first.status).toBe(200);
    expect(first.json).toEqual({ ok: true, id: m.id, reader: "b", already: false });
    const second = await ack(m.id, "b");
    expect(second.json).toEqual({ ok: true, id: m.id, reader: "b", already: true });
    const concurrent = await Promise.all([ack(m.id, "c"), ack(m.id, "c"), ack(m.id, "c")]);
    expect(concurrent.map((r) => r.json.already).sort()).toEqual([false, true, true]);
    expect(await list("?unread_by=b")).toEqual([]);
    expect((await list(""))[0].read_by).toEqual(["a", "b", "c"]);
    expect(fileLines(path.join(bus.dataDir, "acks.jsonl"))).toHaveLength(2);

    await bus.close();
    bus = await startBus({ dataDir: bus.dataDir });
    expect((await list(""))[0].read_by).toEqual(["a", "b", "c"]);
    expect((await ack(m.id, "b")).json.already).toBe(true);
    expect((await post({ from: "a", body: "after restart" })).id).toBe("2");
  });

  test("POST /ack/<id> for an unknown or odd id is 404 with a JSON error", async () => {
    await post({ from: "a", body: "x" });
    for (const id of ["2", "0", "-1", "1.0", "01", "abc", "1e3", "%20", "99999999999999999999999", "%F0%9F%9A%80"]) {
      const r = await ack(id, "b");
      expect({ id, status: r.status }).toEqual({ id, status: 404 });
      expect(r.json).toEqual({ error: expect.stringContaining("no message with id") });
    }
  });

  test("every route needs the credential: 401 with a Basic challenge and a JSON error", async () => {
    const wrong: Array<[string, string] | null> = [null, ["claude", "nope"], ["someone", "test-pass-0123456789abcdefghij"], ["", ""]];
    for (const auth of wrong) {
      for (const [method, route] of [
        ["GET", "/health"],
        ["GET", "/messages"],
        ["POST", "/post"],
        ["POST", "/ack/1"],
        ["GET", "/robots.txt"],
        ["GET", "/nope"],
      ]) {
        const r = await request(bus.url, route, { method, auth });
        expect({ route, status: r.status }).toEqual({ route, status: 401 });
        expect(r.headers["www-authenticate"]).toBe('Basic realm="claude-bus"');
        expect(r.json).toEqual({ error: expect.any(String) });
        expect(r.headers["x-robots-tag"]).toBe("noindex");
      }
    }
    const garbage = await request(bus.url, "/health", { auth: null, headers: { Authorization: "Basic %%%not-base64" } });
    expect(garbage.status).toBe(401);
    const bearer = await request(bus.url, "/health", { auth: null, headers: { Authorization: "Bearer abc" } });
    expect(bearer.status).toBe(401);
    expect(bus.logs.join("\n")).not.toContain("test-pass-0123456789abcdefghij");
  });

  test("GET /live answers 200 {ok: true} without a credential, and tells nothing of the store", async () => {
    await postJson(bus.url, "/post", { from: "a", body: "a message the liveness answer must not count" });
    for (const auth of [null, ["claude", "a-wrong-password"] as [string, string]]) {
      const r = await request(bus.url, "/live", { auth });
      expect(r.status).toBe(200);
      expect(r.text).toBe('{"ok":true}\n');
      expect(r.headers["www-authenticate"]).toBeUndefined();
    }
    expect((await request(bus.url, "/live", { method: "HEAD", auth: null })).status).toBe(200);
  });

  test("robots.txt disallows everything and every response says noindex", async () => {
    const robots = await request(bus.url, "/robots.txt");
    expect(robots.status).toBe(200);
    expect(robots.text).toBe("User-agent: *\nDisallow: /\n");
    for (const route of ["/robots.txt", "/health", "/messages", "/nope"]) {
      expect((await request(bus.url, route)).headers["x-robots-tag"]).toBe("noindex");
    }
  });

  test("unknown routes are 404 and wrong methods 405, both JSON", async () => {
    for (const route of ["/nope", "/messages/1", "/post/x"]) {
      const r = await request(bus.url, route);
      expect({ route, status: r.status }).toEqual({ route, status: 404 });
      expect(r.json).toEqual({ error: expect.any(String) });
    }
    const cases: Array<[string, string, string]> = [
      ["GET", "/post", "POST"],
      ["PUT", "/post", "POST"],
      ["POST", "/health", "GET, HEAD"],
      ["DELETE", "/messages", "GET, HEAD"],
      ["GET", "/ack/1", "POST"],
      ["GET", "/ack", "POST"],
      ["GET", "/ack/", "POST"],
      ["POST", "/machines", "GET, HEAD"],
      ["PATCH", "/robots.txt", "GET, HEAD"],
      ["POST", "/live", "GET, HEAD"],
    ];
    for (const [method, route, allow] of cases) {
      const r = await request(bus.url, route, { method });
      expect({ method, route, status: r.status }).toEqual({ method, route, status: 405 });
      expect(r.headers.allow).toBe(allow);
      expect(r.json).toEqual({ error: expect.stringContaining("not allowed") });
    }
  });

  test("every JSON answer, errors included, ends with a newline (a curl line without | jq keeps the prompt on its own line)", async () => {
    const posted = await postJson(bus.url, "/post", { from: "a", body: "x" });
    const answers = [
      posted,
      await request(bus.url, "/health"),
      await request(bus.url, "/messages"),
      await postJson(bus.url, `/ack/${posted.json.id}`, { reader: "b" }),
      await request(bus.url, "/health", { auth: null }),
      await request(bus.url, "/nope"),
      await request(bus.url, "/messages?limit=0"),
      await postJson(bus.url, "/post", { body: "x" }),
    ];
    for (const r of answers) {
      expect(r.headers["content-type"]).toMatch(/^application\/json/);
      expect(r.text).toMatch(/^\{.*\}\n$/s);
    }
  });

  test("one JSON log line per request, without the credential", async () => {
    await post({ from: "a", body: "x" });
    await request(bus.url, "/health", { auth: ["claude", "a-wrong-password"] });
    const lines = bus.logs.map((l) => JSON.parse(l));
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ msg: "request", method: "POST", path: "/post", status: 201 }),
        expect.objectContaining({ msg: "request", status: 401 }),
      ]),
    );
    const all = bus.logs.join("\n");
    expect(all).not.toContain("a-wrong-password");
    expect(all).not.toContain("test-pass-0123456789abcdefghij");
    expect(all).not.toContain(Buffer.from("claude:a-wrong-password").toString("base64"));
  });
});
