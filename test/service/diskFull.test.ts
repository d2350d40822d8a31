import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { startBus, TestBus } from "../support/bus";
import { allMessages, postJson, request } from "../support/http";
import { tempDir } from "../support/tempDir";

// Real kernel behaviour, not a mocked fs: a 1 MiB tmpfs that really fills up, and a
// read-only bind mount that really refuses writes. Needs root (CI runs as root).
describe("disk full or unwritable data dir", () => {
  const mounts: string[] = [];
  const mount = (...args: string[]) => execFileSync("mount", args);
  afterAll(() => {
    for (const m of mounts.reverse()) execFileSync("umount", ["-l", m]);
  });

  const read = (dir: string) => ["bus.jsonl", "acks.jsonl"].map((f) => {
    const p = path.join(dir, f);
    return fs.existsSync(p) ? fs.readFileSync(p, "utf8") : "";
  });

  test("a full disk gives 503 JSON, damages nothing, and recovers when space returns", async () => {
    const dir = tempDir();
    mount("-t", "tmpfs", "-o", "size=1m", "tmpfs", dir);
    mounts.push(dir);
    let bus: TestBus = await startBus({ dataDir: path.join(dir, "data") });
    try {
      for (let i = 1; i <= 3; i++) expect((await postJson(bus.url, "/post", { from: "a", to: "b", body: `before ${i}` })).status).toBe(201);
      const stored = read(bus.dataDir);

      // Fill every remaining block.
      const filler = path.join(dir, "filler");
      const fd = fs.openSync(filler, "w");
      const block = Buffer.alloc(64 * 1024, 0x78);
      expect(() => {
        for (;;) fs.writeSync(fd, block);
      }).toThrow(/ENOSPC/);
      fs.closeSync(fd);

      // A 64 KiB body needs new blocks: part of it may be written before ENOSPC.
      const big = await postJson(bus.url, "/post", { from: "a", body: "z".repeat(65_536) });
      expect(big.status).toBe(503);
      expect(big.json).toEqual({ error: expect.stringContaining("storage unavailable") });
      const ack = await postJson(bus.url, "/ack/1", { reader: "b" });
      expect(ack.status).toBe(503);
      expect(read(bus.dataDir)).toEqual(stored);

      // Reads still work while the disk is full.
      expect((await request(bus.url, "/health")).json.count).toBe(3);
      expect((await request(bus.url, "/messages?unread_by=b")).json.messages).toHaveLength(3);

      fs.unlinkSync(filler);
      const after = await postJson(bus.url, "/post", { from: "a", body: "z".repeat(65_536) });
      expect(after.status).toBe(201);
      expect(after.json.id).toBe("4");
      expect((await postJson(bus.url, "/ack/1", { reader: "b" })).json).toEqual({ ok: true, id: "1", reader: "b", already: false });

      await bus.close();
      bus = await startBus({ dataDir: bus.dataDir });
      const messages = await allMessages(bus.url);
      expect(messages.map((m) => m.id)).toEqual(["1", "2", "3", "4"]);
      expect(messages[0].read_by).toEqual(["a", "b"]);
      expect(bus.logs.some((l) => l.includes("torn"))).toBe(false);
    } finally {
      await bus.close();
    }
  });

  test("a read-only data dir serves reads, answers writes with 503, and recovers when writable", async () => {
    const dir = tempDir();
    let bus = await startBus({ dataDir: dir });
    await postJson(bus.url, "/post", { from: "a", body: "stored" });
    await bus.close();
    const stored = read(dir);

    const view = tempDir();
    mount("--bind", dir, view);
    mounts.push(view);
    mount("-o", "remount,bind,ro", view);
    bus = await startBus({ dataDir: view });
    try {
      expect((await request(bus.url, "/messages")).json.messages).toEqual([expect.objectContaining({ id: "1", body: "stored" })]);
      const post = await postJson(bus.url, "/post", { from: "a", body: "refused" });
      expect(post.status).toBe(503);
      expect(post.json.error).toMatch(/EROFS|read-only/);
      expect((await postJson(bus.url, "/ack/1", { reader: "b" })).status).toBe(503);
      expect(read(dir)).toEqual(stored);

      mount("-o", "remount,bind,rw", view);
      const ok = await postJson(bus.url, "/post", { from: "a", body: "accepted" });
      expect(ok.status).toBe(201);
      expect(ok.json.id).toBe("2");
      expect((await postJson(bus.url, "/ack/1", { reader: "b" })).status).toBe(200);
    } finally {
      await bus.close();
    }
    expect(fs.readFileSync(path.join(dir, "bus.jsonl"), "utf8").trim().split("\n")).toHaveLength(2);
  });
});
