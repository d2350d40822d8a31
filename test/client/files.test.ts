/**
 * The client library's files against the real bus: one message by id, an upload sent once, a download
 * broken off and resumed with a Range, names that could leave the directory, and what a retry costs.
 */
import { createHash, randomBytes } from "node:crypto";
import { appendFileSync, promises as fs } from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import { createBusClient, saveAttachments } from "../../client/index";
import { isConfigName } from "../../contract/files";
import { safeFileName } from "../../client/files";
import { startTestBus, tempDir, type TestBus } from "../cli/harness";
import { startCuttingProxy } from "../support/cuttingProxy";
import { waitFor } from "../support/waitFor";

const MiB = 1024 * 1024;
const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

let bus: TestBus;
beforeAll(async () => {
  bus = await startTestBus();
});
afterAll(async () => {
  await bus.close();
});

async function postWithFile(bytes: Buffer, name: string) {
  const client = createBusClient(bus);
  const file = path.join(tempDir("src"), name);
  await fs.writeFile(file, bytes);
  const stored = await client.upload(file);
  return client.post({ from: "sierra", to: "tango", body: "a file", attachments: [{ sha256: stored.sha256, name: stored.name }] });
}

it("message(id) is that message, or undefined when the bus holds none by that id", async () => {
  const client = createBusClient(bus);
  const m = await client.post({ from: "sierra", body: "one" });
  await client.post({ from: "sierra", body: "two" });
  expect(await client.message(m.id)).toEqual(m);
  expect(await client.message("987654")).toBeUndefined();
  await expect(client.message("../1")).rejects.toThrow(/not a message id/);
});

it("an upload of bytes this credential sent before sends none of them again", async () => {
  const bytes = randomBytes(MiB);
  const file = path.join(tempDir("src"), "twice.bin");
  await fs.writeFile(file, bytes);
  const proxy = await startCuttingProxy(bus.url, { method: "PUT", bytes: Number.MAX_SAFE_INTEGER, onCut: async () => undefined });
  try {
    const client = createBusClient({ ...bus, url: proxy.url });
    const progress: number[] = [];
    expect(await client.upload(file)).toEqual({ sha256: sha256(bytes), size: MiB, name: "twice.bin" });
    expect(await client.upload(file, { name: "again.bin", onProgress: (done) => progress.push(done) })).toEqual({
      sha256: sha256(bytes),
      size: MiB,
      name: "again.bin",
    });
    const puts = proxy.heads.filter((h) => h.startsWith("PUT "));
    expect(puts[1]).toMatch(/\r\ncontent-length: 0(\r\n|$)/i);
    expect(progress).toEqual([MiB]);
  } finally {
    await proxy.close();
  }
});

it("a file that grows once it was hashed uploads the bytes hashed, and its progress never passes the whole", async () => {
  const bytes = randomBytes(MiB);
  const file = path.join(tempDir("src"), "growing.log");
  await fs.writeFile(file, bytes);
  const shares: number[] = [];
  const stored = await createBusClient(bus).upload(file, {
    onProgress: (done, total) => {
      // the first report comes before a byte is read: the file grows between its hash and its upload
      if (shares.length === 0) appendFileSync(file, randomBytes(64 * 1024));
      shares.push(done / total);
    },
  });
  expect(stored).toEqual({ sha256: sha256(bytes), size: MiB, name: "growing.log" });
  expect(Math.max(...shares)).toBe(1);
});

it("a download broken off resumes from the bytes that arrived, with a Range, and is checked whole", async () => {
  const bytes = randomBytes(4 * MiB);
  const message = await postWithFile(bytes, "big.bin");
  const out = tempDir("out");
  const dir = path.join(out, message.id);
  const partial = path.join(dir, `.claude-bus-${sha256(bytes)}.part`);
  const proxy = await startCuttingProxy(bus.url, {
    method: "GET",
    bytes: MiB,
    // the bytes that passed are on this machine's disk before the connection goes
    onCut: async () => void (await waitFor("bytes in the partial file", async () => (await fs.stat(partial).catch(() => undefined))?.size)),
  });
  try {
    const client = createBusClient({ ...bus, url: proxy.url });
    const saved = await saveAttachments(client, message.id, out);
    expect(saved).toEqual([{ attachment: message.attachments![0], file: path.join(dir, "big.bin") }]);
    expect(sha256(await fs.readFile(path.join(dir, "big.bin")))).toBe(sha256(bytes));
    expect(await fs.readdir(dir)).toEqual(["big.bin"]);
    // The first request asks for the whole file; each one after a break (one here, unless the loaded
    // machine's loopback broke another) asks for the rest, from bytes already on disk.
    const [first, ...resumed] = proxy.heads.filter((h) => h.startsWith(`GET /files/`));
    expect(first).not.toMatch(/\r\nrange:/i);
    expect(resumed.length).toBeGreaterThanOrEqual(1);
    for (const head of resumed) {
      expect(Number(/\r\nrange: bytes=(\d+)-(\r\n|$)/i.exec(head)?.[1])).toBeGreaterThan(0);
      expect(head).toMatch(new RegExp(`\\r\\nif-range: "${sha256(bytes)}"`, "i"));
    }
  } finally {
    await proxy.close();
  }
});

it("a 206 of other bytes than the rest asked for is not written after what arrived: the download starts again from byte 0", async () => {
  const bytes = randomBytes(100_000);
  const attachment = { sha256: sha256(bytes), name: "data.bin", size: bytes.length };
  // A server (a cache in the way, say) that answers any Range with the file from its first byte.
  const ranges: Array<string | undefined> = [];
  const server = http.createServer((req, res) => {
    ranges.push(req.headers.range);
    if (req.headers.range) res.writeHead(206, { "content-length": bytes.length, "content-range": `bytes 0-${bytes.length - 1}/${bytes.length}` });
    else res.writeHead(200, { "content-length": bytes.length });
    res.end(bytes);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    const dir = tempDir("out");
    await fs.writeFile(path.join(dir, `.claude-bus-${attachment.sha256}.part`), bytes.subarray(0, 30_000));
    const client = createBusClient({ ...bus, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
    expect(await client.download(attachment, dir)).toBe(path.join(dir, "data.bin"));
    expect(sha256(await fs.readFile(path.join(dir, "data.bin")))).toBe(attachment.sha256);
    expect(ranges).toEqual(["bytes=30000-", undefined]);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});

it("an empty file moves too; one file attached twice under a name is saved once; two files under one name, neither", async () => {
  const client = createBusClient(bus);
  const src = tempDir("src");
  const upload = async (name: string, bytes: string) => {
    await fs.writeFile(path.join(src, name), bytes);
    const { sha256: sha } = await client.upload(path.join(src, name));
    return { sha256: sha, name: "same.txt" };
  };
  const empty = await upload("empty.txt", "");
  const twice = await client.post({ from: "sierra", body: "twice", attachments: [empty, empty] });
  const dir = tempDir("out");
  expect((await saveAttachments(client, twice.id, dir)).map((s) => s.file)).toEqual([path.join(dir, twice.id, "same.txt")]);
  expect(await fs.readFile(path.join(dir, twice.id, "same.txt"), "utf8")).toBe("");

  const clash = await client.post({ from: "sierra", body: "clash", attachments: [empty, await upload("other.txt", "other")] });
  const other = tempDir("out");
  await expect(saveAttachments(client, clash.id, other)).rejects.toThrow(
    `message #${clash.id} attaches two different files that would both be ${other}/${clash.id}/same.txt; nothing was saved`,
  );
  expect(await fs.readdir(other)).toEqual([]);
});

describe("names from a message are never paths", () => {
  it("a dot file or a name agents and tools read as configuration is a config name, as case-insensitive and Windows file systems compare names", () => {
    for (const name of [
      "CLAUDE.md",
      "claude.md",
      "Claude.MD.",
      "AGENTS.md",
      "GEMINI.md",
      "CLAUDE.local.md",
      ".mcp.json",
      ".claude",
      ".envrc",
      ".git",
      ".cursorrules",
      ".bashrc",
      ".",
    ]) {
      expect([name, isConfigName(name)]).toEqual([name, true]);
    }
    for (const name of ["report.md", "CLAUDE.md.txt", "notes.claude", "build.zip"]) expect([name, isConfigName(name)]).toEqual([name, false]);
  });

  it("keeps the last component, and refuses '', '.', '..' and control characters", () => {
    expect(safeFileName("build.zip")).toBe("build.zip");
    expect(safeFileName("../../etc/passwd")).toBe("passwd");
    expect(safeFileName("C:\\Users\\x\\run.bat")).toBe("run.bat");
    for (const bad of ["", ".", "..", "a/..", "dir/", "bell\u0007.txt", "new\nline"])
      expect(() => safeFileName(bad)).toThrow(/is not a file name this machine saves under/);
  });

  it("a download named with a path lands in the directory asked for, and nowhere else", async () => {
    const bytes = Buffer.from("inside\n");
    const message = await postWithFile(bytes, "inside.txt");
    const root = tempDir("root");
    const dir = path.join(root, "a", "b");
    await fs.mkdir(dir, { recursive: true });
    const attachment = { ...message.attachments![0], name: "../../escaped.txt" };
    expect(await createBusClient(bus).download(attachment, dir)).toBe(path.join(dir, "escaped.txt"));
    expect(await fs.readdir(root)).toEqual(["a"]);
    await expect(createBusClient(bus).download({ ...attachment, name: ".." }, dir)).rejects.toThrow(/not a file name/);
  });
});
