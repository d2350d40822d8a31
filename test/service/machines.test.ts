/**
 * Machines' own credentials over real HTTP on real files: invite, enroll, senders bound to credentials,
 * revoke, rotate, the admin-only team credential, guessing, and what survives a restart or a backup.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as path from "node:path";
import * as zlib from "node:zlib";
import { INVITE_CODE_PATTERN } from "../../contract/message";
import { restoreBackup } from "../../service/dataDir/dataDirTools";
import { MACHINES_FILE, Membership } from "../../service/members/membership";
import { startBus, type TestBus } from "../support/bus";
import { basicAuth, postJson, request } from "../support/http";
import { tempDir } from "../support/tempDir";

let bus: TestBus;
afterEach(() => bus?.close());

type Auth = [string, string];

async function invite(name: string, body: Record<string, unknown> = {}): Promise<string> {
  const r = await postJson(bus.url, "/invites", { name, ...body });
  expect(r.status).toBe(201);
  return r.json.code;
}

async function enroll(name: string): Promise<Auth> {
  const r = await postJson(bus.url, "/enroll", { code: await invite(name) }, { auth: null });
  expect(r.status).toBe(201);
  return [r.json.user, r.json.pass];
}

const post = (auth: Auth, from: string, extra: Record<string, unknown> = {}) =>
  postJson(bus.url, "/post", { from, to: "any", body: "hello", ...extra }, { auth });
const health = (auth: Auth | null) => request(bus.url, "/health", { auth });
const machinesList = async () => (await request(bus.url, "/machines")).json;
const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

describe("enrollment", () => {
  beforeEach(async () => {
    bus = await startBus();
  });

  it("gives a one-time code to the team credential, which a new machine exchanges once for its own credential", async () => {
    const invited = await postJson(bus.url, "/invites", { name: "laptop", ttl_seconds: 600 });
    expect(invited.status).toBe(201);
    expect(invited.headers["cache-control"]).toBe("no-store");
    expect(invited.json.name).toBe("laptop");
    expect(invited.json.code).toMatch(INVITE_CODE_PATTERN);
    const expires = Date.parse(invited.json.expires) - Date.now();
    expect(expires).toBeGreaterThan(590_000);
    expect(expires).toBeLessThanOrEqual(600_000);

    const enrolled = await postJson(bus.url, "/enroll", { code: invited.json.code }, { auth: null });
    expect(enrolled.status).toBe(201);
    expect(enrolled.headers["cache-control"]).toBe("no-store");
    expect(enrolled.json).toEqual({ name: "laptop", user: "laptop", pass: expect.stringMatching(/^[A-Za-z0-9]{32}$/) });
    expect((await health([enrolled.json.user, enrolled.json.pass])).status).toBe(200);

    const again = await postJson(bus.url, "/enroll", { code: invited.json.code }, { auth: null });
    expect(again.status).toBe(403);
    expect(again.json).toEqual({ error: "the invite code is unknown or was used already" });
  });

  it("lets one of two racing requests with the same code enroll", async () => {
    const code = await invite("racer");
    const answers = await Promise.all(Array.from({ length: 5 }, () => postJson(bus.url, "/enroll", { code }, { auth: null })));
    expect(answers.map((a) => a.status).sort()).toEqual([201, 403, 403, 403, 403]);
  });

  it("refuses a code that expired while the bus was down (dropped at start-up; the store test below covers one expiring while it runs)", async () => {
    await bus.close();
    // An invite that expired a minute ago, as the bus would have written it.
    const code = "Abcde-12345-Fghij-67890";
    const invited = { event: "invited", name: "late", code: sha256(code), expires: Date.now() - 60_000, time: Date.now() - 120_000 };
    fs.writeFileSync(path.join(bus.dataDir, MACHINES_FILE), `${JSON.stringify(invited)}\n`);
    bus = await startBus({ dataDir: bus.dataDir });
    // Dropped as expired at start-up: unknown now; an invite that expires while the bus runs says "expired".
    const refused = await postJson(bus.url, "/enroll", { code }, { auth: null });
    expect([refused.status, refused.json]).toEqual([403, { error: "the invite code is unknown or was used already" }]);
  });

  it.each([
    ["a machine name that is not one", { name: "no spaces" }, 400, /^name: must be/],
    ["a ttl under a minute", { name: "x", ttl_seconds: 5 }, 400, /^ttl_seconds: must be at least 60/],
    ["a ttl over a week", { name: "x", ttl_seconds: 8 * 86_400 }, 400, /^ttl_seconds: must be at most 604800/],
    ["the team credential's own user", { name: "claude" }, 409, /team credential's user/],
    ["an unknown field", { name: "x", role: "admin" }, 400, /role/],
  ])("refuses an invite with %s", async (_what, body, status, error) => {
    const r = await postJson(bus.url, "/invites", body);
    expect(r.status).toBe(status);
    expect(r.json.error).toMatch(error);
  });

  it("refuses to invite a name already enrolled until it is revoked; a new invite replaces an older one", async () => {
    await enroll("desk");
    expect((await postJson(bus.url, "/invites", { name: "desk" })).json.error).toMatch(/already enrolled; revoke it first/);
    const first = await invite("spare");
    const second = await invite("spare");
    expect((await postJson(bus.url, "/enroll", { code: first }, { auth: null })).status).toBe(403);
    expect((await postJson(bus.url, "/enroll", { code: second }, { auth: null })).status).toBe(201);
  });

  it("refuses a malformed code with a 400 and nothing else with Basic auth needed", async () => {
    const r = await postJson(bus.url, "/enroll", { code: "guess" }, { auth: null });
    expect(r.status).toBe(400);
    expect(r.json.error).toBe("code: is not an invite code");
  });
});

describe("senders bound to credentials", () => {
  let alpha: Auth;
  let bravo: Auth;
  beforeEach(async () => {
    bus = await startBus();
    alpha = await enroll("alpha");
    bravo = await enroll("bravo");
  });

  it("lets a machine post as itself and read everything, and refuses a forged from with a 403 naming both", async () => {
    expect((await post(alpha, "alpha", { to: "bravo" })).status).toBe(201);
    const forged = await post(alpha, "bravo");
    expect(forged.status).toBe(403);
    expect(forged.json).toEqual({ error: `from: "bravo" is not this credential's machine "alpha"; a machine posts as itself` });
    const read = await request(bus.url, "/messages?to=bravo", { auth: bravo });
    expect(read.status).toBe(200);
    expect(read.json.messages.map((m: { from: string }) => m.from)).toEqual(["alpha"]);
    // Another machine's inbox is open to every member, as today.
    expect((await request(bus.url, "/messages?unread_by=bravo", { auth: alpha })).status).toBe(200);
  });

  it("refuses a forged reader on one ack and on a batch ack, and stores neither", async () => {
    const { json: message } = await post(alpha, "alpha", { to: "bravo" });
    const one = await postJson(bus.url, `/ack/${message.id}`, { reader: "bravo" }, { auth: alpha });
    expect(one.status).toBe(403);
    expect(one.json.error).toBe(`reader: "bravo" is not this credential's machine "alpha"; a machine acks as itself`);
    const batch = await postJson(bus.url, "/ack", { reader: "bravo", ids: [message.id] }, { auth: alpha });
    expect(batch.status).toBe(403);
    expect((await request(bus.url, "/messages?unread_by=bravo")).json.messages).toHaveLength(1);
    expect((await postJson(bus.url, "/ack", { reader: "bravo", ids: [message.id] }, { auth: bravo })).status).toBe(200);
    expect((await request(bus.url, "/messages?unread_by=bravo")).json.messages).toHaveLength(0);
  });

  it("keeps the team credential's rights by default: it posts and acks as anyone", async () => {
    expect((await postJson(bus.url, "/post", { from: "alpha", body: "as the seed does" })).status).toBe(201);
  });

  it("keeps invites, revocation and backups for the team credential", async () => {
    expect((await postJson(bus.url, "/invites", { name: "sneaky" }, { auth: alpha })).json).toEqual({
      error: "only the team credential or an admin person may invite",
    });
    expect((await request(bus.url, "/machines/bravo/revoke", { method: "POST", auth: alpha })).status).toBe(403);
    expect((await request(bus.url, "/backup", { auth: alpha })).status).toBe(403);
    expect((await request(bus.url, "/machines", { auth: alpha })).status).toBe(200);
  });
});

describe("revocation", () => {
  beforeEach(async () => {
    bus = await startBus();
  });

  it("makes one machine's credential fail at once, and leaves the others working", async () => {
    const alpha = await enroll("alpha");
    const bravo = await enroll("bravo");
    expect((await health(alpha)).status).toBe(200);
    const revoked = await request(bus.url, "/machines/alpha/revoke", { method: "POST" });
    expect(revoked.status).toBe(200);
    expect(revoked.json).toEqual({ ok: true, name: "alpha", revoked: expect.any(String), already: false });
    const refused = await health(alpha);
    expect(refused.status).toBe(401);
    expect(refused.headers["www-authenticate"]).toBe('Basic realm="claude-bus"');
    expect((await post(bravo, "bravo")).status).toBe(201);
    expect((await request(bus.url, "/machines/alpha/revoke", { method: "POST" })).json.already).toBe(true);
    expect((await request(bus.url, "/machines/nobody/revoke", { method: "POST" })).status).toBe(404);

    const { machines } = await machinesList();
    const alphaCredential = machines.find((m: { name: string }) => m.name === "alpha").credential;
    expect(alphaCredential).toEqual({ issued: expect.any(String), rotated: null, last_used: expect.any(String), revoked: revoked.json.revoked });
  });

  it("answers a long-poll held for a machine revoked while it waited with a 401, not the message", async () => {
    const alpha = await enroll("alpha");
    const waiting = new Promise<{ status: number; text: string }>((resolve, reject) => {
      http
        .get(`${bus.url}/messages?to=alpha&wait=30`, { headers: { Authorization: basicAuth(...alpha) }, agent: false }, (res) => {
          let text = "";
          res.on("data", (d) => (text += d));
          res.on("end", () => resolve({ status: res.statusCode!, text }));
        })
        .on("error", reject);
    });
    while (bus.waiting() === 0) await new Promise((r) => setTimeout(r, 10));
    await request(bus.url, "/machines/alpha/revoke", { method: "POST" });
    await postJson(bus.url, "/post", { from: "ops", to: "alpha", body: "secret plans" });
    const answer = await waiting;
    expect(answer.status).toBe(401);
    expect(answer.text).not.toContain("secret plans");
  });

  it("ends a long-poll held for a machine the moment it is revoked, with no message posted and its wait far from over", async () => {
    const alpha = await enroll("alpha");
    const answer = new Promise<number>((resolve, reject) => {
      http
        .get(`${bus.url}/messages?to=alpha&wait=60`, { headers: { Authorization: basicAuth(...alpha) }, agent: false }, (res) => resolve(res.statusCode!))
        .on("error", reject);
    });
    while (bus.waiting() === 0) await new Promise((r) => setTimeout(r, 10));
    await request(bus.url, "/machines/alpha/revoke", { method: "POST" });
    expect(await answer).toBe(401); // held 60 s otherwise: the test's own timeout would end it first
    expect(bus.waiting()).toBe(0);
  });

  it("lets a revoked name be invited and enrolled again, with a new secret", async () => {
    const old = await enroll("phone");
    await request(bus.url, "/machines/phone/revoke", { method: "POST" });
    const fresh = await enroll("phone");
    expect(fresh[1]).not.toBe(old[1]);
    expect((await health(fresh)).status).toBe(200);
    expect((await health(old)).status).toBe(401);
  });
});

describe("rotation of a machine's secret", () => {
  beforeEach(async () => {
    bus = await startBus();
  });

  it("issues a new secret; the old one works until the new one is first used, then never again", async () => {
    const old = await enroll("alpha");
    const rotated = await request(bus.url, "/machines/alpha/rotate", { method: "POST", auth: old });
    expect(rotated.status).toBe(200);
    expect(rotated.headers["cache-control"]).toBe("no-store");
    const fresh: Auth = ["alpha", rotated.json.pass];
    expect(fresh[1]).toMatch(/^[A-Za-z0-9]{32}$/);
    expect((await health(old)).status).toBe(200);
    expect((await health(fresh)).status).toBe(200);
    expect((await health(old)).status).toBe(401);
    expect((await health(fresh)).status).toBe(200);
    const { machines } = await machinesList();
    expect(machines.find((m: { name: string }) => m.name === "alpha").credential.rotated).toEqual(expect.any(String));
  });

  it("rotates only the caller's own secret, and not with the team credential", async () => {
    await enroll("alpha");
    const bravo = await enroll("bravo");
    expect((await request(bus.url, "/machines/alpha/rotate", { method: "POST", auth: bravo })).json).toEqual({
      error: `"bravo" may rotate only its own secret, not "alpha"'s`,
    });
    expect((await request(bus.url, "/machines/alpha/rotate", { method: "POST" })).status).toBe(403);
  });
});

describe("the admin-only team credential", () => {
  beforeEach(async () => {
    bus = await startBus({ teamCredential: "admin-only" });
  });

  it("invites, lists, revokes and backs up, but neither posts, acks nor reads", async () => {
    const alpha = await enroll("alpha");
    const { json: message } = await post(alpha, "alpha");
    for (const refused of [
      await postJson(bus.url, "/post", { from: "alpha", body: "x" }),
      await request(bus.url, "/messages"),
      await postJson(bus.url, "/ack", { reader: "alpha", ids: [message.id] }),
      await postJson(bus.url, `/ack/${message.id}`, { reader: "alpha" }),
    ]) {
      expect(refused.status).toBe(403);
      expect(refused.json.error).toMatch(/^the team credential is admin-only on this bus: (post|read|ack) with a machine's credential$/);
    }
    expect((await health(null)).status).toBe(401);
    expect((await request(bus.url, "/health")).status).toBe(200);
    expect((await request(bus.url, "/machines")).status).toBe(200);
    expect((await request(bus.url, "/backup")).status).toBe(200);
    expect((await request(bus.url, "/machines/alpha/revoke", { method: "POST" })).status).toBe(200);
  });
});

describe("guessing", () => {
  beforeEach(async () => {
    bus = await startBus();
  });
  const wrong = (i: number): Auth => ["claude", `wrong-password-${i}-0123456789abc`];

  it("answers 429 with Retry-After to an address after 10 different wrong credentials, the right one included", async () => {
    for (let i = 0; i < 10; i++) expect((await health(wrong(i))).status).toBe(401);
    const blocked = await request(bus.url, "/health");
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers["retry-after"])).toBeGreaterThan(290);
    expect(blocked.json.error).toMatch(/^too many failed logins from this address; try again in \d+ s$/);
    expect(bus.logs.some((l) => JSON.parse(l).msg === "login: address blocked")).toBe(true);
  });

  it("does not block a client that retries one stale credential, nor one without a credential", async () => {
    for (let i = 0; i < 30; i++) expect((await health(wrong(0))).status).toBe(401);
    for (let i = 0; i < 30; i++) expect((await health(null)).status).toBe(401);
    expect((await request(bus.url, "/health")).status).toBe(200);
  });

  it("counts wrong invite codes too", async () => {
    const code = await invite("target");
    for (let i = 0; i < 10; i++) {
      const guess = `Guess-${String(i).padStart(5, "0")}-abcde-fghij`;
      expect((await postJson(bus.url, "/enroll", { code: guess }, { auth: null })).status).toBe(403);
    }
    expect((await postJson(bus.url, "/enroll", { code }, { auth: null })).status).toBe(429);
  });

  it("behind the proxy, counts by the address nginx passes in X-Real-IP from loopback", async () => {
    await bus.close();
    bus = await startBus({ behindProxy: true });
    const from = (address: string) => ({ "X-Real-IP": address });
    for (let i = 0; i < 10; i++) await request(bus.url, "/health", { auth: wrong(i), headers: from("198.51.100.7") });
    expect((await request(bus.url, "/health", { headers: from("198.51.100.7") })).status).toBe(429);
    expect((await request(bus.url, "/health", { headers: from("198.51.100.8") })).status).toBe(200);
    expect((await request(bus.url, "/health")).status).toBe(200);
  });

  it("not behind the proxy, counts by the socket's address: a new X-Real-IP per request does not dodge the lockout", async () => {
    for (let i = 0; i < 10; i++) {
      expect((await request(bus.url, "/health", { auth: wrong(i), headers: { "X-Real-IP": `198.51.100.${i + 1}` } })).status).toBe(401);
    }
    const blocked = await request(bus.url, "/health", { headers: { "X-Real-IP": "203.0.113.99" } });
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers["retry-after"])).toBeGreaterThan(290);
    expect((await request(bus.url, "/health")).status).toBe(429);
  });
});

describe("what is kept", () => {
  it("keeps enrollments, revocations, rotations, used codes and last use across a restart, and never logs a secret", async () => {
    bus = await startBus();
    const alpha = await enroll("alpha");
    const bravo = await enroll("bravo");
    const code = await invite("charlie");
    const used = await invite("delta");
    expect((await postJson(bus.url, "/enroll", { code: used }, { auth: null })).status).toBe(201);
    await request(bus.url, "/machines/bravo/revoke", { method: "POST" });
    const rotated = (await request(bus.url, "/machines/alpha/rotate", { method: "POST", auth: alpha })).json.pass;
    expect((await health(["alpha", rotated])).status).toBe(200);
    const before = await machinesList();
    const logs = bus.logs.join("\n");
    await bus.close();

    for (const secret of [alpha[1], bravo[1], code, used, rotated]) {
      expect(logs).not.toContain(secret);
      expect(fs.readFileSync(path.join(bus.dataDir, MACHINES_FILE), "utf8")).not.toContain(secret);
    }
    expect(logs).toMatch(/"msg":"machine enrolled","machine":"alpha"/);
    expect(logs).toMatch(/"msg":"machine revoked","machine":"bravo"/);
    expect(logs).toMatch(/"msg":"machine secret rotating","machine":"alpha"/);

    bus = await startBus({ dataDir: bus.dataDir });
    expect(await machinesList()).toEqual(before);
    expect((await health(["alpha", rotated])).status).toBe(200);
    expect((await health(alpha)).status).toBe(401);
    expect((await health(bravo)).status).toBe(401);
    expect((await postJson(bus.url, "/enroll", { code: used }, { auth: null })).status).toBe(403);
    expect((await postJson(bus.url, "/enroll", { code }, { auth: null })).status).toBe(201);
  });

  it("writes nothing for a request without a working credential, not even at shutdown", async () => {
    bus = await startBus();
    await postJson(bus.url, "/post", { from: "a", body: "before" });
    await bus.close(); // what the first bus had to save (presence at shutdown) is saved
    bus = await startBus({ dataDir: bus.dataDir });
    /** Every file under the data dir and its content. */
    const files = () =>
      (fs.readdirSync(bus.dataDir, { recursive: true }) as string[])
        .map((name) => path.join(bus.dataDir, name))
        .filter((file) => fs.statSync(file).isFile())
        .map((file) => [path.relative(bus.dataDir, file), fs.readFileSync(file, "utf8")]);
    const before = files();
    expect((await postJson(bus.url, "/post", { from: "a", body: "x" }, { auth: ["claude", "wrong-password-0123456789abcdef"] })).status).toBe(401);
    expect((await postJson(bus.url, "/post", { from: "a", body: "x" }, { auth: ["a", "wrong-password-0123456789abcdef"] })).status).toBe(401);
    expect((await postJson(bus.url, "/enroll", { code: "Abcde-12345-Fghij-67890" }, { auth: null })).status).toBe(403);
    expect((await request(bus.url, "/machines/a/revoke", { method: "POST", auth: null })).status).toBe(401);
    expect((await request(bus.url, "/files?name=x", { method: "POST", auth: null, body: Buffer.alloc(1024) })).status).toBe(401);
    await bus.close();
    expect(files()).toEqual(before);
  });

  it("refuses to start on a damaged line, which could be a revocation, and drops a torn last line", async () => {
    bus = await startBus();
    await enroll("alpha");
    await bus.close();
    const file = path.join(bus.dataDir, MACHINES_FILE);
    const good = fs.readFileSync(file, "utf8");
    fs.writeFileSync(file, `${good}{"event":"revoked","name":"al\n`);
    await expect(startBus({ dataDir: bus.dataDir })).rejects.toThrow(/machines\.jsonl: line 3 is damaged; fix or remove it/);
    fs.writeFileSync(file, `${good}{"event":"revoked","na`);
    bus = await startBus({ dataDir: bus.dataDir });
    expect(bus.logs.join("\n")).toMatch(/a torn last line/);
    expect((await machinesList()).machines.map((m: { name: string; credential: { revoked: unknown } }) => [m.name, m.credential.revoked])).toEqual([
      ["alpha", null],
    ]);
  });

  it("is in the backup, which restores machines that still sign in and revocations that still hold", async () => {
    bus = await startBus();
    const alpha = await enroll("alpha");
    const bravo = await enroll("bravo");
    await request(bus.url, "/machines/bravo/revoke", { method: "POST" });
    const backup = await new Promise<Buffer>((resolve, reject) => {
      http
        .get(`${bus.url}/backup`, { headers: { Authorization: basicAuth(bus.user, bus.pass) } }, (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c)).on("end", () => resolve(Buffer.concat(chunks)));
        })
        .on("error", reject);
    });
    expect(zlib.gunzipSync(backup).includes(Buffer.from('"event":"revoked"'))).toBe(true);
    await bus.close();
    const restored = tempDir("restored");
    await restoreBackup(backup, restored, { force: false });
    bus = await startBus({ dataDir: restored });
    expect((await health(alpha)).status).toBe(200);
    expect((await health(bravo)).status).toBe(401);
  });
});

describe("Membership, the store beneath", () => {
  it("refuses a code once it expires, saying when, and keeps the invite unused", async () => {
    const dir = tempDir("membership");
    const membership = await Membership.open(dir, () => undefined);
    const t = Date.parse("2026-11-29T12:00:00Z");
    const { code } = await membership.invite("late", 60_000, t);
    await expect(membership.enroll(code, t + 60_000)).rejects.toThrow("the invite code expired at 2026-11-29T12:01:00.000Z; ask for a new one");
    await expect(membership.enroll(code, t + 59_999)).resolves.toEqual({ name: "late", pass: expect.any(String), kind: "machine", admin: false });
    await membership.close();
  });

  it("takes changes one at a time: a revoke or a new invite that comes while an enrollment is being written waits for it", async () => {
    const membership = await Membership.open(tempDir("membership"), () => undefined);
    const { code } = await membership.invite("laptop", 3_600_000);
    const enrolling = membership.enroll(code);
    const revoked = membership.revoke("laptop");
    const { pass } = await enrolling;
    expect(await revoked).toEqual({ already: false, time: expect.any(Number) });
    expect(membership.check("laptop", Buffer.from(pass))).toBe(false);

    const desk = await membership.invite("desk", 3_600_000);
    const enrollingDesk = membership.enroll(desk.code);
    const second = membership.invite("desk", 3_600_000);
    const { pass: deskPass } = await enrollingDesk;
    await expect(second).rejects.toThrow('"desk" is already enrolled; revoke it first');
    expect(membership.check("desk", Buffer.from(deskPass))).toBe(true);
    await membership.close();
  });

  it("rewrites a file that is mostly history as the state it adds up to", async () => {
    const dir = tempDir("membership");
    let membership = await Membership.open(dir, () => undefined);
    const { code } = await membership.invite("busy", 3_600_000);
    const { pass } = await membership.enroll(code);
    let secret = pass;
    for (let i = 0; i < 100; i++) {
      const next = await membership.rotate("busy");
      expect(membership.check("busy", Buffer.from(next))).toBe(true);
      secret = next;
    }
    await membership.close();
    const file = path.join(dir, MACHINES_FILE);
    expect(fs.readFileSync(file, "utf8").split("\n").length).toBeGreaterThan(200);
    membership = await Membership.open(dir, () => undefined);
    expect(
      fs
        .readFileSync(file, "utf8")
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l).event),
    ).toEqual(["enrolled", "rotated"]);
    expect(membership.check("busy", Buffer.from(secret))).toBe(true);
    expect(membership.check("busy", Buffer.from(pass))).toBe(false);
    await membership.close();
  });
});
