/** Moving house: GET /backup while the bus runs, restore into an empty dir, import a Flask-era bus.jsonl. */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as path from "node:path";
import * as zlib from "node:zlib";
import { importSeed, restoreBackup } from "../../service/dataDir/dataDirTools";
import { readTar, tarEnd, tarHeader, tarPadding } from "../../service/dataDir/tar";
import { startBus, type TestBus } from "../support/bus";
import { allMessages, basicAuth, PASS, postJson, request, USER } from "../support/http";
import { tempDir } from "../support/tempDir";

/** GET /backup's bytes. */
function backupOf(bus: TestBus): Promise<{ status: number; type: string; bytes: Buffer }> {
  return new Promise((resolve, reject) => {
    http
      .get(`${bus.url}/backup`, { headers: { Authorization: basicAuth(USER, PASS) }, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode!, type: String(res.headers["content-type"]), bytes: Buffer.concat(chunks) }));
      })
      .on("error", reject);
  });
}

describe("backup and restore", () => {
  let bus: TestBus;
  afterEach(() => bus?.close());

  it("copies the store at one instant while posts go on, as a tar.gz that restores into an empty dir", async () => {
    bus = await startBus();
    const first = await postJson(bus.url, "/post", { from: "alpha", to: "bravo", body: "before the backup", tags: ["x"] });
    await postJson(bus.url, "/post", { from: "bravo", body: "a reply", reply_to: first.json.id });
    await postJson(bus.url, `/ack/${first.json.id}`, { reader: "bravo" });
    const claim = await postJson(bus.url, "/claims", { resource: "task:backup", ttl: 600, holder: "alpha" });
    const writers = Array.from({ length: 20 }, (_, i) => postJson(bus.url, "/post", { from: "charlie", body: `racing ${i}` }));
    const backup = await backupOf(bus);
    await Promise.all(writers);
    expect(backup.status).toBe(200);
    expect(backup.type).toMatch(/^application\/gzip/);
    const entries = readTar(zlib.gunzipSync(backup.bytes));
    expect(entries.map((e) => e.name)).toEqual(["bus.jsonl", "acks.jsonl", "presence.json", "machines.jsonl", "files.jsonl", "claims.jsonl"]);
    // Whole lines only, ids in sequence: a copy of one instant, however many posts raced it.
    const lines = entries[0].data.toString().split("\n");
    expect(lines.pop()).toBe("");
    expect(lines.map((l) => JSON.parse(l).id)).toEqual(lines.map((_, i) => String(i + 1)));
    // tar itself reads it.
    const file = path.join(tempDir("backup"), "backup.tar.gz");
    fs.writeFileSync(file, backup.bytes);
    expect(execFileSync("tar", ["tzf", file], { encoding: "utf8" }).trim().split("\n")).toEqual([
      "bus.jsonl",
      "acks.jsonl",
      "presence.json",
      "machines.jsonl",
      "files.jsonl",
      "claims.jsonl",
    ]);

    const target = tempDir("restored");
    expect(await restoreBackup(backup.bytes, target, { force: false })).toBe(lines.length);
    const original = (await allMessages(bus.url)).filter((m) => Number(m.id) <= lines.length);
    const restored = await startBus({ dataDir: target });
    try {
      expect(await allMessages(restored.url)).toEqual(original);
      expect((await request(restored.url, "/machines")).json.machines.map((m: { name: string }) => m.name)).toEqual(["alpha", "bravo", "charlie"]);
      // The live claims and the last fencing token come back too: tokens go on from there.
      expect((await request(restored.url, "/claims")).json.claims).toEqual([claim.json]);
      expect((await postJson(restored.url, "/claims", { resource: "task:after", ttl: 600, holder: "bravo" })).json.token).toBeGreaterThan(claim.json.token);
    } finally {
      await restored.close();
    }
  });

  it("refuses a dir that holds a store (unless forced), a dir a bus runs on, and what is not a backup", async () => {
    bus = await startBus();
    await postJson(bus.url, "/post", { from: "alpha", body: "one" });
    const { bytes } = await backupOf(bus);
    await expect(restoreBackup(bytes, bus.dataDir, { force: true })).rejects.toThrow(/is in use by another claude-bus/);
    const target = tempDir("restored");
    await restoreBackup(bytes, target, { force: false });
    await expect(restoreBackup(bytes, target, { force: false })).rejects.toThrow(
      `${target} already holds a store (bus.jsonl): restore into an empty data dir, or add --force to replace it`,
    );
    expect(await restoreBackup(bytes, target, { force: true })).toBe(1);
    await expect(restoreBackup(Buffer.from("not gzip"), tempDir("x"), { force: false })).rejects.toThrow(/^not a claude-bus backup/);
    const stray = zlib.gzipSync(Buffer.concat([tarHeader("../../etc/passwd", 4), Buffer.from("root"), tarPadding(4), tarEnd()]));
    await expect(restoreBackup(stray, tempDir("x"), { force: false })).rejects.toThrow("not a claude-bus backup: it holds ../../etc/passwd");
  });
});

describe("import of a team-page (Flask) bus.jsonl", () => {
  const seed = [
    {
      id: "a1b2c3",
      ts: "2026-05-25T17:00:00.123456",
      from: "ccwhitebee",
      to: "ccmidm1mac",
      body: "Build finished, see /opt/foo",
      tags: ["build"],
      read_by: ["ccmidm1mac"],
    },
    { id: "d4", ts: "2026-05-25T17:05:00Z", from: "ccmidm1mac", body: "Patch deployed, smoke tests green.", read_by: [] },
    { id: 7, ts: "2026-05-25T18:00:00+02:00", from: "ccwhitebee", to: "any", body: "hi", tags: ["deploy", "green"], read_by: ["ccwhitebee", "ccmidm1mac"] },
  ];
  const seedText = `${seed.map((m) => JSON.stringify(m)).join("\n")}\n`;

  it("gives new ids after the ones there, keeps times, senders, recipients, tags and read state, and maps old ids to new", async () => {
    const dir = tempDir("import");
    let bus = await startBus({ dataDir: dir });
    await postJson(bus.url, "/post", { from: "existing", body: "already here" });
    await bus.close();
    expect(await importSeed(seedText, "seed.jsonl", dir)).toEqual([
      ["a1b2c3", "2"],
      ["d4", "3"],
      ["7", "4"],
    ]);
    bus = await startBus({ dataDir: dir });
    try {
      const messages = await allMessages(bus.url);
      expect(messages.slice(1)).toEqual([
        {
          id: "2",
          ts: "2026-05-25T17:00:00.123Z",
          from: "ccwhitebee",
          to: "ccmidm1mac",
          body: "Build finished, see /opt/foo",
          tags: ["build"],
          read_by: ["ccwhitebee", "ccmidm1mac"],
          read_at: { ccwhitebee: "2026-05-25T17:00:00.123Z", ccmidm1mac: "2026-05-25T17:00:00.123Z" },
          thread: "2",
        },
        {
          id: "3",
          ts: "2026-05-25T17:05:00.000Z",
          from: "ccmidm1mac",
          to: "any",
          body: "Patch deployed, smoke tests green.",
          tags: [],
          read_by: ["ccmidm1mac"],
          read_at: { ccmidm1mac: "2026-05-25T17:05:00.000Z" },
          thread: "3",
        },
        {
          id: "4",
          ts: "2026-05-25T16:00:00.000Z",
          from: "ccwhitebee",
          to: "any",
          body: "hi",
          tags: ["deploy", "green"],
          read_by: ["ccwhitebee", "ccmidm1mac"],
          read_at: { ccwhitebee: "2026-05-25T16:00:00.000Z", ccmidm1mac: "2026-05-25T16:00:00.000Z" },
          thread: "4",
        },
      ]);
      const unread = (await request(bus.url, "/messages?to=ccmidm1mac&unread_by=ccmidm1mac")).json.messages.map((m: { id: string }) => m.id);
      expect(unread).toEqual(["1"]);
      expect((await postJson(bus.url, "/post", { from: "x", body: "next" })).json.id).toBe("5");
    } finally {
      await bus.close();
    }
  });

  it("imports nothing when a line is bad, and says which", async () => {
    const dir = tempDir("import");
    const bad = `${seedText + JSON.stringify({ id: "z", ts: "yesterday", from: "a", body: "x" })}\n`;
    await expect(importSeed(bad, "seed.jsonl", dir)).rejects.toThrow("seed.jsonl:4: ts: must be an ISO-8601 time; nothing was imported");
    await expect(importSeed("{oops\n", "seed.jsonl", dir)).rejects.toThrow(/^seed.jsonl:1: not JSON/);
    expect(fs.existsSync(path.join(dir, "bus.jsonl"))).toBe(false);
  });
});
