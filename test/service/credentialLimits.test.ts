/**
 * One credential cannot starve the others, over real HTTP on real files: each uploader has its own caps
 * on files, bytes and partial uploads, and each credential on long-polls held at once; at its cap it alone
 * is refused (507 or 429 naming the cap) while other machines go on. Small caps keep the tests fast.
 */
import { createHash, randomBytes } from "node:crypto";
import * as http from "node:http";
import { startBus, type TestBus, type TestBusOptions } from "../support/bus";
import { basicAuth, postJson, request, type RequestOptions } from "../support/http";
import { waitFor } from "../support/waitFor";

type Auth = [string, string];
const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

let bus: TestBus;
afterEach(() => bus?.close());

async function start(opts: TestBusOptions): Promise<{ alpha: Auth; bravo: Auth }> {
  bus = await startBus(opts);
  return { alpha: await enroll("alpha"), bravo: await enroll("bravo") };
}

async function enroll(name: string): Promise<Auth> {
  const invited = await postJson(bus.url, "/invites", { name });
  const enrolled = await postJson(bus.url, "/enroll", { code: invited.json.code }, { auth: null });
  expect(enrolled.status).toBe(201);
  return [enrolled.json.user, enrolled.json.pass];
}

const upload = (bytes: Buffer, auth?: Auth) =>
  request(bus.url, `/files?name=f.bin`, { method: "POST", body: bytes, auth, headers: { "Content-Type": "application/octet-stream" } });
/** The first half of a file, by PUT: a partial upload. */
const startPartial = (bytes: Buffer, auth?: Auth) =>
  request(bus.url, `/files/${sha256(bytes)}?name=p.bin`, {
    method: "PUT",
    body: bytes.subarray(0, 2),
    auth,
    headers: { "Content-Range": `bytes 0-1/${bytes.length}` },
  });

describe("each uploader's own caps", () => {
  it("answers 507 to the machine that holds its cap of files, alone: another machine and the team credential still upload", async () => {
    const { alpha, bravo } = await start({ files: { uploaderMaxFiles: 3 } });
    for (let i = 0; i < 2; i++) expect((await upload(randomBytes(10), alpha)).status).toBe(201);
    expect((await startPartial(randomBytes(10), alpha)).status).toBe(202);
    const full = await upload(randomBytes(10), alpha);
    expect([full.status, full.json]).toEqual([
      507,
      { error: `the credential of "alpha" holds 3 files (stored and partial uploads), the most one credential keeps; nothing was stored` },
    ]);
    expect((await startPartial(randomBytes(10), alpha)).status).toBe(507);
    for (let i = 0; i < 3; i++) expect((await upload(randomBytes(10), bravo)).status).toBe(201);
    expect((await upload(randomBytes(10))).status).toBe(201);
    // Bytes another machine stored count for alpha too once alpha uploads them: at its cap, refused.
    const bravos = randomBytes(10);
    expect((await upload(bravos, bravo)).status).toBe(507);
    expect((await upload(bravos)).status).toBe(201);
  });

  it("answers 507 to the machine that filled its own share of the quota, naming it, while another machine stores as much", async () => {
    const KiB = 1024;
    const { alpha, bravo } = await start({ files: { uploaderQuotaBytes: 10 * KiB } });
    expect((await upload(randomBytes(8 * KiB), alpha)).status).toBe(201);
    const over = await upload(randomBytes(4 * KiB), alpha);
    expect(over.status).toBe(507);
    expect(over.json.error).toBe(
      `the credential of "alpha" has reached its own file quota: 10240 bytes (0 MiB) for the files it stored and its partial uploads, 8192 bytes (0 MiB) in use; nothing was stored (files expire 14 days after their last use)`,
    );
    expect((await upload(randomBytes(8 * KiB), bravo)).status).toBe(201);
    expect((await upload(randomBytes(2 * KiB), alpha)).status).toBe(201);
  });

  it("answers 429 to the machine with its cap of partial uploads open, alone, and takes another once one is finished", async () => {
    const { alpha, bravo } = await start({ files: { uploaderMaxPartials: 2 } });
    const files = [randomBytes(10), randomBytes(10), randomBytes(10)];
    for (const file of files.slice(0, 2)) expect((await startPartial(file, alpha)).status).toBe(202);
    const third = await startPartial(files[2], alpha);
    expect(third.status).toBe(429);
    expect(third.json.error).toBe(
      `the credential of "alpha" has 2 partial uploads open, the most one credential may; finish one (or wait 24 h until an untouched one is deleted)`,
    );
    for (const file of files.slice(1)) expect((await startPartial(file, bravo)).status).toBe(202);
    const rest = await request(bus.url, `/files/${sha256(files[0])}?name=p.bin`, {
      method: "PUT",
      body: files[0].subarray(2),
      auth: alpha,
      headers: { "Content-Range": `bytes 2-9/10` },
    });
    expect(rest.status).toBe(201);
    expect((await startPartial(files[2], alpha)).status).toBe(202);
  });
});

describe("long-polls per credential", () => {
  /** A long-poll held open: `answer` resolves with its status once answered; `abandon` drops it. */
  function hold(auth: Auth | undefined, opts: RequestOptions = {}, to = "nobody") {
    const [user, pass] = auth ?? [bus.user, bus.pass];
    const req = http.get(`${bus.url}/messages?to=${to}&wait=60`, { headers: { Authorization: basicAuth(user, pass), ...opts.headers }, agent: false });
    const answer = new Promise<number | "dropped">((resolve) => {
      req.on("response", (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode!));
      });
      req.on("error", () => resolve("dropped"));
    });
    return { answer, abandon: () => req.destroy() };
  }

  it("answers 429 with Retry-After past the cap, while another credential's long-poll waits and is woken", async () => {
    const { alpha, bravo } = await start({ maxLongPolls: 2 });
    const held = [hold(alpha), hold(alpha)];
    await waitFor("alpha's two long-polls to be held", () => bus.waiting() === 2);
    const refused = await request(bus.url, "/messages?to=nobody&wait=60", { auth: alpha });
    expect(refused.status).toBe(429);
    expect(Number(refused.headers["retry-after"])).toBeGreaterThanOrEqual(1);
    expect(Number(refused.headers["retry-after"])).toBeLessThanOrEqual(60);
    expect(refused.json.error).toMatch(/^the credential of "alpha" holds 2 long-polls already, the most one may; retry in \d+ s$/);
    // A request that is answered at once holds nothing: at the cap too.
    expect((await request(bus.url, "/messages?to=nobody", { auth: alpha })).status).toBe(200);
    expect((await postJson(bus.url, "/post", { from: "carol", to: "somebody", body: "here already" })).status).toBe(201);
    expect((await request(bus.url, "/messages?to=somebody&wait=60", { auth: alpha })).status).toBe(200);

    const bravos = hold(bravo);
    await waitFor("bravo's long-poll to be held", () => bus.waiting() === 3);
    expect((await postJson(bus.url, "/post", { from: "carol", to: "nobody", body: "wake up" })).status).toBe(201);
    expect(await bravos.answer).toBe(200);
    expect(await Promise.all(held.map((h) => h.answer))).toEqual([200, 200]);
    // Their slots are free again.
    const again = hold(alpha, {}, "still-nobody");
    await waitFor("alpha's new long-poll to be held", () => bus.waiting() === 1);
    again.abandon();
  });

  it("frees the slot of a long-poll its client abandoned", async () => {
    const { alpha } = await start({ maxLongPolls: 1 });
    const first = hold(alpha);
    await waitFor("the long-poll to be held", () => bus.waiting() === 1);
    expect((await request(bus.url, "/messages?to=nobody&wait=5", { auth: alpha })).status).toBe(429);
    first.abandon();
    const second = hold(alpha);
    await waitFor(
      "the next long-poll to be held",
      async () => bus.waiting() === 1 && (await Promise.race([second.answer, Promise.resolve("held")])) === "held",
    );
    second.abandon();
  });

  it("counts the team credential per client address: every machine without its own credential shares it", async () => {
    await start({ maxLongPolls: 1, behindProxy: true });
    const from = (address: string) => ({ headers: { "X-Real-IP": address } });
    const first = hold(undefined, from("198.51.100.1"));
    await waitFor("the long-poll to be held", () => bus.waiting() === 1);
    const refused = await request(bus.url, "/messages?to=nobody&wait=5", from("198.51.100.1"));
    expect([refused.status, refused.json.error]).toEqual([429, expect.stringMatching(/^the team credential \(from this address\) holds 1 long-polls already/)]);
    const other = hold(undefined, from("198.51.100.2"));
    await waitFor("the other address's long-poll to be held", () => bus.waiting() === 2);
    first.abandon();
    other.abandon();
  });
});
