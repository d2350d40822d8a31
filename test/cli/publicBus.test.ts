/**
 * The client against the deployed bus at its public HTTPS URL, which tests cannot reach: the public
 * internet is mocked with nock (the developers' guide), everything else is real (files, modes, HOME).
 * Net connect is disabled, so a request no interceptor expects fails instead of leaving the machine.
 */
import { promises as fs } from "node:fs";
import os = require("node:os");
import * as path from "node:path";
import nock from "nock";
import { LOADERS } from "../../cli/loaders";
import { main } from "../../cli/main";
import { AuthError, BusError, createBusClient, type Message, UnreachableError } from "../../client/index";
import type { Io } from "../../cli/io";
import { modeOf, tempDir } from "./harness";

const BUS_URL = "https://claude-bus.example.com";
const USER = "claude";
const PASS = "Publ1cBusPassw0rdPubl1cBusPass";
const BASIC = `Basic ${Buffer.from(`${USER}:${PASS}`).toString("base64")}`;

const message = (over: Partial<Message> = {}): Message => ({
  id: "7",
  ts: "2026-01-02T03:04:05.678Z",
  from: "kilo",
  to: "any",
  body: "hi",
  tags: [],
  read_by: ["kilo"],
  thread: over.id ?? "7",
  ...over,
});

/** Requests that reached nock but matched no interceptor (they fail, and the test says which). */
let unmatched: string[] = [];
const recordUnmatched = (req: { method?: string; path?: string; href?: string }) => unmatched.push(`${req.method} ${req.href ?? req.path}`);

beforeAll(() => {
  nock.disableNetConnect();
  nock.emitter.on("no match", recordUnmatched);
});
afterAll(() => {
  nock.emitter.removeListener("no match", recordUnmatched);
  nock.enableNetConnect();
});
beforeEach(() => {
  unmatched = [];
});
afterEach(() => {
  nock.abortPendingRequests();
  nock.cleanAll();
});

describe("createBusClient against the public HTTPS URL", () => {
  // each error is mapped on its first occurrence here; retries have tests of their own (test/client)
  const NO_RETRY = { retries: 0, baseDelayMs: 0, maxDelayMs: 0 };
  const client = () => createBusClient({ url: BUS_URL, user: USER, pass: PASS, retry: NO_RETRY });
  const bus = () => nock(BUS_URL, { reqheaders: { authorization: BASIC, accept: "application/json" } });

  it("health is GET /health with Basic auth and no body", async () => {
    const scope = bus()
      .get("/health")
      .matchHeader("content-type", (value) => value === undefined)
      .reply(200, { ok: true, count: 3, now: "2026-01-02T03:04:05.678Z" });
    await expect(client().health()).resolves.toEqual({ ok: true, count: 3, now: "2026-01-02T03:04:05.678Z" });
    scope.done();
    expect(unmatched).toEqual([]);
  });

  it("post is POST /post with the message as a JSON body", async () => {
    const posted = message({ to: "tango", body: "Patch deployed", tags: ["deploy"] });
    const scope = bus()
      .matchHeader("content-type", "application/json")
      .post("/post", { from: "kilo", to: "tango", body: "Patch deployed", tags: ["deploy"] })
      .reply(201, posted);
    await expect(client().post({ from: "kilo", to: "tango", body: "Patch deployed", tags: ["deploy"] })).resolves.toEqual(posted);
    scope.done();
  });

  it("messages is GET /messages with exactly the given filters as the query string", async () => {
    const page = [message(), message({ id: "8" })];
    const scope = bus()
      .get("/messages")
      .query({ since: "6", to: "tango", from: "kilo", unread_by: "tango", limit: "2" })
      .reply(200, { messages: page })
      .get("/messages")
      .query((query) => Object.keys(query).length === 0)
      .reply(200, { messages: [] });
    await expect(client().messages({ since: "6", to: "tango", from: "kilo", unread_by: "tango", limit: 2 })).resolves.toEqual(page);
    await expect(client().messages()).resolves.toEqual([]);
    scope.done();
  });

  it("ack is POST /ack/<id> with the reader as JSON, the id path-encoded", async () => {
    const scope = bus()
      .post("/ack/12", { reader: "tango" })
      .reply(200, { ok: true, id: "12", reader: "tango", already: false })
      .post("/ack/a%2Fb", { reader: "tango" })
      .reply(404, { error: "no message a/b" });
    await expect(client().ack("12", "tango")).resolves.toEqual({ ok: true, id: "12", reader: "tango", already: false });
    await expect(client().ack("a/b", "tango")).rejects.toMatchObject({ name: "BusError", status: 404, serverError: "no message a/b" });
    scope.done();
  });

  it.each([
    ["a trailing slash", "https://claude-bus.example.com/", "https://claude-bus.example.com", ""],
    ["a path prefix", "https://example.com/bus/", "https://example.com", "/bus"],
    ["a path prefix without trailing slash", "https://example.com/bus", "https://example.com", "/bus"],
  ])("a BUS_URL with %s hits the paths under it", async (_, url, origin, prefix) => {
    const scope = nock(origin, { reqheaders: { authorization: BASIC } })
      .get(`${prefix}/health`)
      .reply(200, { ok: true, count: 0, now: "2026-01-02T03:04:05.678Z" })
      .get(`${prefix}/messages`)
      .query({ from: "kilo" })
      .reply(200, { messages: [] })
      .post(`${prefix}/post`, { from: "kilo", body: "hi" })
      .reply(201, message())
      .post(`${prefix}/ack/7`, { reader: "tango" })
      .reply(200, { ok: true, id: "7", reader: "tango", already: true });
    const c = createBusClient({ url, user: USER, pass: PASS });
    expect(c.url).toBe(origin + prefix);
    await c.health();
    await c.messages({ from: "kilo" });
    await c.post({ from: "kilo", body: "hi" });
    await c.ack("7", "tango");
    scope.done();
    expect(unmatched).toEqual([]);
  });

  it("a 401 is an AuthError naming the URL", async () => {
    bus().get("/health").reply(401, { error: "unauthorized" }, { "www-authenticate": 'Basic realm="claude-bus"' });
    const err = await client()
      .health()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthError);
    expect((err as AuthError).message).toBe(`the bus at ${BUS_URL} rejected the credential (401): check BUS_USER/BUS_PASS`);
  });

  it.each([
    [502, "Bad Gateway"],
    [429, "Too Many Requests"],
  ])("nginx's own HTML %i page is a BusError with the status and the page's title", async (status, title) => {
    const page = `<html>\r\n<head><title>${status} ${title}</title></head>\r\n<body>\r\n<center><h1>${status} ${title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n`;
    bus().post("/post").reply(status, page, { "content-type": "text/html" });
    const err = await client()
      .post({ from: "kilo", body: "hi" })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BusError);
    expect(err).toMatchObject({ status });
    expect((err as BusError).message).toMatch(new RegExp(`^the bus answered ${status}: <html>`));
    expect((err as BusError).message).toContain(`<title>${status} ${title}</title>`);
  });

  it("a 200 that is not JSON (a captive portal, say) is a BusError, not a crash", async () => {
    bus().get("/health").reply(200, "<html><body>Please log in to the Wi-Fi</body></html>");
    await expect(client().health()).rejects.toThrow(/^the bus answered 200: response is not JSON: <html><body>Please log in/);
  });

  it.each([
    ["ECONNREFUSED", "connect ECONNREFUSED 192.0.2.10:443"],
    ["ENOTFOUND", "getaddrinfo ENOTFOUND claude-bus.example.com"],
    ["CERT_HAS_EXPIRED", "certificate has expired"],
  ])("a connection error %s is an UnreachableError naming the URL and the cause", async (code, text) => {
    bus()
      .get("/health")
      .replyWithError(Object.assign(new Error(text), { code }));
    const err = await client()
      .health()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnreachableError);
    expect((err as Error).message).toMatch(new RegExp(`^cannot reach the bus at ${BUS_URL}: .*${text}`));
  });

  it("a bus that never answers is an UnreachableError after timeoutMs", async () => {
    bus().get("/health").delay(5_000).reply(200, { ok: true, count: 0, now: "2026-01-02T03:04:05.678Z" });
    const err = await createBusClient({ url: BUS_URL, user: USER, pass: PASS, timeoutMs: 50, retry: NO_RETRY })
      .health()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnreachableError);
    expect((err as Error).message).toBe(`cannot reach the bus at ${BUS_URL}: no answer within 50 ms`);
  });

  it("nothing escapes to the network: an unexpected request fails and is recorded", async () => {
    const err = await createBusClient({ url: "https://other.example.com", user: USER, pass: PASS, retry: NO_RETRY })
      .health()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnreachableError);
    expect((err as Error).message).toMatch(/Disallowed net connect|No match/);
    expect(unmatched).toEqual(["GET https://other.example.com/health"]);
  });
});

describe("bootstrap --from-stack with the deployed stack's outputs", () => {
  /** What `pulumi stack output --json --show-secrets` prints for the stack (infra/bus.ts's outputs). */
  const clientEnv = `BUS_USER=${USER}\nBUS_PASS=${PASS}\nBUS_URL=${BUS_URL}\n`;
  const stackOutputs = JSON.stringify(
    {
      busUrl: BUS_URL,
      busUser: USER,
      busPassword: PASS,
      clientEnv,
      fqdn: "claude-bus.example.com",
      ipv4: "192.0.2.10",
      ipv6: "2001:db8::10",
    },
    null,
    2,
  );
  const PUBKEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHVzZWQtb25seS1pbi10ZXN0cy1ub3QtYS1yZWFsLWtleQ kilo@laptop";

  let home: string;
  let homedir: jest.SpyInstance<string, []>;
  beforeEach(async () => {
    home = await tempDir("public-home");
    await fs.mkdir(path.join(home, ".ssh"), { mode: 0o700 });
    await fs.writeFile(path.join(home, ".ssh", "id_ed25519.pub"), `${PUBKEY}\n`);
    await fs.mkdir(path.join(home, "bin"));
    await fs.symlink(path.resolve(__dirname, "../../bin/claude-bus"), path.join(home, "bin", "claude-bus"));
    // the temp HOME: jest gives tests a copy of process.env, so HOME=... would not reach os.homedir();
    // the spy is on node's own os module object, which client/ reads through its import
    homedir = jest.spyOn(os, "homedir").mockReturnValue(home);
  });
  afterEach(async () => {
    homedir.mockRestore();
    await fs.rm(home, { recursive: true, force: true });
  });

  const envFile = () => path.join(home, ".secrets", "claude-bus.env");

  /** `claude-bus bootstrap` in this process, stdin given as text, output collected. */
  async function bootstrap(argv: string[], stdin?: string): Promise<{ code: number; out: string; err: string; stdinReads: number }> {
    const out: string[] = [];
    const err: string[] = [];
    let stdinReads = 0;
    const io: Io = {
      out: (line) => void out.push(line),
      err: (line) => err.push(line),
      readStdin: async () => {
        stdinReads++;
        if (stdin === undefined) throw new Error("bootstrap read stdin although nothing was piped in");
        return stdin;
      },
      stdinIsTTY: stdin === undefined,
      env: { PATH: path.join(home, "bin") },
      platform: "linux",
      cliPath: "/opt/claude-bus/bin/claude-bus",
    };
    const code = await main(["bootstrap", "--me", "kilo", ...argv], io, LOADERS);
    return { code, out: out.join("\n"), err: err.join("\n"), stdinReads };
  }

  const health = { ok: true, count: 0, now: "2026-01-02T03:04:05.678Z" };

  it("writes the stack's clientEnv, checks /health on the public URL, says hello once; a second run posts nothing", async () => {
    let helloBody: Record<string, unknown> | undefined;
    const first = nock(BUS_URL, { reqheaders: { authorization: BASIC } })
      .get("/health")
      .reply(200, health)
      .get("/messages")
      .query({ from: "kilo", limit: "500" })
      .reply(200, { messages: [message({ id: "3", tags: ["status"] })] })
      .post("/post", (body: Record<string, unknown>) => {
        helloBody = body;
        return true;
      })
      .reply(201, (_uri, body) => message({ id: "4", ...(body as object), read_by: ["kilo"] }));

    const run1 = await bootstrap(["--from-stack"], stackOutputs);
    expect(run1.err).toBe("");
    expect(run1.stdinReads).toBe(1);
    expect(run1.out).not.toContain("✗");
    expect(run1.code).toBe(0);
    expect(run1.out).toMatch(/^✓ credentials file: wrote .*claude-bus\.env \(mode 0600, dir 0700\)$/m);
    expect(run1.out).toContain(`✓ bus health: ${BUS_URL} answers with 0 messages stored`);
    expect(run1.out).toMatch(/^✓ hello broadcast: posted #4 announcing kilo$/m);
    first.done();
    expect(unmatched).toEqual([]);

    // exactly the stack's clientEnv, plus the machine name given with --me
    expect(await fs.readFile(envFile(), "utf8")).toBe(`${clientEnv}BUS_ME=kilo\n`);
    expect(await modeOf(envFile())).toBe(0o600);
    expect(await modeOf(path.dirname(envFile()))).toBe(0o700);
    expect(JSON.parse(await fs.readFile(path.join(home, ".claude", "settings.json"), "utf8")).enabledPlugins).toEqual({ "agent-bus@agent-bus": true });
    expect(helloBody).toEqual({ from: "kilo", to: "any", body: expect.stringMatching(/^hello: kilo joined the bus /), tags: ["hello", "bootstrap"] });

    // second run: the bus now lists the hello, so only health and messages may be asked for
    const second = nock(BUS_URL, { reqheaders: { authorization: BASIC } })
      .get("/health")
      .reply(200, { ...health, count: 2 })
      .get("/messages")
      .query({ from: "kilo", limit: "500" })
      .reply(200, { messages: [message({ id: "3", tags: ["status"] }), message({ id: "4", tags: ["hello", "bootstrap"] })] });
    const run2 = await bootstrap([]);
    expect(run2.stdinReads).toBe(0);
    expect(run2.out).not.toContain("✗");
    expect(run2.code).toBe(0);
    expect(run2.out).toMatch(/^✓ credentials file: .* up to date/m);
    expect(run2.out).toMatch(/^✓ hello broadcast: kilo already announced \(#4, /m);
    second.done();
    expect(nock.pendingMocks()).toEqual([]);
    expect(unmatched).toEqual([]);
    expect(await fs.readFile(envFile(), "utf8")).toBe(`${clientEnv}BUS_ME=kilo\n`);
  });

  it("a rotated-away password in the stack outputs: health fails with 401 advice, exit 2, and no hello is attempted", async () => {
    const scope = nock(BUS_URL).get("/health").reply(401, { error: "unauthorized" });
    const run = await bootstrap(["--from-stack"], stackOutputs);
    expect(run.code).toBe(2);
    expect(run.out).toMatch(
      /^✗ bus health: the bus at https:\/\/claude-bus\.example\.com rejected the credential \(401\).*--from-stack\), or this machine's own credential revoked \(ask for a new invite: claude-bus invite NAME\)$/m,
    );
    expect(run.out).toMatch(/^✗ hello broadcast: not checked: needs a machine name and a working bus$/m);
    scope.done();
    expect(unmatched).toEqual([]);
  });

  /** Health and the hello lookup answer; the hello post itself fails as `fail` says. */
  const helloPostFails = (fail: (post: nock.Interceptor) => nock.Scope) =>
    fail(
      nock(BUS_URL, { reqheaders: { authorization: BASIC } })
        .get("/health")
        .reply(200, health)
        .get("/messages")
        .query({ from: "kilo", limit: "500" })
        .reply(200, { messages: [] })
        .post("/post"),
    );

  it("a hello post the bus answers with 503 is a ✗ hello broadcast line with what to do, exit 1", async () => {
    // 503 is retried (jittered, 4 times) before it is reported
    const scope = helloPostFails((post) => post.times(5).reply(503, { error: "store unavailable" }));
    const run = await bootstrap(["--from-stack"], stackOutputs);
    expect(run.code).toBe(1);
    expect(run.out).toMatch(/^✓ bus health: /m);
    expect(run.out).toMatch(
      /^✗ hello broadcast: kilo not announced: the bus answered 503: store unavailable; re-run `claude-bus bootstrap` when that is fixed$/m,
    );
    scope.done();
    expect(unmatched).toEqual([]);
  });

  it("a hello post lost to a network error is a ✗ hello broadcast line, exit 3", async () => {
    const scope = helloPostFails((post) => post.times(5).replyWithError(Object.assign(new Error("socket hang up"), { code: "ECONNRESET" })));
    const run = await bootstrap(["--from-stack"], stackOutputs);
    expect(run.code).toBe(3);
    expect(run.out).toMatch(
      /^✗ hello broadcast: kilo not announced: cannot reach the bus at https:\/\/claude-bus\.example\.com: ECONNRESET \(socket hang up\); .*; re-run `claude-bus bootstrap` when that is fixed$/m,
    );
    scope.done();
    expect(unmatched).toEqual([]);
  });

  it("an unreachable public URL: exit 3 with DNS advice, the credential file still written", async () => {
    const scope = nock(BUS_URL)
      .get("/health")
      .replyWithError(Object.assign(new Error("getaddrinfo ENOTFOUND claude-bus.example.com"), { code: "ENOTFOUND" }));
    const run = await bootstrap(["--from-stack"], stackOutputs);
    expect(run.code).toBe(3);
    expect(run.out).toMatch(
      /^✗ bus health: cannot reach the bus at https:\/\/claude-bus\.example\.com: .*ENOTFOUND.*; check BUS_URL, DNS and that the bus is up$/m,
    );
    scope.done();
    expect(await fs.readFile(envFile(), "utf8")).toBe(`${clientEnv}BUS_ME=kilo\n`);
  });
});
