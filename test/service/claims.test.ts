/**
 * Claims over real HTTP on real files: racing claimers, renewal, expiry, release (own, another's, forced),
 * the wait form, filters, bounds, and fencing tokens that only grow across a restart, a compaction and a
 * kill -9 of the shipped bundle.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { MAX_CLAIMS_PER_HOLDER } from "../../contract/defaults";
import { CLAIMS_FILE, ClaimStore } from "../../service/claims/claimStore";
import { buildBundle, fileLines, spawnBus, startBus, type TestBus } from "../support/bus";
import { PASS, postJson, request, USER } from "../support/http";
import { tempDir } from "../support/tempDir";

type Auth = [string, string];
let bus: TestBus;
afterEach(() => bus?.close());

const claim = (body: Record<string, unknown>, auth?: Auth) => postJson(bus.url, "/claims", body, { auth });
const release = (body: Record<string, unknown>, auth?: Auth) => postJson(bus.url, "/claims/release", body, { auth });
const list = async (query = "") => (await request(bus.url, `/claims${query}`)).json.claims as Array<Record<string, unknown>>;

async function enroll(name: string): Promise<Auth> {
  const invite = await postJson(bus.url, "/invites", { name });
  const r = await postJson(bus.url, "/enroll", { code: invite.json.code }, { auth: null });
  expect(r.status).toBe(201);
  return [r.json.user, r.json.pass];
}

describe("claims", () => {
  beforeEach(async () => {
    bus = await startBus();
  });

  it("100 racing claimers of one resource: exactly one wins, the others get 409 naming the winner", async () => {
    const answers = await Promise.all(Array.from({ length: 100 }, (_, i) => claim({ resource: "task:deploy-staging", ttl: 60, holder: `m${i}` })));
    const winners = answers.filter((r) => r.status === 201);
    expect(winners).toHaveLength(1);
    const winner = winners[0].json;
    expect(answers.filter((r) => r.status === 409)).toHaveLength(99);
    for (const r of answers.filter((a) => a.status === 409)) {
      expect(r.json.held_by).toEqual(winner);
      expect(r.json.error).toContain(`claimed by "${winner.holder}"`);
    }
    expect(await list()).toEqual([winner]);
  });

  it("a claim answers 201 with its token and expiry; a renewal by the holder keeps the token and moves expires", async () => {
    const first = await claim({ resource: "repo:infra/volume.ts", ttl: 60, holder: "alpha", note: "resizing" });
    expect(first.status).toBe(201);
    expect(first.json).toEqual({
      resource: "repo:infra/volume.ts",
      holder: "alpha",
      token: expect.any(Number),
      claimed: expect.any(String),
      expires: expect.any(String),
      note: "resizing",
    });
    const renewed = await claim({ resource: "repo:infra/volume.ts", ttl: 3600, holder: "alpha" });
    expect(renewed.status).toBe(200);
    expect(renewed.json.token).toBe(first.json.token);
    expect(renewed.json.claimed).toBe(first.json.claimed);
    expect(renewed.json.note).toBe("resizing");
    expect(Date.parse(renewed.json.expires)).toBeGreaterThan(Date.parse(first.json.expires));
    const other = await claim({ resource: "repo:infra/other.ts", ttl: 60, holder: "alpha" });
    expect(other.json.token).toBeGreaterThan(first.json.token);
  });

  it("a release by the holder frees it, another's is 403, a forced one by the team credential is recorded; tokens grow", async () => {
    const [, alphaPass] = await enroll("alpha");
    const alpha: Auth = ["alpha", alphaPass];
    const beta: Auth = ["beta", (await enroll("beta"))[1]];
    const first = await claim({ resource: "task:a", ttl: 60 }, alpha);
    expect(first.status).toBe(201);
    expect(first.json.holder).toBe("alpha");
    expect((await claim({ resource: "task:a", ttl: 60, holder: "beta" }, alpha)).status).toBe(403);

    const refused = await release({ resource: "task:a" }, beta);
    expect(refused.status).toBe(403);
    expect(refused.json.error).toContain('claimed by "alpha"');
    expect((await release({ resource: "task:a", force: true }, beta)).status).toBe(403);
    expect((await list("?resource=task:a")).map((c) => c.holder)).toEqual(["alpha"]);

    const stale = await release({ resource: "task:a", token: first.json.token + 1 }, alpha);
    expect(stale.status).toBe(409);
    const own = await release({ resource: "task:a", token: first.json.token }, alpha);
    expect(own.status).toBe(200);
    expect(own.json).toEqual({ resource: "task:a", released: true, claim: first.json });
    expect((await release({ resource: "task:a" }, alpha)).json).toEqual({ resource: "task:a", released: false });

    const second = await claim({ resource: "task:a", ttl: 60 }, beta);
    expect(second.status).toBe(201);
    expect(second.json.token).toBeGreaterThan(first.json.token);
    expect((await release({ resource: "task:a", holder: "alpha" })).status).toBe(403);
    const forced = await release({ resource: "task:a", force: true });
    expect(forced.status).toBe(200);
    expect(forced.json).toMatchObject({ released: true, forced: true, claim: { holder: "beta", token: second.json.token } });
    const events = fileLines(path.join(bus.dataDir, CLAIMS_FILE)).map((l) => JSON.parse(l));
    expect(events.at(-1)).toMatchObject({ event: "released", resource: "task:a", token: second.json.token, by: "~team", forced: true });
    expect(bus.logs.some((l) => l.includes('"msg":"claim broken"') && l.includes('"holder":"beta"'))).toBe(true);
    expect(await list()).toEqual([]);
  });

  it("an admin person may break a claim too; a person who is not admin may not", async () => {
    const member = async (name: string, admin: boolean): Promise<Auth> => {
      const invite = await postJson(bus.url, "/invites", { name, kind: "person", ...(admin && { admin: true }) });
      const r = await postJson(bus.url, "/enroll", { code: invite.json.code }, { auth: null });
      expect(r.status).toBe(201);
      return [r.json.user, r.json.pass];
    };
    const gamma: Auth = ["gamma", (await enroll("gamma"))[1]];
    const held = await claim({ resource: "task:b", ttl: 60 }, gamma);
    expect(held.status).toBe(201);
    const plain = await release({ resource: "task:b", force: true }, await member("ada", false));
    expect(plain.status).toBe(403);
    expect(plain.json.error).toContain("only the team credential or an admin person may break");
    const forced = await release({ resource: "task:b", force: true }, await member("grace", true));
    expect(forced.status).toBe(200);
    expect(forced.json).toMatchObject({ released: true, forced: true, claim: { holder: "gamma", token: held.json.token } });
    const events = fileLines(path.join(bus.dataDir, CLAIMS_FILE)).map((l) => JSON.parse(l));
    expect(events.at(-1)).toMatchObject({ event: "released", resource: "task:b", by: "grace", forced: true });
  });

  it("refuses a bad resource, ttl or note with a 400 that says what is wrong, and stores nothing", async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ resource: "", ttl: 60, holder: "a" }, "resource: must be 1 to 512 printable characters"],
      [{ resource: "x".repeat(513), ttl: 60, holder: "a" }, "resource: must be 1 to 512"],
      [{ resource: "a\nb", ttl: 60, holder: "a" }, "no control characters"],
      [{ resource: "a\u0000", ttl: 60, holder: "a" }, "no control characters"],
      [{ resource: "r", ttl: 4, holder: "a" }, "ttl: must be a whole number of seconds from 5 to 86400"],
      [{ resource: "r", ttl: 86_401, holder: "a" }, "ttl: must be a whole number"],
      [{ resource: "r", ttl: 5.5, holder: "a" }, "ttl: must be a whole number"],
      [{ resource: "r", ttl: "60", holder: "a" }, "ttl: must be a whole number"],
      [{ resource: "r", ttl: 60 }, "holder is required with the team credential"],
      [{ resource: "r", ttl: 60, holder: "a", note: "n".repeat(1025) }, "note: must be at most 1024"],
      [{ resource: "r", ttl: 60, holder: "a", extra: 1 }, "extra: unknown field"],
    ];
    for (const [body, error] of cases) {
      const r = await claim(body);
      expect([body, r.status]).toEqual([body, 400]);
      expect(r.json.error).toContain(error);
    }
    expect((await claim({ resource: "é".repeat(512), ttl: 5, holder: "a" })).status).toBe(201);
    expect((await claim({ resource: "r", ttl: 86_400, holder: "a" })).status).toBe(201);
    expect((await request(bus.url, "/claims?wait=5")).json.error).toContain("wait: needs resource");
    expect((await request(bus.url, "/claims?resource=r&wait=61")).status).toBe(400);
    expect((await request(bus.url, "/claims", { method: "DELETE" })).status).toBe(405);
  });

  it("lists live claims by holder and by prefix", async () => {
    await claim({ resource: "repo:a/1.ts", ttl: 60, holder: "alpha" });
    await claim({ resource: "repo:b/2.ts", ttl: 60, holder: "beta" });
    await claim({ resource: "task:x", ttl: 60, holder: "alpha" });
    expect((await list()).map((c) => c.resource)).toEqual(["repo:a/1.ts", "repo:b/2.ts", "task:x"]);
    expect((await list("?holder=alpha")).map((c) => c.resource)).toEqual(["repo:a/1.ts", "task:x"]);
    expect((await list("?prefix=repo:")).map((c) => c.resource)).toEqual(["repo:a/1.ts", "repo:b/2.ts"]);
    expect((await list(`?prefix=${encodeURIComponent("repo:b/")}&holder=alpha`)).map((c) => c.resource)).toEqual([]);
  });

  it("the wait form answers once the resource is released, not before", async () => {
    await claim({ resource: "task:w", ttl: 600, holder: "alpha" });
    let answered = false;
    const waiting = request(bus.url, `/claims?resource=task:w&wait=30`).then((r) => {
      answered = true;
      return r;
    });
    // Requests that come after it are answered while it still holds.
    for (let i = 0; i < 5; i++) expect((await list("?resource=task:w")).length).toBe(1);
    expect(answered).toBe(false);
    expect((await release({ resource: "task:w", holder: "alpha" })).json.released).toBe(true);
    const r = await waiting;
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ claims: [] });
  });

  it("the wait form answers when the claim expires, and a free resource answers at once", async () => {
    const short = await claim({ resource: "task:e", ttl: 5, holder: "alpha" });
    expect(short.status).toBe(201);
    const r = await request(bus.url, `/claims?resource=task:e&wait=30`);
    expect(r.json).toEqual({ claims: [] });
    expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(short.json.expires));
    // Expired: another holder takes it under a new token.
    const next = await claim({ resource: "task:e", ttl: 60, holder: "beta" });
    expect(next.status).toBe(201);
    expect(next.json.token).toBeGreaterThan(short.json.token);
  });

  it("a claim wait counts among the credential's long-polls", async () => {
    await bus.close();
    bus = await startBus({ maxLongPolls: 1 });
    await claim({ resource: "task:slot", ttl: 600, holder: "alpha" });
    const held = request(bus.url, `/claims?resource=task:slot&wait=30`);
    let second = await request(bus.url, `/messages?wait=30`);
    for (let i = 0; i < 50 && second.status !== 429; i++) second = await request(bus.url, `/messages?wait=30`);
    expect(second.status).toBe(429);
    expect(second.headers["retry-after"]).toBeDefined();
    await release({ resource: "task:slot", holder: "alpha" });
    expect((await held).json).toEqual({ claims: [] });
  });

  it(`one holder holds at most ${MAX_CLAIMS_PER_HOLDER} live claims; beyond, 507 that says so and nothing is stored`, async () => {
    for (let batch = 0; batch < MAX_CLAIMS_PER_HOLDER / 100; batch++) {
      const answers = await Promise.all(Array.from({ length: 100 }, (_, i) => claim({ resource: `r${batch * 100 + i}`, ttl: 600, holder: "greedy" })));
      expect(answers.every((r) => r.status === 201)).toBe(true);
    }
    const over = await claim({ resource: "one-more", ttl: 600, holder: "greedy" });
    expect(over.status).toBe(507);
    expect(over.json.error).toContain(`"greedy" holds ${MAX_CLAIMS_PER_HOLDER} live claims`);
    expect((await list("?resource=one-more")).length).toBe(0);
    expect((await claim({ resource: "one-more", ttl: 600, holder: "modest" })).status).toBe(201);
    // A renewal is no new claim.
    expect((await claim({ resource: "r0", ttl: 600, holder: "greedy" })).status).toBe(200);
  });
});

describe("claims on disk", () => {
  it("survive a restart, tokens grow on after it, and the log is compacted as history piles up", async () => {
    bus = await startBus();
    const live = await claim({ resource: "task:keep", ttl: 3600, holder: "alpha", note: "kept" });
    let last = live.json.token as number;
    for (let i = 0; i < 560; i++) {
      const r = await claim({ resource: "task:churn", ttl: 60, holder: "beta" });
      expect(r.json.token).toBeGreaterThan(last);
      last = r.json.token;
      await release({ resource: "task:churn", holder: "beta" });
    }
    // 1,121 events, but the file holds the last token and the live claim, and what came after compaction.
    expect(fileLines(path.join(bus.dataDir, CLAIMS_FILE)).length).toBeLessThan(1_000);
    await bus.close();
    bus = await startBus({ dataDir: bus.dataDir });
    expect(await list()).toEqual([live.json]);
    const after = await claim({ resource: "task:churn", ttl: 60, holder: "beta" });
    expect(after.json.token).toBeGreaterThan(last);
  });

  it("a store whose claims all expired keeps its last token when compacted at start", async () => {
    const dir = tempDir("claims");
    let now = 1_000_000;
    const log = () => undefined;
    let store = await ClaimStore.open(dir, log, () => now);
    let last = 0;
    for (let i = 0; i < 1_200; i++) last = (await store.claim(`h${i % 10}`, `r${i}`, 5_000)).claim.token;
    await store.close();
    now += 10_000;
    store = await ClaimStore.open(dir, log, () => now);
    expect(store.list()).toEqual([]);
    expect(fileLines(path.join(dir, CLAIMS_FILE))).toEqual([JSON.stringify({ event: "tokens", last })]);
    expect((await store.claim("beta", "r0", 5_000)).claim.token).toBe(last + 1);
    await store.close();
  });

  it("a torn last line is cut off and a damaged line's token still counts", async () => {
    const dir = tempDir("claims");
    const file = path.join(dir, CLAIMS_FILE);
    fs.writeFileSync(
      file,
      `{"event":"claimed","resource":"a","holder":"x","token":41,"claimed":1,"expires":1,"time":1}\n{"event":"claimed","resource":"b","token":57,"damaged\n{"event":"claimed","reso`,
    );
    const logged: string[] = [];
    const store = await ClaimStore.open(dir, ({ msg }) => void logged.push(msg));
    expect(logged).toEqual(["damaged line kept in place and skipped", "claims.jsonl: a torn last line (a write a crash cut short) is dropped"]);
    expect((await store.claim("y", "c", 60_000)).claim.token).toBe(58);
    await store.close();
    expect(fileLines(file)).toHaveLength(3);
    expect(JSON.parse(fileLines(file)[2])).toMatchObject({ event: "claimed", resource: "c", token: 58 });
  });
});

describe("fencing tokens across kill -9", () => {
  it("after a SIGKILL during racing claims, every token answered stays below every token given after the restart", async () => {
    const bundle = await buildBundle();
    const dataDir = tempDir();
    const env = { PATH: process.env.PATH, BUS_USER: USER, BUS_PASS: PASS };
    const seen: number[] = [];
    const rounds: number[][] = [[], []];
    for (let round = 0; round < 2; round++) {
      const svc = await spawnBus(bundle, ["serve", "--port", "0", "--data", dataDir], env);
      let killed = false;
      const client = async (c: number) => {
        for (let i = 0; !killed; i++) {
          try {
            const r = await postJson(svc.url, "/claims", { resource: `r${round}-${c}-${i}`, ttl: 600, holder: `m${c}` });
            if (r.status !== 201) throw new Error(`unexpected ${r.status} ${r.text}`);
            seen.push(r.json.token);
            rounds[round].push(r.json.token);
            if (seen.length >= 300 * (round + 1) && !killed) {
              killed = true;
              svc.child.kill("SIGKILL");
            }
          } catch (error) {
            if (!killed) throw error;
          }
        }
      };
      await Promise.all(Array.from({ length: 16 }, (_, c) => client(c)));
      expect(await svc.exited).toEqual({ code: null, signal: "SIGKILL" });
    }
    expect(new Set(seen).size).toBe(seen.length);
    expect(Math.min(...rounds[1])).toBeGreaterThan(Math.max(...rounds[0]));
    const svc = await spawnBus(bundle, ["serve", "--port", "0", "--data", dataDir], env);
    try {
      const r = await postJson(svc.url, "/claims", { resource: "after", ttl: 600, holder: "m0" });
      expect(r.status).toBe(201);
      expect(r.json.token).toBeGreaterThan(Math.max(...seen));
      // Every claim answered before a kill is still there.
      const claims = (await request(svc.url, "/claims")).json.claims as Array<{ token: number }>;
      const kept = new Set(claims.map((c) => c.token));
      for (const token of seen) expect(kept.has(token)).toBe(true);
    } finally {
      await svc.stop();
    }
  });
});
