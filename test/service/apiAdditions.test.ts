/** Issue 12's additions over real HTTP on real files: long-poll, batch ack, replies and threads, tags, idempotent posts, presence. */
import * as fs from "node:fs";
import * as http from "node:http";
import * as path from "node:path";
import { startBus, type TestBus } from "../support/bus";
import { basicAuth, PASS, postJson, request, USER } from "../support/http";
import { waitFor } from "../support/waitFor";

type Msg = { id: string; from: string; to: string; body: string; tags: string[]; read_by: string[]; thread: string; reply_to?: string };

let bus: TestBus;
beforeEach(async () => {
  bus = await startBus();
});
afterEach(() => bus.close());

const post = async (m: Record<string, unknown>, headers: Record<string, string> = {}): Promise<Msg> => {
  const r = await postJson(bus.url, "/post", m, { headers });
  expect(r.status).toBe(201);
  return r.json;
};
const list = async (query: string): Promise<Msg[]> => {
  const r = await request(bus.url, `/messages${query}`);
  expect(r.status).toBe(200);
  return r.json.messages;
};
const ids = (ms: Msg[]) => ms.map((m) => m.id);

/** A GET that resolves with its answer and when it came; `abort` drops the connection. */
function longPoll(query: string): { answer: Promise<{ at: number; status: number; json: { messages: Msg[] } }>; abort(): void } {
  let req!: http.ClientRequest;
  const answer = new Promise<{ at: number; status: number; json: { messages: Msg[] } }>((resolve, reject) => {
    req = http.get(`${bus.url}/messages${query}`, { headers: { Authorization: basicAuth(USER, PASS) }, agent: false }, (res) => {
      let text = "";
      res.on("data", (d) => (text += d));
      res.on("end", () => resolve({ at: Date.now(), status: res.statusCode!, json: JSON.parse(text) }));
    });
    req.on("error", reject);
  });
  return { answer, abort: () => req.destroy() };
}

describe("long-poll: wait=N", () => {
  it.each([["61"], ["-1"], ["1.5"], ["soon"], ["100"]])("refuses wait=%s with a 400 that says the range", async (wait) => {
    const r = await request(bus.url, `/messages?wait=${wait}`);
    expect(r.status).toBe(400);
    expect(r.json.error).toBe("wait: must be a whole number of seconds from 0 to 60");
  });

  it("answers at once when there is something, and holds an empty answer until a matching post, which it then answers", async () => {
    const first = await post({ from: "a", to: "b", body: "already here" });
    const started = Date.now();
    expect(ids(await list("?to=b&wait=30"))).toEqual([first.id]);
    expect(Date.now() - started).toBeLessThan(5_000);

    const waiting = longPoll(`?to=b&since=${first.id}&wait=30`);
    let answered = false;
    void waiting.answer.then(() => (answered = true));
    await new Promise((r) => setTimeout(r, 300));
    expect(answered).toBe(false); // held: there is nothing for it yet
    const posted = Date.now();
    const second = await post({ from: "a", to: "b", body: "new" });
    const { at, json } = await waiting.answer;
    expect(ids(json.messages)).toEqual([second.id]);
    expect(at - posted).toBeLessThan(5_000); // woken by the post, not by its 30 s running out
  });

  it("is not woken by a post it does not match, and answers [] when its time is up", async () => {
    const waiting = longPoll("?to=b&unread_by=b&tag=deploy&wait=1");
    await post({ from: "a", to: "c", body: "to someone else", tags: ["deploy"] });
    await post({ from: "a", to: "b", body: "no tag" });
    await post({ from: "b", to: "b", body: "my own", tags: ["deploy"] });
    const { json } = await waiting.answer;
    expect(json).toEqual({ messages: [] });
  });

  it("wakes only the waiters a post matches", async () => {
    const forB = longPoll("?to=b&wait=30");
    const forC = longPoll("?to=c&wait=2");
    await new Promise((r) => setTimeout(r, 100));
    const m = await post({ from: "a", to: "b", body: "for b" });
    expect(ids((await forB.answer).json.messages)).toEqual([m.id]);
    expect((await forC.answer).json).toEqual({ messages: [] });
  });

  it("a broadcast wakes every recipient's waiter", async () => {
    const waiters = ["b", "c", "d"].map((name) => longPoll(`?to=${name}&unread_by=${name}&wait=30`));
    await new Promise((r) => setTimeout(r, 100));
    const m = await post({ from: "a", body: "all hands" });
    for (const w of waiters) expect(ids((await w.answer).json.messages)).toEqual([m.id]);
  });

  it("frees the waiter of a client that leaves", async () => {
    const waiting = longPoll("?to=b&wait=30");
    waiting.answer.catch(() => undefined);
    await waitFor("the request to wait", () => bus.waiting() === 1);
    waiting.abort();
    await waitFor("its waiter to be gone", () => bus.waiting() === 0);
    expect(bus.logs.some((l) => l.includes('"msg":"request abandoned","method":"GET","path":"/messages"'))).toBe(true);
    // A post now finds no one to wake: the bus keeps serving.
    await post({ from: "a", to: "b", body: "nobody waits" });
    expect((await request(bus.url, "/health")).status).toBe(200);
  });
});

describe("batch ack: POST /ack", () => {
  it("acks many ids in one write, sorting them into acked, already and unknown", async () => {
    const ms = await Promise.all([1, 2, 3, 4].map((i) => post({ from: "a", to: "b", body: `m${i}` })));
    expect((await postJson(bus.url, `/ack/${ms[0].id}`, { reader: "b" })).status).toBe(200);
    const acksBefore = fs.readFileSync(path.join(bus.dataDir, "acks.jsonl"), "utf8").split("\n").filter(Boolean).length;
    const r = await postJson(bus.url, "/ack", { reader: "b", ids: [ms[0].id, ms[1].id, ms[2].id, "999", ms[2].id] });
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ ok: true, reader: "b", acked: [ms[1].id, ms[2].id], already: [ms[0].id], unknown: ["999"] });
    const lines = fs.readFileSync(path.join(bus.dataDir, "acks.jsonl"), "utf8").split("\n").filter(Boolean);
    expect(lines.length - acksBefore).toBe(2);
    expect(ids(await list("?to=b&unread_by=b"))).toEqual([ms[3].id]);
  });

  it.each([
    [{ reader: "b" }, "ids is required: the ids of the messages read, 1 to 500"],
    [{ reader: "b", ids: [] }, "ids: must hold at least one id"],
    [{ reader: "b", ids: Array.from({ length: 501 }, (_, i) => String(i + 1)) }, "ids: must hold at most 500 ids"],
    [{ reader: "b", ids: ["x"] }, "ids[0]: must be a message id: a positive decimal integer"],
    [{ ids: ["1"] }, "reader is required: the machine name that read the messages"],
  ])("refuses %j with a 400 that says what is wrong", async (body, error) => {
    const r = await postJson(bus.url, "/ack", body);
    expect(r.status).toBe(400);
    expect(r.json).toEqual({ error });
  });
});

describe("replies and threads", () => {
  it("a reply carries reply_to and its conversation's thread; thread=ID returns the conversation oldest first", async () => {
    const root = await post({ from: "a", to: "b", body: "question" });
    const other = await post({ from: "c", body: "unrelated" });
    const answer = await post({ from: "b", to: "a", body: "answer", reply_to: root.id });
    const followUp = await post({ from: "a", to: "b", body: "thanks", reply_to: answer.id });
    expect(root.thread).toBe(root.id);
    expect(root.reply_to).toBeUndefined();
    expect(answer).toMatchObject({ thread: root.id, reply_to: root.id });
    expect(followUp).toMatchObject({ thread: root.id, reply_to: answer.id });
    expect(other.thread).toBe(other.id);
    expect(ids(await list(`?thread=${root.id}`))).toEqual([root.id, answer.id, followUp.id]);
    expect(ids(await list(`?thread=${root.id}&from=a`))).toEqual([root.id, followUp.id]);
    expect(ids(await list(`?thread=${root.id}&since=${root.id}&unread_by=a`))).toEqual([answer.id]);
    expect(await list(`?thread=${answer.id}`)).toEqual([]); // a reply starts no conversation
    // Stored as the API returned it: jq sees the conversation too.
    const stored = fs
      .readFileSync(path.join(bus.dataDir, "bus.jsonl"), "utf8")
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    expect(stored[2]).toMatchObject({ id: answer.id, thread: root.id, reply_to: root.id });
  });

  it("a reply to a message that does not exist is a 400 that says so, and stores nothing", async () => {
    const r = await postJson(bus.url, "/post", { from: "a", body: "to nothing", reply_to: "42" });
    expect(r.status).toBe(400);
    expect(r.json).toEqual({ error: 'reply_to: no message with id "42"' });
    expect((await request(bus.url, "/health")).json.count).toBe(0);
  });

  it("a line written before threads existed reads as its own thread", async () => {
    await bus.close();
    const old = { id: "1", ts: "2026-01-01T00:00:00.000Z", from: "a", to: "any", body: "from before", tags: [], read_by: ["a"] };
    fs.writeFileSync(path.join(bus.dataDir, "bus.jsonl"), `${JSON.stringify(old)}\n`);
    bus = await startBus({ dataDir: bus.dataDir });
    expect(await list("")).toEqual([{ ...old, read_at: { a: old.ts }, thread: "1" }]);
    const reply = await post({ from: "b", body: "reply", reply_to: "1" });
    expect(reply.thread).toBe("1");
    expect(ids(await list("?thread=1"))).toEqual(["1", reply.id]);
  });
});

describe("tag filter", () => {
  it("returns the messages carrying the tag, combined with every other filter", async () => {
    const a = await post({ from: "a", to: "b", body: "1", tags: ["deploy", "green"] });
    const b = await post({ from: "a", to: "c", body: "2", tags: ["deploy"] });
    const c = await post({ from: "c", body: "3", tags: ["build", "deploy"] });
    await post({ from: "a", to: "b", body: "4", tags: ["build"] });
    expect(ids(await list("?tag=deploy"))).toEqual([a.id, b.id, c.id]);
    expect(ids(await list("?tag=deploy&to=b"))).toEqual([a.id, c.id]);
    expect(ids(await list("?tag=deploy&from=a"))).toEqual([a.id, b.id]);
    expect(ids(await list(`?tag=deploy&since=${a.id}&limit=1`))).toEqual([b.id]);
    await postJson(bus.url, `/ack/${a.id}`, { reader: "b" });
    expect(ids(await list("?tag=deploy&to=b&unread_by=b"))).toEqual([c.id]);
    expect(await list("?tag=nothing")).toEqual([]);
    expect((await request(bus.url, `/messages?tag=${"x".repeat(33)}`)).status).toBe(400);
  });
});

describe("safe retries: Idempotency-Key", () => {
  const key = { "Idempotency-Key": "8f2d2b7e-5a10-4c5e-9a3e-6f1b3c2a9d41" };

  it("a repeat from the same sender answers the original with 200 and Idempotent-Replayed, and stores nothing", async () => {
    const first = await postJson(bus.url, "/post", { from: "a", body: "deploy started" }, { headers: key });
    expect(first.status).toBe(201);
    const again = await postJson(bus.url, "/post", { from: "a", body: "deploy started" }, { headers: key });
    expect(again.status).toBe(200);
    expect(again.headers["idempotent-replayed"]).toBe("true");
    expect(again.json).toEqual(first.json);
    expect((await request(bus.url, "/health")).json.count).toBe(1);
    // Another sender's key is its own.
    expect((await postJson(bus.url, "/post", { from: "b", body: "deploy started" }, { headers: key })).status).toBe(201);
    // The API never shows the key; the line on disk keeps it, for restarts.
    expect(first.text).not.toContain(key["Idempotency-Key"]);
    expect(fs.readFileSync(path.join(bus.dataDir, "bus.jsonl"), "utf8")).toContain(`"idempotency_key":"${key["Idempotency-Key"]}"`);
  });

  it("the same key with a different message is a 422 that says so", async () => {
    await postJson(bus.url, "/post", { from: "a", body: "one" }, { headers: key });
    const other = await postJson(bus.url, "/post", { from: "a", body: "two" }, { headers: key });
    expect(other.status).toBe(422);
    expect(other.json.error).toBe("this Idempotency-Key was used for another message (#1): a retry must repeat the same request");
  });

  it("concurrent repeats make one message", async () => {
    const answers = await Promise.all(Array.from({ length: 10 }, () => postJson(bus.url, "/post", { from: "a", body: "once" }, { headers: key })));
    expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 200, 201]);
    expect(new Set(answers.map((a) => a.json.id))).toEqual(new Set(["1"]));
  });

  it("survives a restart", async () => {
    const first = await postJson(bus.url, "/post", { from: "a", body: "before restart" }, { headers: key });
    await bus.close();
    bus = await startBus({ dataDir: bus.dataDir });
    const again = await postJson(bus.url, "/post", { from: "a", body: "before restart" }, { headers: key });
    expect([again.status, again.json.id]).toEqual([200, first.json.id]);
  });

  it("replays within 24 hours of the first post and not after, counted from the stored time across a restart", async () => {
    const old = await postJson(bus.url, "/post", { from: "a", body: "posted 25 h ago" }, { headers: { "Idempotency-Key": "k-old" } });
    const young = await postJson(bus.url, "/post", { from: "a", body: "posted 23 h ago" }, { headers: { "Idempotency-Key": "k-young" } });
    await bus.close();
    const file = path.join(bus.dataDir, "bus.jsonl");
    const hoursAgo = (h: number) => new Date(Date.now() - h * 3_600_000).toISOString();
    const lines = fs
      .readFileSync(file, "utf8")
      .trimEnd()
      .split("\n")
      .map((line) => JSON.parse(line));
    lines[0].ts = hoursAgo(25);
    lines[1].ts = hoursAgo(23);
    fs.writeFileSync(file, lines.map((line) => `${JSON.stringify(line)}\n`).join(""));
    bus = await startBus({ dataDir: bus.dataDir });

    const youngAgain = await postJson(bus.url, "/post", { from: "a", body: "posted 23 h ago" }, { headers: { "Idempotency-Key": "k-young" } });
    expect([youngAgain.status, youngAgain.json.id]).toEqual([200, young.json.id]);
    const oldAgain = await postJson(bus.url, "/post", { from: "a", body: "posted 25 h ago" }, { headers: { "Idempotency-Key": "k-old" } });
    expect(oldAgain.status).toBe(201);
    expect(oldAgain.json.id).not.toBe(old.json.id);
  });

  it.each([[""], ["has space"], ["x".repeat(129)], ["ünï"]])("refuses the key %j with a 400", async (bad) => {
    const r = await postJson(bus.url, "/post", { from: "a", body: "x" }, { headers: { "Idempotency-Key": bad } });
    expect(r.status).toBe(400);
    expect(r.json).toEqual({ error: "Idempotency-Key: must be 1-128 visible ASCII characters" });
  });
});

describe("presence: GET /machines", () => {
  it("lists every name seen, with its last post, ack and request, and its unread count; and keeps it over a restart", async () => {
    const m1 = await post({ from: "alpha", to: "bravo", body: "1" });
    await post({ from: "alpha", body: "everyone" });
    await post({ from: "charlie", to: "alpha", body: "2" });
    await postJson(bus.url, `/ack/${m1.id}`, { reader: "bravo" });
    await request(bus.url, "/messages?unread_by=delta");
    const { machines } = (await request(bus.url, "/machines")).json as { machines: Array<Record<string, unknown>> };
    expect(machines.map((m) => m.name)).toEqual(["alpha", "bravo", "charlie", "delta"]);
    const by = Object.fromEntries(machines.map((m) => [m.name, m]));
    const iso = expect.stringMatching(/^\d{4}-\d\d-\d\dT.*Z$/);
    expect(by.alpha).toEqual({ name: "alpha", last_post: iso, last_ack: null, last_seen: iso, unread: 1, credential: null, kind: "machine", admin: false });
    expect(by.bravo).toEqual({ name: "bravo", last_post: null, last_ack: iso, last_seen: iso, unread: 1, credential: null, kind: "machine", admin: false });
    expect(by.charlie).toEqual({ name: "charlie", last_post: iso, last_ack: null, last_seen: iso, unread: 1, credential: null, kind: "machine", admin: false });
    expect(by.delta).toEqual({ name: "delta", last_post: null, last_ack: null, last_seen: iso, unread: 1, credential: null, kind: "machine", admin: false });

    await bus.close();
    bus = await startBus({ dataDir: bus.dataDir });
    expect((await request(bus.url, "/machines")).json.machines).toEqual(machines);
  });

  it("a damaged presence.json costs the times of names that hold no data, with a warning, never the start", async () => {
    await post({ from: "alpha", to: "bravo", body: "kept in bus.jsonl" });
    await request(bus.url, "/messages?unread_by=charlie");
    await bus.close();
    fs.writeFileSync(path.join(bus.dataDir, "presence.json"), '{"alpha": 17000');
    bus = await startBus({ dataDir: bus.dataDir });
    expect(bus.logs.filter((line) => line.includes("presence.json is damaged"))).toHaveLength(1);
    const { machines } = (await request(bus.url, "/machines")).json;
    expect(machines.map((m: { name: string }) => m.name)).toEqual(["alpha", "bravo"]);
    expect(machines[0]).toMatchObject({ name: "alpha", last_post: expect.any(String), unread: 0 });
  });
});
