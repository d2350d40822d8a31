/**
 * The ntfy forward against a stand-in ntfy server on loopback: the setting (per own name, the token never
 * shown, the file 0600), what each mode sends, to whom, a retry after a 500, and that a post never waits
 * on the forward, with a bounded queue.
 */
import * as fs from "node:fs";
import * as http from "node:http";
import { AddressInfo } from "node:net";
import * as path from "node:path";
import { Notifier } from "../../service/notify/notifier";
import { NOTIFY_FILE, NotifySettings } from "../../service/notify/notifySettings";
import { startBus, TestBus } from "../support/bus";
import { postJson, request } from "../support/http";
import { tempDir } from "../support/tempDir";
import { waitFor } from "../support/waitFor";

interface Received {
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A stand-in for ntfy: records each publish, answers with the next status of `statuses` (then 200), or holds it when "hold". */
async function standIn(statuses: Array<number | "hold"> = []) {
  const received: Received[] = [];
  const held: http.ServerResponse[] = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString("utf8")));
    req.on("end", () => {
      received.push({ url: req.url!, headers: req.headers, body });
      const status = statuses.shift() ?? 200;
      if (status === "hold") held.push(res);
      else res.writeHead(status, { "Content-Type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    received,
    close: () => {
      for (const res of held) res.destroy();
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

let bus: TestBus;
let ntfy: Awaited<ReturnType<typeof standIn>>;
afterEach(async () => {
  await bus?.close();
  await ntfy?.close();
});

type Auth = [string, string];
async function person(name: string): Promise<Auth> {
  const invite = await postJson(bus.url, "/invites", { name, kind: "person" });
  const r = await postJson(bus.url, "/enroll", { code: invite.json.code }, { auth: null });
  return [r.json.user, r.json.pass];
}
const put = (auth: Auth, value: unknown) => request(bus.url, "/settings/notify", { method: "PUT", auth, headers: { "Content-Type": "application/json" }, body: JSON.stringify(value) });
const post = (value: Record<string, unknown>) => postJson(bus.url, "/post", { to: "any", ...value });

describe("/settings/notify", () => {
  beforeEach(async () => {
    bus = await startBus();
  });

  it("keeps each name's own setting, never shows or logs the token, and stores it 0600", async () => {
    const ada = await person("ada");
    const bob = await person("bob");
    expect((await request(bus.url, "/settings/notify", { auth: ada })).status).toBe(404);
    const set = await put(ada, { url: "https://ntfy.example/ada-topic", token: "tk_secret0123456789", mode: "first-line" });
    expect([set.status, set.json]).toEqual([200, { url: "https://ntfy.example/ada-topic", mode: "first-line", token_set: true }]);
    expect((await request(bus.url, "/settings/notify", { auth: ada })).json).toEqual(set.json);
    expect((await request(bus.url, "/settings/notify", { auth: bob })).status).toBe(404);
    // A new mode without a token keeps the token; null removes it.
    expect((await put(ada, { url: "https://ntfy.example/ada-topic", mode: "ping" })).json).toEqual({ url: "https://ntfy.example/ada-topic", mode: "ping", token_set: true });
    const file = path.join(bus.dataDir, NOTIFY_FILE);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(file, "utf8")).toContain("tk_secret0123456789");
    expect((await put(ada, { url: "https://ntfy.example/ada-topic", mode: "ping", token: null })).json.token_set).toBe(false);
    expect(bus.logs.join("\n")).not.toContain("tk_secret0123456789");
    expect(bus.logs.join("\n")).not.toContain("ada-topic");
    // The backup leaves it out.
    const backup = await request(bus.url, "/backup");
    expect(backup.bytes.includes(Buffer.from(NOTIFY_FILE))).toBe(false);

    const removed = await request(bus.url, "/settings/notify", { method: "DELETE", auth: ada });
    expect([removed.status, removed.json]).toEqual([200, { ok: true, removed: true }]);
    expect((await request(bus.url, "/settings/notify", { auth: ada })).status).toBe(404);
  });

  it("survives a restart", async () => {
    const ada = await person("ada");
    await put(ada, { url: "https://ntfy.example/t", token: "tk_x", mode: "ping" });
    await bus.close();
    bus = await startBus({ dataDir: bus.dataDir });
    expect((await request(bus.url, "/settings/notify", { auth: ada })).json).toEqual({ url: "https://ntfy.example/t", mode: "ping", token_set: true });
  });

  it.each([
    [{ url: "ftp://ntfy.example/t", mode: "ping" }, "url: must be an http or https URL"],
    [{ url: "https://user:pw@ntfy.example/t", mode: "ping" }, "url: must not hold a user or password"],
    [{ url: `https://ntfy.example/${"x".repeat(600)}`, mode: "ping" }, "url: must be at most 512 characters"],
    [{ url: "not a url", mode: "ping" }, "url: must be a URL"],
    [{ url: "https://ntfy.example/t", mode: "everything" }, 'mode: must be "ping" or "first-line"'],
    [{ url: "https://ntfy.example/t", mode: "ping", token: "has space" }, "token: must be visible ASCII"],
    [{ url: "https://ntfy.example/t", mode: "ping", token: "x".repeat(300) }, "token: must be at most 256 characters"],
  ])("refuses %j", async (body, error) => {
    const r = await put([bus.user, bus.pass], body);
    expect(r.status).toBe(400);
    expect(r.json.error).toContain(error);
  });
});

describe("forwarding", () => {
  it("sends the sender and first line for messages to the name or to everyone, with its token; nothing for its own or others'", async () => {
    ntfy = await standIn();
    bus = await startBus();
    const ada = await person("ada");
    await put(ada, { url: `${ntfy.url}/ada-topic`, token: "tk_ada", mode: "first-line" });
    await post({ from: "laptop", to: "bob", body: "not for ada" });
    await postJson(bus.url, "/post", { from: "ada", body: "ada's own broadcast" }, { auth: ada });
    await post({ from: "laptop", to: "ada", body: "\u202eDeploy failed on staging\nsecond line, never sent", tags: ["urgent"] });
    await post({ from: "server", body: "a broadcast" });
    await waitFor("two notifications", () => ntfy.received.length >= 2);
    // Sent a few at a time: in either order.
    const first = ntfy.received.find((r) => r.headers.title === "from laptop")!;
    const second = ntfy.received.find((r) => r.headers.title === "from server")!;
    expect(first.url).toBe("/ada-topic");
    expect(first.headers.authorization).toBe("Bearer tk_ada");
    expect([first.headers.title, first.headers.priority, first.headers.tags]).toEqual(["from laptop", "high", "envelope"]);
    expect(first.body).toBe("Deploy failed on staging");
    expect([second.headers.title, second.headers.priority, second.body]).toEqual(["from server", "default", "a broadcast"]);
    await post({ from: "server", body: "one more, so the two before have been looked at" });
    await waitFor("the third", () => ntfy.received.length >= 3);
    expect(ntfy.received.map((r) => r.body).sort()).toEqual(["Deploy failed on staging", "a broadcast", "one more, so the two before have been looked at"]);
  });

  it("sends only a ping in ping mode: no sender, no body", async () => {
    ntfy = await standIn();
    bus = await startBus();
    const ada = await person("ada");
    await put(ada, { url: `${ntfy.url}/t`, mode: "ping" });
    await post({ from: "laptop-secret-name", to: "ada", body: "the secret plan" });
    await waitFor("a notification", () => ntfy.received.length >= 1);
    const [ping] = ntfy.received;
    expect(ping.body).toBe("new message");
    expect(ping.headers.authorization).toBeUndefined();
    expect(JSON.stringify(ping)).not.toMatch(/laptop-secret-name|secret plan/);
  });

  it("cuts a long first line", async () => {
    ntfy = await standIn();
    bus = await startBus();
    const ada = await person("ada");
    await put(ada, { url: `${ntfy.url}/t`, mode: "first-line" });
    await post({ from: "laptop", to: "ada", body: "é".repeat(500) });
    await waitFor("a notification", () => ntfy.received.length >= 1);
    expect([...ntfy.received[0].body]).toHaveLength(140);
    expect(ntfy.received[0].body.endsWith("…")).toBe(true);
  });

  it("retries after a 500, and gives up on a 4xx other than 429", async () => {
    ntfy = await standIn([500, 200, 403]);
    bus = await startBus({ notify: { retryFirstMs: 20 } });
    const ada = await person("ada");
    await put(ada, { url: `${ntfy.url}/t`, mode: "first-line" });
    await post({ from: "laptop", to: "ada", body: "retried" });
    await waitFor("the retry", () => ntfy.received.length >= 2);
    expect(ntfy.received.map((r) => r.body)).toEqual(["retried", "retried"]);
    await post({ from: "laptop", to: "ada", body: "refused" });
    await waitFor("the refusal logged", () => bus.logs.some((l) => l.includes("notification refused by its server") && l.includes('"status":403')));
    await post({ from: "laptop", to: "ada", body: "after" });
    await waitFor("the next", () => ntfy.received.length >= 4);
    expect(ntfy.received.map((r) => r.body)).toEqual(["retried", "retried", "refused", "after"]);
  });

  it("never holds up a post: one that hangs, or a server that is down", async () => {
    ntfy = await standIn(["hold", "hold", "hold", "hold", "hold"]);
    bus = await startBus({ notify: { retryFirstMs: 20 } });
    const ada = await person("ada");
    await put(ada, { url: `${ntfy.url}/t`, mode: "first-line" });
    for (let i = 0; i < 6; i++) expect((await post({ from: "laptop", to: "ada", body: `post ${i}` })).status).toBe(201);
    await waitFor("the stand-in holding four", () => ntfy.received.length >= 4);
    expect((await post({ from: "laptop", to: "ada", body: "still fine" })).status).toBe(201);
    // Down: the port closed. Posts go on; the forward retries.
    const downUrl = ntfy.url;
    await ntfy.close();
    await put(ada, { url: `${downUrl}/t`, mode: "ping" });
    expect((await post({ from: "laptop", to: "ada", body: "while down" })).status).toBe(201);
    await waitFor("a retry logged", () => bus.logs.some((l) => l.includes("notification to be retried")));
  });
});

describe("the queue", () => {
  it("holds at most queueMax notifications; beyond, they are dropped (and logged once), never a post", async () => {
    ntfy = await standIn(Array(10).fill("hold"));
    const dir = tempDir("notify");
    const settings = NotifySettings.load(dir, () => undefined);
    await settings.change("ada", { url: `${ntfy.url}/t`, mode: "ping" });
    const logs: Array<Record<string, unknown>> = [];
    const notifier = new Notifier(settings, () => ({ id: "1", ts: "", from: "x", to: "ada", body: "b", tags: [], read_by: [], thread: "1" }), (e) => logs.push(e), {
      queueMax: 3,
      concurrency: 1,
      timeoutMs: 60_000,
      attempts: 1,
      retryFirstMs: 1,
      retryMaxMs: 1,
    });
    for (let n = 1; n <= 10; n++) notifier.posted({ n, from: "x", to: "ada" });
    expect(notifier.pending).toBe(3);
    expect(logs.filter((e) => e.msg === "notifications dropped: the queue is full")).toHaveLength(1);
    notifier.close();
  });
});
