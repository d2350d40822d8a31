/**
 * Full-text search over real HTTP and a real store: every word must occur (case-insensitive) in the body,
 * sender, recipient, a tag or an attachment's name; newest first; the filters of GET /messages; `limit`,
 * `more` and `before` to go on; and a scan that stops at SEARCH_SCAN_MESSAGES however large the store.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { MAX_SEARCH_WORDS, SEARCH_SCAN_MESSAGES } from "../../contract/defaults";
import { MESSAGES_FILE } from "../../service/store/store";
import { startBus, type TestBus } from "../support/bus";
import { postJson, request } from "../support/http";
import { tempDir } from "../support/tempDir";

let bus: TestBus;
afterEach(() => bus?.close());

const post = async (body: Record<string, unknown>) => {
  const r = await postJson(bus.url, "/post", { to: "any", ...body });
  expect(r.status).toBe(201);
  return r.json.id as string;
};
const search = (query: string) => request(bus.url, `/messages?${query}`);
const bodies = (r: { json: { messages: Array<{ body: string }> } }) => r.json.messages.map((m) => m.body);

describe("GET /messages?q=", () => {
  beforeEach(async () => {
    bus = await startBus();
  });

  it("finds messages holding every word, case-insensitive, in body, sender, recipient, tag or attachment name, newest first", async () => {
    await post({ from: "alpha", body: "The Deploy failed on staging" });
    await post({ from: "bravo", to: "alpha", body: "deploy is green now", tags: ["ops"] });
    await post({ from: "charlie", body: "lunch?" });
    const upload = await request(bus.url, "/files?name=Staging-Report.txt", {
      method: "POST",
      headers: { "Content-Type": "application/octet-stream" },
      body: "x",
    });
    await post({ from: "delta", body: "see attached", attachments: [{ sha256: upload.json.sha256, name: "Staging-Report.txt" }] });

    expect(bodies(await search("q=DEPLOY"))).toEqual(["deploy is green now", "The Deploy failed on staging"]);
    expect(bodies(await search("q=deploy%20staging"))).toEqual(["The Deploy failed on staging"]);
    expect(bodies(await search("q=staging"))).toEqual(["see attached", "The Deploy failed on staging"]); // an attachment's name
    expect(bodies(await search("q=OPS"))).toEqual(["deploy is green now"]); // a tag
    expect(bodies(await search("q=charlie"))).toEqual(["lunch?"]); // the sender
    expect(bodies(await search("q=deploy%20alpha"))).toEqual(["deploy is green now", "The Deploy failed on staging"]); // recipient, sender
    const r = await search("q=nothing-like-this");
    expect(r.json).toEqual({ messages: [], more: false, before: null });
  });

  it("takes the filters of GET /messages", async () => {
    await post({ from: "alpha", body: "report one", tags: ["weekly"] });
    const first = await post({ from: "bravo", to: "alpha", body: "report two" });
    await post({ from: "alpha", body: "report three", reply_to: first });
    await post({ from: "charlie", to: "bravo", body: "report four" });
    expect(bodies(await search("q=report&from=alpha"))).toEqual(["report three", "report one"]);
    expect(bodies(await search("q=report&to=alpha"))).toEqual(["report three", "report two", "report one"]); // to alpha, or to everyone
    expect(bodies(await search("q=report&tag=weekly"))).toEqual(["report one"]);
    expect(bodies(await search(`q=report&thread=${first}`))).toEqual(["report three", "report two"]);
  });

  it("pages with limit, more and before", async () => {
    for (let i = 1; i <= 5; i++) await post({ from: "alpha", body: `match ${i}` });
    const first = await search("q=match&limit=2");
    expect(first.json).toMatchObject({ more: true, before: "4" });
    expect(bodies(first)).toEqual(["match 5", "match 4"]);
    const second = await search(`q=match&limit=2&before=${first.json.before}`);
    expect(bodies(second)).toEqual(["match 3", "match 2"]);
    const third = await search(`q=match&limit=2&before=${second.json.before}`);
    expect(bodies(third)).toEqual(["match 1"]);
    expect(third.json).toMatchObject({ more: false, before: null });
  });

  it("refuses an empty query, too many words, and parameters a search does not take", async () => {
    for (const query of [
      "q=",
      "q=%20%20",
      `q=${Array.from({ length: MAX_SEARCH_WORDS + 1 }, (_, i) => `w${i}`).join("%20")}`,
      "q=x&since=3",
      "q=x&wait=5",
      "q=x&before=0",
    ]) {
      const r = await search(query);
      expect([query, r.status]).toEqual([query, 400]);
      expect(r.json.error).toEqual(expect.any(String));
    }
    // Without q, GET /messages is what it always was.
    expect((await search("since=0")).json).toEqual({ messages: [] });
  });
});

describe("the scan's bound", () => {
  it(`reads at most ${SEARCH_SCAN_MESSAGES} messages per request, and says where to go on`, async () => {
    const dataDir = tempDir("data");
    const total = SEARCH_SCAN_MESSAGES + 50;
    const ts = new Date().toISOString();
    const lines: string[] = [];
    for (let id = 1; id <= total; id++) {
      const body = id === 5 ? "the needle is here" : `hay ${id}`;
      lines.push(JSON.stringify({ id: String(id), ts, from: "alpha", to: "any", body, tags: [], read_by: ["alpha"], thread: String(id) }));
    }
    fs.writeFileSync(path.join(dataDir, MESSAGES_FILE), `${lines.join("\n")}\n`, { mode: 0o600 });
    bus = await startBus({ dataDir });

    const first = await search("q=needle");
    expect(first.json).toEqual({ messages: [], more: true, before: String(total - SEARCH_SCAN_MESSAGES + 1) });
    const second = await search(`q=needle&before=${first.json.before}`);
    expect(second.json).toMatchObject({ more: false, before: null });
    expect(bodies(second)).toEqual(["the needle is here"]);
  });
});
