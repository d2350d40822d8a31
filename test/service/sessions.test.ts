/**
 * People and the web app's sign-in, over real HTTP on real files: person and admin invites, browser
 * sessions (the cookie and its attributes, every route with it, the Origin rule, sign-out, expiry,
 * revocation, rotation, a restart), enrollment in the browser, and Basic auth exactly as before.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { AUTH_FAILURES_ALLOWED, MAX_SESSIONS_PER_NAME, SESSION_COOKIE, SESSION_SECONDS } from "../../contract/defaults";
import { SESSIONS_FILE, Sessions } from "../../service/members/sessions";
import { startBus, type TestBus } from "../support/bus";
import { postJson, type Reply, request, type RequestOptions } from "../support/http";
import { tempDir } from "../support/tempDir";
import { waitFor } from "../support/waitFor";

let bus: TestBus;
afterEach(() => bus?.close());

type Auth = [string, string];

const origin = () => bus.url;
/** The token a Set-Cookie gives, and its attributes. */
function cookieOf(reply: Reply): { token: string; attributes: string[] } {
  const set = reply.headers["set-cookie"];
  expect(set).toHaveLength(1);
  const [pair, ...attributes] = set![0].split(";").map((s) => s.trim());
  expect(pair.startsWith(`${SESSION_COOKIE}=`)).toBe(true);
  return { token: pair.slice(SESSION_COOKIE.length + 1), attributes };
}
/** A request as the browser sends it with the session cookie (no Basic auth). */
const withCookie = (token: string, pathAndQuery: string, opts: RequestOptions = {}) =>
  request(bus.url, pathAndQuery, { ...opts, auth: null, headers: { Cookie: `${SESSION_COOKIE}=${token}`, ...opts.headers } });
const postWithCookie = (token: string, pathname: string, value: unknown, headers: Record<string, string> = { Origin: origin() }) =>
  withCookie(token, pathname, { method: "POST", headers: { "Content-Type": "application/json", ...headers }, body: JSON.stringify(value) });

async function invite(name: string, body: Record<string, unknown> = {}, auth?: Auth): Promise<Reply> {
  return postJson(bus.url, "/invites", { name, ...body }, { auth });
}
async function enroll(name: string, body: Record<string, unknown> = {}): Promise<Auth> {
  const r = await postJson(bus.url, "/enroll", { code: (await invite(name, body)).json.code }, { auth: null });
  expect(r.status).toBe(201);
  return [r.json.user, r.json.pass];
}
const signIn = (name: string, secret: string, headers: Record<string, string> = {}) => postJson(bus.url, "/session", { name, secret }, { auth: null, headers });

describe("people", () => {
  beforeEach(async () => {
    bus = await startBus();
  });

  it("invites a person, or an admin person, with the team credential; GET /machines shows each one's kind", async () => {
    const person = await invite("ada", { kind: "person" });
    expect(person.status).toBe(201);
    expect(person.json).toMatchObject({ name: "ada", kind: "person", admin: false });
    const admin = await invite("grace", { kind: "person", admin: true });
    expect(admin.json).toMatchObject({ name: "grace", kind: "person", admin: true });
    const pending = (await request(bus.url, "/machines")).json.invites;
    expect(pending.map((i: { name: string; kind: string; admin: boolean }) => [i.name, i.kind, i.admin])).toEqual([
      ["ada", "person", false],
      ["grace", "person", true],
    ]);

    for (const [r, name] of [
      [person, "ada"],
      [admin, "grace"],
    ] as const)
      expect((await postJson(bus.url, "/enroll", { code: r.json.code }, { auth: null })).json.name).toBe(name);
    await enroll("laptop");
    const machines = (await request(bus.url, "/machines")).json.machines;
    const kinds = Object.fromEntries(machines.map((m: { name: string; kind: string; admin: boolean }) => [m.name, [m.kind, m.admin]]));
    expect(kinds).toEqual({ ada: ["person", false], grace: ["person", true], laptop: ["machine", false] });
  });

  it("lets an admin person invite (people too) and revoke like the team credential; a machine or a plain person may not", async () => {
    const admin = await enroll("grace", { kind: "person", admin: true });
    const plain = await enroll("ada", { kind: "person" });
    const machine = await enroll("laptop");
    const byAdmin = await invite("bob", { kind: "person", admin: true }, admin);
    expect(byAdmin.status).toBe(201);
    expect(byAdmin.json.admin).toBe(true);
    for (const auth of [plain, machine]) {
      const refused = await invite("mallory", { kind: "person", admin: true }, auth);
      expect([refused.status, refused.json.error]).toEqual([403, "only the team credential or an admin person may invite"]);
      expect((await postJson(bus.url, "/machines/laptop/revoke", {}, { auth })).status).toBe(403);
    }
    const revoked = await request(bus.url, "/machines/laptop/revoke", { method: "POST", auth: admin });
    expect([revoked.status, revoked.json.name]).toEqual([200, "laptop"]);
    expect((await request(bus.url, "/health", { auth: machine })).status).toBe(401);
    // A backup stays the team credential's alone.
    expect((await request(bus.url, "/backup", { auth: admin })).status).toBe(403);
  });

  it("refuses an admin machine, and a kind it does not know", async () => {
    const r = await invite("box", { admin: true });
    expect([r.status, r.json.error]).toEqual([400, 'admin: only a person is an admin (send "kind": "person")']);
    expect((await invite("box", { kind: "robot" })).status).toBe(400);
  });

  it("keeps a person's kind and admin flag across a restart and its compaction", async () => {
    await enroll("grace", { kind: "person", admin: true });
    await invite("ada", { kind: "person" });
    await bus.close();
    bus = await startBus({ dataDir: bus.dataDir });
    const machines = (await request(bus.url, "/machines")).json;
    expect(machines.machines.find((m: { name: string }) => m.name === "grace")).toMatchObject({ kind: "person", admin: true });
    expect(machines.invites[0]).toMatchObject({ name: "ada", kind: "person", admin: false });
  });
});

describe("browser sessions", () => {
  beforeEach(async () => {
    bus = await startBus();
  });

  it("signs a person in with name and secret: a cookie that is HttpOnly, SameSite=Strict, Path=/, with a Max-Age, and not Secure over plain http", async () => {
    const [name, pass] = await enroll("ada", { kind: "person" });
    const r = await signIn(name, pass);
    expect(r.status).toBe(200);
    expect(r.headers["cache-control"]).toBe("no-store");
    expect(r.json).toEqual({ name: "ada", kind: "person", admin: false, expires: expect.any(String) });
    const { token, attributes } = cookieOf(r);
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/); // 256 random bits
    expect(attributes).toEqual(["HttpOnly", "SameSite=Strict", "Path=/", `Max-Age=${SESSION_SECONDS}`]);
    // Only its hash is kept.
    const stored = fs.readFileSync(path.join(bus.dataDir, SESSIONS_FILE), "utf8");
    expect(stored).not.toContain(token);
    expect(stored).toContain(createHash("sha256").update(token).digest("hex"));
    expect(fs.statSync(path.join(bus.dataDir, SESSIONS_FILE)).mode & 0o777).toBe(0o600);
    expect(bus.logs.join("\n")).not.toContain(token);

    const me = await withCookie(token, "/session");
    expect([me.status, me.json]).toEqual([200, r.json]);
  });

  it("marks the cookie Secure when nginx says the browser came over TLS, and only then", async () => {
    await bus.close();
    bus = await startBus({ behindProxy: true });
    const [name, pass] = await enroll("ada", { kind: "person" });
    expect(cookieOf(await signIn(name, pass, { "X-Forwarded-Proto": "https" })).attributes).toContain("Secure");
    expect(cookieOf(await signIn(name, pass)).attributes).not.toContain("Secure");
  });

  it("ignores X-Forwarded-Proto without --behind-proxy", async () => {
    const [name, pass] = await enroll("ada", { kind: "person" });
    expect(cookieOf(await signIn(name, pass, { "X-Forwarded-Proto": "https" })).attributes).not.toContain("Secure");
  });

  it("signs in with the team credential as kind team", async () => {
    const r = await signIn(bus.user, bus.pass);
    expect(r.json).toEqual({ name: bus.user, kind: "team", admin: true, expires: expect.any(String) });
    const token = cookieOf(r).token;
    expect((await postWithCookie(token, "/invites", { name: "ada", kind: "person" })).status).toBe(201);
  });

  it("works on every existing route as the name that signed in: read, post, ack, machines, files", async () => {
    const [name, pass] = await enroll("ada", { kind: "person" });
    const token = cookieOf(await signIn(name, pass)).token;
    const posted = await postWithCookie(token, "/post", { from: "ada", to: "laptop", body: "from the browser" });
    expect(posted.status).toBe(201);
    expect(posted.json.verified).toBe(true);
    // As ada only: never as another name.
    const forged = await postWithCookie(token, "/post", { from: "laptop", body: "not me" });
    expect(forged.status).toBe(403);
    await postJson(bus.url, "/post", { from: "laptop", to: "ada", body: "hello ada" });
    const page = await withCookie(token, "/messages?unread_by=ada");
    expect(page.status).toBe(200);
    expect(page.json.messages.map((m: { body: string }) => m.body)).toEqual(["hello ada"]);
    expect((await postWithCookie(token, "/ack", { reader: "ada", ids: [page.json.messages[0].id] })).json.acked).toEqual([page.json.messages[0].id]);
    expect((await withCookie(token, "/machines")).status).toBe(200);
    const upload = await withCookie(token, "/files?name=a.txt", {
      method: "POST",
      headers: { Origin: origin(), "Content-Type": "application/octet-stream" },
      body: "hello",
    });
    expect(upload.status).toBe(201);
    const download = await withCookie(token, `/files/${upload.json.sha256}`);
    expect([download.status, download.text]).toEqual([200, "hello"]);
  });

  it("refuses a request that may change something when its Origin is another site's, or missing: 403 cross_origin", async () => {
    const [name, pass] = await enroll("ada", { kind: "person" });
    const token = cookieOf(await signIn(name, pass)).token;
    for (const headers of [{ Origin: "https://evil.example" }, { Origin: "null" }, {} as Record<string, string>]) {
      const r = await postWithCookie(token, "/post", { from: "ada", body: "csrf" }, headers);
      expect(r.status).toBe(403);
      expect(r.json.error).toMatch(/^cross_origin: /);
    }
    const del = await withCookie(token, "/session", { method: "DELETE", headers: { Origin: "https://evil.example" } });
    expect(del.status).toBe(403);
    expect((await withCookie(token, "/health")).status).toBe(200); // reading needs no Origin
    expect((await withCookie(token, "/messages")).json.messages).toEqual([]); // nothing was posted
    // Nor can another site sign a browser in.
    expect((await signIn(name, pass, { Origin: "https://evil.example" })).status).toBe(403);
  });

  it("leaves Basic auth exactly as it was: no Origin needed, a Basic credential wins over a cookie", async () => {
    const [name, pass] = await enroll("ada", { kind: "person" });
    expect((await postJson(bus.url, "/post", { from: "ada", body: "curl" }, { auth: [name, pass] })).status).toBe(201);
    const token = cookieOf(await signIn(name, pass)).token;
    const r = await postJson(bus.url, "/post", { from: "laptop", body: "as the team" }, { headers: { Cookie: `${SESSION_COOKIE}=${token}` } });
    expect(r.status).toBe(201);
    const unauth = await request(bus.url, "/health", { auth: null });
    expect([unauth.status, unauth.headers["www-authenticate"]]).toEqual([401, 'Basic realm="claude-bus"']);
  });

  it("ends at sign-out: the cookie is cleared and the token no longer works", async () => {
    const [name, pass] = await enroll("ada", { kind: "person" });
    const token = cookieOf(await signIn(name, pass)).token;
    const out = await withCookie(token, "/session", { method: "DELETE", headers: { Origin: origin() } });
    expect([out.status, out.json]).toEqual([200, { ok: true, ended: true }]);
    expect(out.headers["set-cookie"]![0]).toMatch(new RegExp(`^${SESSION_COOKIE}=; .*Max-Age=0`));
    const after = await withCookie(token, "/health");
    expect(after.status).toBe(401);
    // No Basic challenge to a browser: it would open its own login dialog over the app.
    expect(after.headers["www-authenticate"]).toBeUndefined();
    expect((await withCookie(token, "/session")).status).toBe(401);
  });

  it("ends when its name is revoked, and does not come back when the name is enrolled again", async () => {
    const [name, pass] = await enroll("ada", { kind: "person" });
    const token = cookieOf(await signIn(name, pass)).token;
    expect((await request(bus.url, "/machines/ada/revoke", { method: "POST" })).status).toBe(200);
    expect((await withCookie(token, "/health")).status).toBe(401);
    await enroll("ada", { kind: "person" });
    expect((await withCookie(token, "/health")).status).toBe(401);
  });

  it("ends the name's other sessions when its secret is rotated, keeping the one that rotated", async () => {
    const [name, pass] = await enroll("ada", { kind: "person" });
    const other = cookieOf(await signIn(name, pass)).token;
    const mine = cookieOf(await signIn(name, pass)).token;
    const rotated = await postWithCookie(mine, "/machines/ada/rotate", {});
    expect(rotated.status).toBe(200);
    expect((await withCookie(other, "/health")).status).toBe(401);
    expect((await withCookie(mine, "/health")).status).toBe(200);
  });

  it("ends team sessions when the team password changes", async () => {
    await bus.close();
    bus = await startBus({ credentialsFile: true });
    const token = cookieOf(await signIn(bus.user, bus.pass)).token;
    expect((await withCookie(token, "/health")).status).toBe(200);
    fs.writeFileSync(bus.credentialsFile!, `BUS_USER=${bus.user}\nBUS_PASS=another-pass-0123456789abcdef\n`);
    bus.reloadCredentials();
    await waitFor("the team session to end", async () => (await withCookie(token, "/health")).status === 401);
    // Basic auth with the new password works; the cookie of the old one stays refused.
    expect((await request(bus.url, "/health", { auth: [bus.user, "another-pass-0123456789abcdef"] })).status).toBe(200);
  });

  it("survives a restart of the bus (sessions are kept, hashed, in the data dir)", async () => {
    const [name, pass] = await enroll("ada", { kind: "person" });
    const token = cookieOf(await signIn(name, pass)).token;
    await bus.close();
    bus = await startBus({ dataDir: bus.dataDir });
    expect((await withCookie(token, "/session")).json.name).toBe("ada");
  });

  it("ends every session, and still starts, when sessions.jsonl has a damaged line", async () => {
    const [name, pass] = await enroll("ada", { kind: "person" });
    const token = cookieOf(await signIn(name, pass)).token;
    await bus.close();
    fs.appendFileSync(path.join(bus.dataDir, SESSIONS_FILE), '{"event":"closed","id":"not a hash"}\n');
    bus = await startBus({ dataDir: bus.dataDir });
    expect(bus.logs.some((l) => l.includes("every browser session ends"))).toBe(true);
    expect((await withCookie(token, "/health")).status).toBe(401);
    const again = cookieOf(await signIn(name, pass)).token;
    await bus.close();
    bus = await startBus({ dataDir: bus.dataDir });
    expect((await withCookie(again, "/health")).status).toBe(200); // the damage was cleared
  });

  it("rewrites sessions.jsonl as the live sessions once it is mostly history, while it runs", async () => {
    const [name, pass] = await enroll("ada", { kind: "person" });
    const kept = cookieOf(await signIn(name, pass)).token;
    for (let i = 0; i < 60; i++) {
      const token = cookieOf(await signIn(name, pass)).token;
      expect((await withCookie(token, "/session", { method: "DELETE", headers: { Origin: origin() } })).status).toBe(200);
    }
    const lines = fs.readFileSync(path.join(bus.dataDir, SESSIONS_FILE), "utf8").trim().split("\n");
    expect(lines.length).toBeLessThanOrEqual(2 * 1 + 64 + 1);
    expect((await withCookie(kept, "/health")).status).toBe(200);
    await bus.close();
    bus = await startBus({ dataDir: bus.dataDir });
    expect((await withCookie(kept, "/health")).status).toBe(200);
  });

  it("refuses an expired session", async () => {
    const [name, pass] = await enroll("ada", { kind: "person" });
    const token = cookieOf(await signIn(name, pass)).token;
    const sessions = await Sessions.open(tempDir("sessions"), () => undefined);
    const started = await sessions.start("ada", false, 1);
    expect(sessions.find(started.token)).not.toBeNull();
    expect(sessions.find(started.token, started.session.expires)).toBeNull();
    await sessions.close();
    // The same on the bus: a session past its expiry in the file is gone at start.
    await bus.close();
    const file = path.join(bus.dataDir, SESSIONS_FILE);
    const lines = fs
      .readFileSync(file, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    fs.writeFileSync(file, lines.map((l) => `${JSON.stringify({ ...l, expires: Date.now() - 1000 })}\n`).join(""), { mode: 0o600 });
    bus = await startBus({ dataDir: bus.dataDir });
    expect((await withCookie(token, "/health")).status).toBe(401);
  });

  it("counts failed sign-ins in the failure limit", async () => {
    const [name] = await enroll("ada", { kind: "person" });
    for (let i = 0; i < AUTH_FAILURES_ALLOWED; i++) {
      const r = await signIn(name, `wrong-${i}`);
      expect([r.status, r.json.error, r.headers["www-authenticate"]]).toEqual([401, "wrong name or secret", undefined]);
    }
    expect((await signIn(name, "wrong-again")).status).toBe(429);
  });

  it(`keeps at most ${MAX_SESSIONS_PER_NAME} sessions per name: signing in once more ends the oldest`, async () => {
    const [name, pass] = await enroll("ada", { kind: "person" });
    const tokens: string[] = [];
    for (let i = 0; i <= MAX_SESSIONS_PER_NAME; i++) tokens.push(cookieOf(await signIn(name, pass)).token);
    expect((await withCookie(tokens[0], "/health")).status).toBe(401);
    expect((await withCookie(tokens[1], "/health")).status).toBe(200);
    expect((await withCookie(tokens[MAX_SESSIONS_PER_NAME], "/health")).status).toBe(200);
  });
});

describe("enrolling in the browser", () => {
  beforeEach(async () => {
    bus = await startBus();
  });

  it("redeems a person's invite code once: the secret shown once, and a session", async () => {
    const code = (await invite("ada", { kind: "person", admin: true })).json.code;
    const r = await postJson(bus.url, "/session/enroll", { code }, { auth: null, headers: { Origin: origin() } });
    expect(r.status).toBe(201);
    expect(r.headers["cache-control"]).toBe("no-store");
    expect(r.json).toEqual({ name: "ada", kind: "person", admin: true, pass: expect.stringMatching(/^[A-Za-z0-9]{32}$/), expires: expect.any(String) });
    const token = cookieOf(r).token;
    expect((await withCookie(token, "/session")).json.name).toBe("ada");
    expect((await request(bus.url, "/health", { auth: ["ada", r.json.pass] })).status).toBe(200);
    const again = await postJson(bus.url, "/session/enroll", { code }, { auth: null });
    expect(again.status).toBe(403);
    expect(again.headers["set-cookie"]).toBeUndefined();
  });

  it("refuses a machine's invite code in the browser, which keeps working for the machine", async () => {
    const code = (await invite("laptop")).json.code;
    const r = await postJson(bus.url, "/session/enroll", { code }, { auth: null });
    expect(r.status).toBe(403);
    expect(r.json.error).toMatch(/for a machine/);
    expect((await postJson(bus.url, "/enroll", { code }, { auth: null })).status).toBe(201);
  });
});
