/**
 * Names cannot impersonate, and a message says whose credential sent it, over real HTTP on real files:
 * the broadcast address, the team user and look-alikes that differ only in case are refused at invite
 * and as a post's `from`; a post with the sender's own credential is `verified`, one with the team
 * credential is not.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { startBus, type TestBus, fileLines } from "../support/bus";
import { postJson, request } from "../support/http";

let bus: TestBus;
beforeEach(async () => {
  bus = await startBus();
});
afterEach(() => bus?.close());

type Auth = [string, string];

async function enroll(name: string): Promise<Auth> {
  const invited = await postJson(bus.url, "/invites", { name });
  expect(invited.status).toBe(201);
  const r = await postJson(bus.url, "/enroll", { code: invited.json.code }, { auth: null });
  expect(r.status).toBe(201);
  return [r.json.user, r.json.pass];
}

const post = (from: string, auth?: Auth) => postJson(bus.url, "/post", { from, body: "hello" }, { auth });
const inviteOf = (name: string) => postJson(bus.url, "/invites", { name });

describe("names that would impersonate", () => {
  it.each(["any", "ANY", "Any"])("refuses to invite %j, the broadcast address", async (name) => {
    const r = await inviteOf(name);
    expect(r.status).toBe(400);
    expect(r.json.error).toBe(`name: "${name}" is the broadcast address "any", never a machine's name`);
  });

  it.each(["claude", "Claude", "CLAUDE"])("refuses to invite %j beside the team user claude", async (name) => {
    const r = await inviteOf(name);
    expect(r.status).toBe(409);
    expect(r.json.error).toMatch(new RegExp(`^name: "${name}" (is|differs only in case from) the team credential's user`));
  });

  it("refuses to invite Alice beside an enrolled alice, and ALICE beside an invited one", async () => {
    await enroll("alice");
    const r = await inviteOf("Alice");
    expect(r.status).toBe(409);
    expect(r.json.error).toBe(`name: "Alice" differs only in case from the machine "alice"; choose another machine name`);
    expect((await inviteOf("bob")).status).toBe(201);
    expect((await inviteOf("BOB")).json.error).toMatch(/differs only in case from the machine "bob"/);
    // A revoked machine keeps its name: a look-alike would pass for it in the history.
    await request(bus.url, "/machines/alice/revoke", { method: "POST" });
    expect((await inviteOf("ALICE")).status).toBe(409);
    // Its own name it gets back.
    expect((await inviteOf("alice")).status).toBe(201);
  });

  it("refuses to invite a look-alike of a name that posted with the team credential, but enrolls that exact name", async () => {
    expect((await post("ccwhitebee")).status).toBe(201);
    expect((await inviteOf("CCWhitebee")).json.error).toBe(
      `name: "CCWhitebee" differs only in case from "ccwhitebee", a sender on this bus; choose another machine name`,
    );
    expect((await inviteOf("ccwhitebee")).status).toBe(201);
  });

  it("refuses from: any, the team user and look-alikes of machines and senders, and keeps every existing name working", async () => {
    const alice = await enroll("alice");
    const any = await post("any");
    expect(any.status).toBe(400);
    expect(any.json.error).toBe(`from: "any" is the broadcast address "any", never a machine's name`);
    expect((await post("claude")).status).toBe(409);
    expect((await post("Claude")).json.error).toMatch(/^from: "Claude" differs only in case from the team credential's user "claude"/);
    const lookAlike = await post("Alice");
    expect(lookAlike.status).toBe(409);
    expect(lookAlike.json.error).toBe(`from: "Alice" differs only in case from the machine "alice"; choose another machine name`);
    // The seed's names, and any new one, still post with the team credential; the machine posts as itself.
    expect((await post("ccwhitebee")).status).toBe(201);
    expect((await post("brand-new")).status).toBe(201);
    expect((await post("CCWHITEBEE")).status).toBe(409);
    expect((await post("alice")).status).toBe(201);
    expect((await post("alice", alice)).status).toBe(201);
  });

  it("lets names that already differed only in case before this rule keep posting", async () => {
    const lines = [
      { id: "1", ts: "2026-01-01T00:00:00.000Z", from: "dave", to: "any", body: "a", tags: [], read_by: ["dave"], thread: "1" },
      { id: "2", ts: "2026-01-01T00:00:01.000Z", from: "Dave", to: "any", body: "b", tags: [], read_by: ["Dave"], thread: "2" },
    ];
    await bus.close();
    fs.writeFileSync(path.join(bus.dataDir, "bus.jsonl"), lines.map((l) => `${JSON.stringify(l)}\n`).join(""));
    bus = await startBus({ dataDir: bus.dataDir });
    expect((await post("dave")).status).toBe(201);
    expect((await post("Dave")).status).toBe(201);
    expect((await post("DAVE")).status).toBe(409);
  });
});

describe("verified", () => {
  it("marks a post with the sender's own credential verified, in the answer, the store and every read; the team credential's post is only claimed", async () => {
    const laptop = await enroll("laptop");
    const own = await post("laptop", laptop);
    expect(own.status).toBe(201);
    expect(own.json.verified).toBe(true);
    const claimed = await post("laptop");
    expect(claimed.status).toBe(201);
    expect("verified" in claimed.json).toBe(false);
    const stored = fileLines(path.join(bus.dataDir, "bus.jsonl")).map((l) => JSON.parse(l));
    expect(stored.map((m) => m.verified)).toEqual([true, undefined]);
    const read = async () => (await request(bus.url, "/messages", { auth: laptop })).json.messages.map((m: Record<string, unknown>) => m.verified);
    expect(await read()).toEqual([true, undefined]);
    // The fast start-up path reads the line with the flag, and the flag survives the restart.
    await bus.close();
    bus = await startBus({ dataDir: bus.dataDir });
    expect(await read()).toEqual([true, undefined]);
    expect(bus.logs.join("\n")).not.toMatch(/damaged/);
  });

  it("answers a replayed post as it was stored, and refuses the same key from the other kind of credential", async () => {
    const laptop = await enroll("laptop");
    const key = { "Idempotency-Key": "k-1" };
    const first = await postJson(bus.url, "/post", { from: "laptop", body: "once" }, { auth: laptop, headers: key });
    const again = await postJson(bus.url, "/post", { from: "laptop", body: "once" }, { auth: laptop, headers: key });
    expect([again.status, again.json]).toEqual([200, first.json]);
    const team = await postJson(bus.url, "/post", { from: "laptop", body: "once" }, { headers: key });
    expect(team.status).toBe(422);
  });
});
