/** The typed client library against the real bus, an unreachable one, and the answers nginx gives by itself. */
import * as http from "node:http";
import * as net from "node:net";
import { allMessages, AuthError, BusError, createBusClient, InsecureUrlError, isLoopbackUrl, UnreachableError } from "../../client/index";
import { closedPort, startTestBus, TestBus } from "../cli/harness";

describe("against the real bus", () => {
  let bus: TestBus;
  beforeAll(async () => {
    bus = await startTestBus();
  });
  afterAll(async () => {
    await bus.close();
  });

  it("posts, lists with filters, and acks idempotently, with typed results", async () => {
    const client = createBusClient({ url: bus.url + "/", user: bus.user, pass: bus.pass });
    const direct = await client.post({ from: "sierra", to: "tango", body: "Patch deployed, smoke tests green.", tags: ["deploy", "green"] });
    expect(direct).toEqual({
      id: expect.stringMatching(/^\d+$/),
      ts: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      from: "sierra",
      to: "tango",
      body: "Patch deployed, smoke tests green.",
      tags: ["deploy", "green"],
      read_by: ["sierra"],
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
    const err = await createBusClient({ url: `http://127.0.0.1:${port}`, user: "u", pass: "p" }).health().catch((e) => e);
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
      sockets.forEach((s) => s.destroy());
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
  let seen: Array<{ method?: string; url?: string; authorization?: string; contentType?: string; body: string }> = [];
  const front = http.createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      seen.push({ method: req.method, url: req.url, authorization: req.headers.authorization, contentType: req.headers["content-type"], body });
      const reply = replies.shift() ?? { status: 500, type: "text/plain", body: "no scripted reply" };
      res.writeHead(reply.status, { "content-type": reply.type }).end(reply.body);
    });
  });
  let client: ReturnType<typeof createBusClient>;
  beforeAll(async () => {
    await new Promise<void>((resolve) => front.listen(0, "127.0.0.1", resolve));
    const { port } = front.address() as net.AddressInfo;
    client = createBusClient({ url: `http://127.0.0.1:${port}`, user: "claude", pass: "Abcdefghijklmnopqrstuvwxyz12" });
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
    expect(await client.post({ from: "uniform", body: "hi" })).toEqual(saved);
    expect(seen).toEqual([
      {
        method: "POST",
        url: "/post",
        authorization: "Basic " + Buffer.from("claude:Abcdefghijklmnopqrstuvwxyz12").toString("base64"),
        contentType: "application/json",
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
  it("allMessages follows \"more\", not the page's length, so a short page of big messages is not the end", async () => {
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
