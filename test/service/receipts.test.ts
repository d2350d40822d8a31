/**
 * Receipts over real HTTP on real files: each reader's ack time in `read_at` (kept across a restart, and for
 * ack lines whose time cannot be read), and GET /messages/<id>/receipt with and without its wait form.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { startBus, type TestBus } from "../support/bus";
import { postJson, request } from "../support/http";

let bus: TestBus;
beforeEach(async () => {
  bus = await startBus();
});
afterEach(() => bus.close());

const post = async (from: string, to = "any") => (await postJson(bus.url, "/post", { from, to, body: "please read" })).json;
const ack = (id: string, reader: string) => postJson(bus.url, `/ack/${id}`, { reader });
const messages = async () => (await request(bus.url, "/messages")).json.messages as Array<Record<string, any>>;

describe("read_at", () => {
  it("names the sender at its post's time and each reader at its ack's time, beside read_by, and survives a restart", async () => {
    const m = await post("alpha");
    expect(m.read_at).toEqual({ alpha: m.ts });
    const before = Date.now();
    await ack(m.id, "beta");
    await postJson(bus.url, "/ack", { reader: "gamma", ids: [m.id] });
    const [read] = await messages();
    expect(read.read_by).toEqual(["alpha", "beta", "gamma"]);
    expect(Object.keys(read.read_at)).toEqual(["alpha", "beta", "gamma"]);
    expect(read.read_at.alpha).toBe(m.ts);
    for (const reader of ["beta", "gamma"]) expect(Date.parse(read.read_at[reader])).toBeGreaterThanOrEqual(before - 1);
    const acks = fs.readFileSync(path.join(bus.dataDir, "acks.jsonl"), "utf8");
    expect(acks).toContain(`"reader":"beta","ts":"${read.read_at.beta}"`);
    await bus.close();
    bus = await startBus({ dataDir: bus.dataDir });
    expect((await messages())[0].read_at).toEqual(read.read_at);
  });

  it("an ack line whose time cannot be read shows its reader with null", async () => {
    const m = await post("alpha");
    await bus.close();
    fs.appendFileSync(path.join(bus.dataDir, "acks.jsonl"), `{"id":"${m.id}","reader":"old","ts":"yesterday"}\n`);
    bus = await startBus({ dataDir: bus.dataDir });
    expect((await messages())[0].read_at).toEqual({ alpha: m.ts, old: null });
  });
});

describe("GET /messages/<id>/receipt", () => {
  it("says null until the reader acks, then its ack time; 404 for an unknown message, 400 without a reader", async () => {
    const m = await post("alpha", "beta");
    expect((await request(bus.url, `/messages/${m.id}/receipt?reader=beta`)).json).toEqual({ id: m.id, reader: "beta", read_at: null });
    // The sender's own name is in read_by, but a receipt is an ack.
    expect((await request(bus.url, `/messages/${m.id}/receipt?reader=alpha`)).json.read_at).toBeNull();
    await ack(m.id, "beta");
    const receipt = (await request(bus.url, `/messages/${m.id}/receipt?reader=beta`)).json;
    expect(receipt.read_at).toBe((await messages())[0].read_at.beta);
    expect((await request(bus.url, `/messages/99/receipt?reader=beta`)).status).toBe(404);
    expect((await request(bus.url, `/messages/x/receipt?reader=beta`)).status).toBe(404);
    const missing = await request(bus.url, `/messages/${m.id}/receipt`);
    expect(missing.status).toBe(400);
    expect(missing.json.error).toContain("reader is required");
    expect((await request(bus.url, `/messages/${m.id}/receipt?reader=beta&wait=61`)).status).toBe(400);
  });

  it("the wait form answers once the reader acks, not before (another reader's ack does not wake it)", async () => {
    const m = await post("alpha", "any");
    let answered = false;
    const waiting = request(bus.url, `/messages/${m.id}/receipt?reader=beta&wait=30`).then((r) => {
      answered = true;
      return r;
    });
    await ack(m.id, "gamma");
    const other = await post("alpha", "any");
    await ack(other.id, "beta");
    for (let i = 0; i < 5; i++) await request(bus.url, "/health");
    expect(answered).toBe(false);
    await ack(m.id, "beta");
    const r = await waiting;
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ id: m.id, reader: "beta", read_at: expect.any(String) });
  });

  it("answers at once when the receipt is there already", async () => {
    const m = await post("alpha", "any");
    await ack(m.id, "beta");
    expect((await request(bus.url, `/messages/${m.id}/receipt?reader=beta&wait=60`)).json.read_at).not.toBeNull();
  });
});
