/** The typed client library against the real bus, an unreachable one, and the answers nginx gives by itself. */
import * as http from "node:http";
import * as net from "node:net";
import { allMessages, AuthError, BusError, createBusClient, InsecureUrlError, isLoopbackUrl, thread, UnreachableError } from "../../client/index";
import { backoffMs, DEFAULT_RETRY } from "../../client/retry";
import { closedPort, startTestBus, type TestBus } from "../cli/harness";
import { type Fault, startFlakyProxy } from "../support/flakyProxy";

const NO_RETRY = { retries: 0, baseDelayMs: 0, maxDelayMs: 0 };

describe("against the real bus", () => {
  let bus: TestBus;
  beforeAll(async () => {
    bus = await startTestBus();
  });
  afterAll(async () => {
    await bus.close();
  });

  it("posts, lists with filters, and acks idempotently, with typed results", async () => {
    const client = createBusClient({ url: `${bus.url}/`, user: bus.user, pass: bus.pass });
    const direct = await client.post({ from: "sierra", to: "tango", body: "Patch deployed, smoke tests green.", tags: ["deploy", "green"] });
    expect(direct).toEqual({
      id: expect.stringMatching(/^\d+$/),
      ts: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      from: "sierra",
      to: "tango",
      body: "Patch deployed, smoke tests green.",
      tags: ["deploy", "green"],
      read_by: ["sierra"],
      read_at: { sierra: direct.ts },
      thread: direct.id,
    });
    const broadcast = await client.post({ from: "sierra", body: "to everyone" });
    expect(broadcast.to).toBe("any");

    expect((await client.messages({ to: "tango", unread_by: "tango" })).map((m) => m.id)).toEqual([direct.id, broadcast.id]);
    expect((await client.messages({ since: direct.id })).map((m) => m.id)).toEqual([broadcast.id]);
    expect(await client.ack(direct.id, "tango")).toEqual({ ok: true, id: direct.id, reader: "tango", already: false });
    expect(await client.ack(direct.id, "tango")).toMatchObject({ already: true });
    expect((await client.messages({ to: "tango", unread_by: "tango" })).map((m) => m.id)).toEqual([broadcast.id]);
    expect((await client.health()).count).toBeGreaterThanOrEqual(2);

    const all: string[] = [];
    for await (const m of allMessages(client, { from: "sierra" })) all.push(m.id);
    expect(all).toEqual([direct.id, broadcast.id]);
  });

  it("BusError carries the status and the server's own error text", async () => {
    const client = createBusClient(bus);
    const bad = await client.post({ from: "sierra", body: "" }).catch((e) => e);
    expect(bad).toBeInstanceOf(BusError);
    expect(bad.status).toBe(400);
    expect(bad.serverError).toMatch(/body/);
    const missing = await client.ack("987654", "tango").catch((e) => e);
    expect(missing).toBeInstanceOf(BusError);
    expect(missing.status).toBe(404);
    const limit = await client.messages({ limit: 0 }).catch((e) => e);
    expect(limit).toMatchObject({ status: 400 });
  });

  it("a wrong password is an AuthError", async () => {
    await expect(createBusClient({ ...bus, pass: "nope" }).health()).rejects.toBeInstanceOf(AuthError);
  });
});

describe("when the bus cannot be reached", () => {
  it("a closed port is an UnreachableError naming ECONNREFUSED", async () => {
    const port = await closedPort();
    const err = await createBusClient({ url: `http://127.0.0.1:${port}`, user: "u", pass: "p" })
      .health()
      .catch((e) => e);
    expect(err).toBeInstanceOf(UnreachableError);
    expect(err.message).toBe(`cannot reach the bus at http://127.0.0.1:${port}: ECONNREFUSED (connect ECONNREFUSED 127.0.0.1:${port})`);
  });

  it("a server that never answers is an UnreachableError after the timeout", async () => {
    const sockets: net.Socket[] = [];
    const silent = net.createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const { port } = silent.address() as net.AddressInfo;
    try {
      const err = await createBusClient({ url: `http://127.0.0.1:${port}`, user: "u", pass: "p", timeoutMs: 300 })
        .health()
        .catch((e) => e);
      expect(err).toBeInstanceOf(UnreachableError);
      expect(err.message).toContain("no answer within 300 ms");
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});

/**
 * What nginx in front of the deployed bus answers by itself (auth_basic, limit_req, a dead upstream):
 * a real HTTP server on loopback plays that part, answering each request with the next scripted reply.
 */
describe("answers from nginx in front of the bus", () => {
  type Reply = { status: number; type: string; body: string };
  let replies: Reply[] = [];
  let seen: Array<{ method?: string; url?: string; authorization?: string; contentType?: string; idempotencyKey?: string; body: string }> = [];
  const front = http.createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      seen.push({
        method: req.method,
        url: req.url,
        authorization: req.headers.authorization,
        contentType: req.headers["content-type"],
        ...(req.headers["idempotency-key"] ? { idempotencyKey: req.headers["idempotency-key"] as string } : {}),
        body,
      });
      const reply = replies.shift() ?? { status: 500, type: "text/plain", body: "no scripted reply" };
      res.writeHead(reply.status, { "content-type": reply.type }).end(reply.body);
    });
  });
  let client: ReturnType<typeof createBusClient>;
  beforeAll(async () => {
    await new Promise<void>((resolve) => front.listen(0, "127.0.0.1", resolve));
    const { port } = front.address() as net.AddressInfo;
    client = createBusClient({ url: `http://127.0.0.1:${port}`, user: "claude", pass: "Abcdefghijklmnopqrstuvwxyz12", retry: NO_RETRY });
  });
  beforeEach(() => {
    replies = [];
    seen = [];
  });
  afterAll(() => new Promise((resolve) => front.close(resolve)));

  const html = (status: number, title: string): Reply => ({ status, type: "text/html", body: `<html><head><title>${title}</title></head></html>` });

  it("sends HTTP Basic auth and the JSON body", async () => {
    const saved = { id: "7", ts: "2026-01-01T00:00:00.000Z", from: "uniform", to: "any", body: "hi", tags: [], read_by: ["uniform"], thread: "7" };
    replies.push({ status: 201, type: "application/json", body: JSON.stringify(saved) });
    expect(await client.post({ from: "uniform", body: "hi" }, { idempotencyKey: "key-1" })).toEqual(saved);
    expect(seen).toEqual([
      {
        method: "POST",
        url: "/post",
        authorization: `Basic ${Buffer.from("claude:Abcdefghijklmnopqrstuvwxyz12").toString("base64")}`,
        contentType: "application/json",
        idempotencyKey: "key-1",
        body: '{"from":"uniform","body":"hi"}',
      },
    ]);
  });

  it("nginx's own HTML pages (rate limit, bad gateway) become a BusError with their text", async () => {
    replies.push(html(429, "429 Too Many Requests"), html(502, "502 Bad Gateway"));
    await expect(client.health()).rejects.toMatchObject({ status: 429, serverError: expect.stringContaining("429 Too Many Requests") });
    await expect(client.health()).rejects.toMatchObject({ status: 502, serverError: expect.stringContaining("Bad Gateway") });
  });

  it("a 401 from nginx's auth_basic is an AuthError", async () => {
    replies.push(html(401, "401 Authorization Required"));
    await expect(client.messages({ to: "victor", unread_by: "victor" })).rejects.toBeInstanceOf(AuthError);
    expect(seen[0].url).toBe("/messages?to=victor&unread_by=victor");
  });

  it("a 200 that is not the contract's shape is a BusError, not a crash later", async () => {
    replies.push({ status: 200, type: "application/json", body: '{"status":"up"}' });
    await expect(client.health()).rejects.toMatchObject({ status: 200, serverError: expect.stringContaining("unexpected response shape") });
  });
});

describe("pages cut by the bus's byte budget", () => {
  it('allMessages follows "more", not the page\'s length, so a short page of big messages is not the end', async () => {
    const bus = await startTestBus();
    try {
      const client = createBusClient(bus);
      const body = "\u0001".repeat(65_536);
      for (let i = 0; i < 4; i++) await client.post({ from: "uniform", to: "victor", body });
      const first = await client.page({ to: "victor", limit: 500 });
      expect(first.more).toBe(true);
      expect(first.messages.length).toBeLessThan(4);
      const all: string[] = [];
      for await (const m of allMessages(client, { to: "victor" })) all.push(m.id);
      expect(all).toHaveLength(4);
    } finally {
      await bus.close();
    }
  });
});

describe("plain HTTP", () => {
  const credential = { user: "claude", pass: "InsecureTestPassw0rdInsecure" };

  it.each(["http://localhost:8787", "http://127.0.0.1:8787", "http://127.1.2.3", "http://[::1]:8787", "https://claude-bus.example.com"])(
    "is allowed where it cannot leave this machine, and https everywhere: %s",
    (url) => {
      expect(() => createBusClient({ url, ...credential })).not.toThrow();
    },
  );

  it.each(["http://claude-bus.example.com", "http://192.0.2.7:8787", "http://0.0.0.0:8787", "http://[2001:db8::1]"])(
    "is refused before anything is sent to another host: %s",
    (url) => {
      expect(() => createBusClient({ url, ...credential })).toThrow(InsecureUrlError);
      expect(() => createBusClient({ url, ...credential })).toThrow(`refusing to send the bus credential unencrypted to ${url}`);
      expect(isLoopbackUrl(url)).toBe(false);
    },
  );

  it("is allowed to another host only when the caller says so", () => {
    expect(() => createBusClient({ url: "http://claude-bus.example.com", ...credential, allowInsecureHttp: true })).not.toThrow();
  });
});

describe("the routes of issue 12, against the real bus", () => {
  let bus: TestBus;
  beforeAll(async () => {
    bus = await startTestBus();
  });
  afterAll(async () => {
    await bus.close();
  });

  it("acks many ids in one request, sorted into acked, already and unknown", async () => {
    const client = createBusClient(bus);
    const a = await client.post({ from: "oscar", to: "papa", body: "one" });
    const b = await client.post({ from: "oscar", to: "papa", body: "two" });
    await client.ack(a.id, "papa");
    expect(await client.ackMany([a.id, b.id, "99999"], "papa")).toEqual({ ok: true, reader: "papa", acked: [b.id], already: [a.id], unknown: ["99999"] });
    expect(await client.messages({ to: "papa", unread_by: "papa" })).toEqual([]);
    expect(await client.ackMany([], "papa")).toEqual({ ok: true, reader: "papa", acked: [], already: [], unknown: [] });
  });

  it("ackMany splits more than 500 ids into batches of 500", async () => {
    const client = createBusClient(bus);
    const ids: string[] = [];
    for (let i = 0; i < 501; i += 50) {
      const posted = await Promise.all(Array.from({ length: Math.min(50, 501 - i) }, (_, k) => client.post({ from: "oscar", to: "quinn", body: `m${i + k}` })));
      ids.push(...posted.map((m) => m.id));
    }
    const result = await client.ackMany(ids, "quinn");
    expect(result.acked.sort()).toEqual([...ids].sort());
    expect(await client.messages({ to: "quinn", unread_by: "quinn" })).toEqual([]);
  });

  it("replies join the thread; thread() returns the conversation; tag filters", async () => {
    const client = createBusClient(bus);
    const question = await client.post({ from: "romeo", to: "sierra", body: "deploy?", tags: ["deploy"] });
    const answer = await client.post({ from: "sierra", to: "romeo", body: "yes", reply_to: question.id });
    expect(answer).toMatchObject({ reply_to: question.id, thread: question.thread });
    const again = await client.post({ from: "romeo", to: "sierra", body: "done", reply_to: answer.id });
    expect((await thread(client, question.id)).map((m) => m.body)).toEqual(["deploy?", "yes", "done"]);
    expect((await client.messages({ tag: "deploy", from: "romeo" })).map((m) => m.id)).toEqual([question.id]);
    expect(again.thread).toBe(question.id);
  });

  it("wait holds an empty answer until a matching message arrives", async () => {
    const client = createBusClient(bus);
    const waiting = client.messages({ to: "tango", unread_by: "tango", wait: 20 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const posted = await client.post({ from: "uniform", to: "tango", body: "there you are" });
    expect((await waiting).map((m) => m.id)).toEqual([posted.id]);
  });

  it("machines lists every name seen, with its unread count; health says oldest and bytes", async () => {
    const client = createBusClient(bus);
    await client.post({ from: "victor", to: "whiskey", body: "hi" });
    const machines = await client.machines();
    expect(machines.find((m) => m.name === "victor")).toMatchObject({ last_post: expect.any(String) });
    expect(machines.find((m) => m.name === "whiskey")).toMatchObject({ unread: expect.any(Number) });
    const health = await client.health();
    expect(health).toMatchObject({ oldest: "1", bytes: expect.any(Number) });
  });
});

describe("retries through a flaky network, against the real bus", () => {
  let bus: TestBus;
  beforeEach(async () => {
    bus = await startTestBus();
  });
  afterEach(async () => {
    await bus.close();
  });

  const fast = { retries: 4, baseDelayMs: 20, maxDelayMs: 100 };

  it.each<[string, Fault[]]>([
    ["a reset before the bus saw it", ["reset-before", "reset-before"]],
    ["a reset after the bus stored it", ["reset-after"]],
    ["502 from the proxy", ["502", "502", "502"]],
    ["504 after the bus stored it, then a reset after it stored it again", ["504-after", "reset-after"]],
  ])("a post that meets %s is stored exactly once, under one Idempotency-Key", async (_, faults) => {
    const proxy = await startFlakyProxy(bus.url, faults);
    try {
      const client = createBusClient({ url: proxy.url, user: bus.user, pass: bus.pass, retry: fast });
      const posted = await client.post({ from: "xray", to: "yankee", body: "exactly once" });
      const stored = (await createBusClient(bus).messages({ from: "xray" })).filter((m) => m.body === "exactly once");
      expect(stored).toEqual([posted]);
      const keys = new Set(proxy.seen.map((r) => r.headers["idempotency-key"]));
      expect(proxy.seen).toHaveLength(faults.length + 1);
      expect(keys.size).toBe(1);
      expect([...keys][0]).toMatch(/^[\x21-\x7e]{1,128}$/);
    } finally {
      await proxy.close();
    }
  });

  it("two posts of the same text are two messages: each post has a key of its own", async () => {
    const client = createBusClient(bus);
    await client.post({ from: "xray", body: "same" });
    await client.post({ from: "xray", body: "same" });
    expect(await createBusClient(bus).messages({ from: "xray" })).toHaveLength(2);
  });

  it("reads and batch acks are retried too, and a 4xx is not", async () => {
    const client = createBusClient(bus);
    const m = await client.post({ from: "xray", to: "zulu", body: "read me" });
    const proxy = await startFlakyProxy(bus.url, ["502", "reset-before"]);
    try {
      const flaky = createBusClient({ url: proxy.url, user: bus.user, pass: bus.pass, retry: fast });
      expect((await flaky.messages({ to: "zulu", unread_by: "zulu" })).map((x) => x.id)).toEqual([m.id]);
      // the ack is stored, its answer lost: the retry finds it acked already, and it stays acked once
      proxy.faults = ["reset-after"];
      expect(await flaky.ackMany([m.id], "zulu")).toMatchObject({ acked: [], already: [m.id] });
      const bad = await flaky.post({ from: "xray", body: "" }).catch((e) => e);
      expect(bad).toMatchObject({ status: 400 });
      expect(proxy.seen.filter((r) => r.method === "POST" && r.path === "/post")).toHaveLength(1);
    } finally {
      await proxy.close();
    }
  });

  it("gives up after its retries with the last error", async () => {
    const proxy = await startFlakyProxy(bus.url, ["502", "502", "502"]);
    try {
      const flaky = createBusClient({ url: proxy.url, user: bus.user, pass: bus.pass, retry: { retries: 2, baseDelayMs: 1, maxDelayMs: 1 } });
      await expect(flaky.health()).rejects.toMatchObject({ status: 502 });
      expect(proxy.seen).toHaveLength(3);
    } finally {
      await proxy.close();
    }
  });

  it("a same key with another body is the bus's 422, not retried", async () => {
    const client = createBusClient(bus);
    await client.post({ from: "xray", body: "first" }, { idempotencyKey: "fixed-key-1" });
    const replay = await client.post({ from: "xray", body: "first" }, { idempotencyKey: "fixed-key-1" });
    expect(replay.body).toBe("first");
    await expect(client.post({ from: "xray", body: "other" }, { idempotencyKey: "fixed-key-1" })).rejects.toMatchObject({ status: 422 });
    await expect(client.post({ from: "xray", body: "x" }, { idempotencyKey: "has space" })).rejects.toThrow(/Idempotency-Key/);
  });
});

describe("backoff", () => {
  it("is full jitter under a doubling ceiling, capped", () => {
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffMs(DEFAULT_RETRY, n, () => 1))).toEqual([200, 400, 800, 1600, 3000, 3000]);
    expect(backoffMs(DEFAULT_RETRY, 3, () => 0)).toBe(0);
    expect(backoffMs(DEFAULT_RETRY, 3, () => 0.5)).toBe(400);
  });
});
