import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { startBus, type TestBus } from "../support/bus";
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

  const read = (dir: string) =>
    ["bus.jsonl", "acks.jsonl"].map((f) => {
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
      expect(big.json).toEqual({ error: "storage unavailable, nothing was stored: the disk is full (ENOSPC)" });
      expect(big.text).not.toContain(dir); // the server's paths go to its log, never into an answer
      expect(bus.logs.join("\n")).toContain(path.join(bus.dataDir, "bus.jsonl"));
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
      expect(post.json).toEqual({ error: "storage unavailable, nothing was stored: the data dir is read-only (EROFS)" });
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

  test("a full disk answers uploads 503, keeps every stored file and partial upload as it was, and takes them again when space returns", async () => {
    const dir = tempDir();
    mount("-t", "tmpfs", "-o", "size=4m", "tmpfs", dir);
    mounts.push(dir);
    const MiB = 1024 * 1024;
    const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");
    const bus = await startBus({ dataDir: path.join(dir, "data"), files: { quotaBytes: 100 * MiB } });
    try {
      const upload = (bytes: Buffer) => request(bus.url, "/files?name=f", { method: "POST", body: bytes });
      const put = (bytes: Buffer, from: number, to: number) =>
        request(bus.url, `/files/${sha256(bytes)}?name=p`, {
          method: "PUT",
          body: bytes.subarray(from, to),
          headers: { "Content-Range": `bytes ${from}-${to - 1}/${bytes.length}` },
        });
      const stored = randomBytes(MiB);
      expect((await upload(stored)).status).toBe(201);
      const resumable = randomBytes(MiB);
      expect((await put(resumable, 0, 256 * 1024)).status).toBe(202);
      const partialFile = path.join(bus.dataDir, "files", ".partial", `${sha256(resumable)}.~team`);
      const catalog = fs.readFileSync(path.join(bus.dataDir, "files.jsonl"), "utf8");

      const filler = path.join(dir, "filler");
      const fd = fs.openSync(filler, "w");
      expect(() => {
        for (;;) fs.writeSync(fd, Buffer.alloc(64 * 1024, 0x78));
      }).toThrow(/ENOSPC/);
      fs.closeSync(fd);

      const refused = await upload(randomBytes(MiB));
      expect([refused.status, refused.json]).toEqual([503, { error: "storage unavailable, nothing was stored: the disk is full (ENOSPC)" }]);
      const part = await put(resumable, 256 * 1024, MiB);
      expect([part.status, part.headers["upload-offset"]]).toEqual([503, String(256 * 1024)]);
      expect(fs.statSync(partialFile).size).toBe(256 * 1024);
      expect(fs.readFileSync(path.join(bus.dataDir, "files.jsonl"), "utf8")).toBe(catalog);
      expect(fs.readdirSync(path.join(bus.dataDir, "files", ".upload"))).toEqual([]);
      expect(sha256((await request(bus.url, `/files/${sha256(stored)}`)).bytes)).toBe(sha256(stored));

      fs.unlinkSync(filler);
      expect((await put(resumable, 256 * 1024, MiB)).status).toBe(201);
      expect(sha256((await request(bus.url, `/files/${sha256(resumable)}`)).bytes)).toBe(sha256(resumable));
      expect((await upload(randomBytes(MiB))).status).toBe(201);
    } finally {
      await bus.close();
    }
  });

  /** A data dir with a torn last line, on a read-only view of it: the start can neither save nor cut it. */
  async function tornDataDirReadOnly(): Promise<{ dir: string; view: string; torn: string; before: string }> {
    const dir = tempDir();
    const complete = '{"id":"1","ts":"2026-01-01T00:00:00.000Z","from":"a","to":"any","body":"kept","tags":[],"read_by":["a"]}\n';
    const torn = '{"id":"2","ts":"2026-01-01T00:00:01.000Z","fr';
    fs.writeFileSync(path.join(dir, "bus.jsonl"), complete + torn);
    const view = tempDir();
    mount("--bind", dir, view);
    mounts.push(view);
    mount("-o", "remount,bind,ro", view);
    return { dir, view, torn, before: complete + torn };
  }

  test("a torn last line on a read-only data dir: the bus starts and serves reads, and leaves no file behind, start after start", async () => {
    const { dir, view, before } = await tornDataDirReadOnly();
    for (let start = 0; start < 3; start++) {
      const bus = await startBus({ dataDir: view });
      try {
        expect((await request(bus.url, "/messages")).json.messages).toEqual([expect.objectContaining({ id: "1", body: "kept" })]);
        expect(bus.logs.some((l) => l.includes("torn last line kept until the disk takes writes again"))).toBe(true);
      } finally {
        await bus.close();
      }
    }
    expect(fs.readdirSync(dir)).toEqual(["bus.jsonl"]);
    expect(fs.readFileSync(path.join(dir, "bus.jsonl"), "utf8")).toBe(before);
  });

  test("the torn bytes kept in memory are saved aside and cut off before the first write once the disk is writable", async () => {
    const { dir, view, torn } = await tornDataDirReadOnly();
    const bus = await startBus({ dataDir: view });
    try {
      expect((await postJson(bus.url, "/post", { from: "a", body: "refused" })).status).toBe(503);
      expect(fs.readdirSync(dir)).toEqual(["bus.jsonl"]);
      mount("-o", "remount,bind,rw", view);
      const ok = await postJson(bus.url, "/post", { from: "a", body: "accepted" });
      expect(ok.status).toBe(201);
      expect(ok.json.id).toBe("2");
    } finally {
      await bus.close();
    }
    const saved = fs.readdirSync(dir).filter((f) => f.startsWith("bus.jsonl.torn-"));
    expect(saved).toHaveLength(1);
    expect(fs.readFileSync(path.join(dir, saved[0]), "utf8")).toBe(torn);
    expect(
      fs
        .readFileSync(path.join(dir, "bus.jsonl"), "utf8")
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l).body),
    ).toEqual(["kept", "accepted"]);
  });

  test("a torn last line on a full disk: the bus starts, and a failed save leaves no empty file", async () => {
    const dir = tempDir();
    mount("-t", "tmpfs", "-o", "size=1m", "tmpfs", dir);
    mounts.push(dir);
    const data = path.join(dir, "data");
    fs.mkdirSync(data);
    fs.writeFileSync(path.join(data, "bus.jsonl"), `{"id":"1","ts":"t","from":"a","to":"any","body":"kept","tags":[],"read_by":["a"]}\n${"x".repeat(8192)}`);
    const fd = fs.openSync(path.join(dir, "filler"), "w");
    expect(() => {
      for (;;) fs.writeSync(fd, Buffer.alloc(4096, 0x78));
    }).toThrow(/ENOSPC/);
    fs.closeSync(fd);
    for (let start = 0; start < 2; start++) {
      const bus = await startBus({ dataDir: data });
      try {
        expect((await request(bus.url, "/messages")).json.messages).toHaveLength(1);
      } finally {
        await bus.close();
      }
    }
    expect(fs.readdirSync(data)).toEqual(["bus.jsonl"]);
  });
});
