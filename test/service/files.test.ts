/**
 * Files that travel with messages, over real HTTP on real files: uploads whole and resumable, downloads
 * whole and by range, every limit's answer, attachments and who may attach what, and what survives a
 * restart, a kill -9 and a backup.
 */
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as path from "node:path";
import * as zlib from "node:zlib";
import { MAX_ATTACHMENTS } from "../../contract/defaults";
import { restoreBackup } from "../../service/dataDir/dataDirTools";
import { readTar } from "../../service/dataDir/tar";
import { buildBundle, spawnBus, startBus, type TestBus, type TestBusOptions } from "../support/bus";
import { basicAuth, PASS, postJson, type Reply, request, type RequestOptions, USER } from "../support/http";
import { tempDir } from "../support/tempDir";
import { waitFor } from "../support/waitFor";

type Auth = [string, string];
const MiB = 1024 * 1024;
const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");
const filesDir = (bus: { dataDir: string }) => path.join(bus.dataDir, "files");
const contentFiles = (dataDir: string) =>
  fs.existsSync(path.join(dataDir, "files")) ? fs.readdirSync(path.join(dataDir, "files")).filter((f) => /^[0-9a-f]{64}$/.test(f)) : [];
const partials = (dataDir: string) => (fs.existsSync(path.join(dataDir, "files", ".partial")) ? fs.readdirSync(path.join(dataDir, "files", ".partial")) : []);
const events = (dataDir: string) =>
  fs.existsSync(path.join(dataDir, "files.jsonl"))
    ? fs
        .readFileSync(path.join(dataDir, "files.jsonl"), "utf8")
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l))
    : [];

const upload = (url: string, bytes: Buffer, name: string, opts: RequestOptions = {}) =>
  request(url, `/files?name=${encodeURIComponent(name)}`, {
    method: "POST",
    body: bytes,
    ...opts,
    headers: { "Content-Type": "application/octet-stream", ...opts.headers },
  });
const put = (url: string, sha: string, part: Buffer, range: string | null, opts: RequestOptions = {}) =>
  request(url, `/files/${sha}?name=part.bin`, { method: "PUT", body: part, ...opts, headers: { ...(range && { "Content-Range": range }), ...opts.headers } });
const download = (url: string, sha: string, opts: RequestOptions = {}) => request(url, `/files/${sha}`, opts);

async function enroll(bus: TestBus, name: string): Promise<Auth> {
  const invited = await postJson(bus.url, "/invites", { name });
  const enrolled = await postJson(bus.url, "/enroll", { code: invited.json.code }, { auth: null });
  expect(enrolled.status).toBe(201);
  return [enrolled.json.user, enrolled.json.pass];
}

/**
 * A request whose headers and `first` bytes are sent and whose body then stops: `cut()` drops the
 * connection, and `answer` resolves with the reply, or with "dropped" when the connection ended without one.
 */
function stalledRequest(url: string, pathname: string, method: string, headers: Record<string, string>, first: Buffer) {
  const req = http.request(url + pathname, { method, headers: { Authorization: basicAuth(USER, PASS), ...headers }, agent: false });
  const answer = new Promise<Reply | "dropped">((resolve) => {
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const bytes = Buffer.concat(chunks);
        const text = bytes.toString("utf8");
        resolve({ status: res.statusCode!, headers: res.headers, text, bytes, json: text.startsWith("{") ? JSON.parse(text) : undefined });
      });
      res.on("error", () => resolve("dropped"));
    });
    req.on("error", () => resolve("dropped"));
    req.on("close", () => resolve("dropped"));
  });
  req.write(first);
  return { req, answer, cut: () => req.destroy() };
}

/**
 * Sends the rest of a resumable upload from where the bus says it got to, once the request that was cut
 * off has let go of it (the bus answers 409 "in progress" until it noticed).
 */
async function resume(url: string, bytes: Buffer): Promise<{ offset: number; answer: Reply }> {
  const sha = sha256(bytes);
  return waitFor("the interrupted upload to let go", async () => {
    const offset = Number((await request(url, `/files/${sha}`, { method: "HEAD" })).headers["upload-offset"]);
    const answer = await put(url, sha, bytes.subarray(offset), `bytes ${offset}-${bytes.length - 1}/${bytes.length}`);
    return answer.status === 409 ? undefined : { offset, answer };
  });
}

let bus: TestBus;
const start = async (opts: TestBusOptions = {}) => (bus = await startBus(opts));
afterEach(async () => {
  await bus?.close();
});

describe("uploading and downloading a file", () => {
  it("stores a POSTed body under its sha256 and gives it back whole, with its name, length and type", async () => {
    await start();
    const bytes = randomBytes(3 * MiB + 17);
    const up = await upload(bus.url, bytes, "build.zip");
    expect(up.status).toBe(201);
    expect(up.json).toEqual({ sha256: sha256(bytes), size: bytes.length, name: "build.zip" });
    expect(contentFiles(bus.dataDir)).toEqual([sha256(bytes)]);
    expect(fs.readFileSync(path.join(filesDir(bus), sha256(bytes))).equals(bytes)).toBe(true);

    const down = await download(bus.url, sha256(bytes));
    expect(down.status).toBe(200);
    expect(sha256(down.bytes)).toBe(sha256(bytes));
    expect(down.headers).toMatchObject({
      "content-length": String(bytes.length),
      "content-type": "application/octet-stream",
      "content-disposition": `attachment; filename="build.zip"; filename*=UTF-8''build.zip`,
      "accept-ranges": "bytes",
      etag: `"${sha256(bytes)}"`,
      "upload-offset": String(bytes.length),
      // From the service itself, not only nginx: a browser neither sniffs the bytes nor runs them as a page.
      "x-content-type-options": "nosniff",
      "content-security-policy": "sandbox",
    });
    const head = await request(bus.url, `/files/${sha256(bytes)}`, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers["content-length"]).toBe(String(bytes.length));
    expect(head.bytes.length).toBe(0);
  });

  it("names the download as asked, any Unicode name in filename* and an ASCII stand-in beside it", async () => {
    await start();
    const bytes = Buffer.from("report\n");
    await upload(bus.url, bytes, "r.txt");
    const named = await download(bus.url, `${sha256(bytes)}?name=${encodeURIComponent('Été "final" 100%.txt')}`);
    expect(named.headers["content-disposition"]).toBe(`attachment; filename="_t_ _final_ 100_.txt"; filename*=UTF-8''%C3%89t%C3%A9%20%22final%22%20100%25.txt`);
  });

  it("stores the same bytes once, however many upload them, and records each upload", async () => {
    await start();
    const alpha = await enroll(bus, "alpha");
    const bytes = randomBytes(200_000);
    expect((await upload(bus.url, bytes, "first.bin")).status).toBe(201);
    const again = await upload(bus.url, bytes, "second.bin", { auth: alpha });
    expect(again.status).toBe(200);
    expect(again.json).toEqual({ sha256: sha256(bytes), size: bytes.length, name: "second.bin" });
    expect(contentFiles(bus.dataDir)).toEqual([sha256(bytes)]);
    expect(fs.readdirSync(path.join(filesDir(bus), ".upload"))).toEqual([]);
    expect(events(bus.dataDir).map((e) => [e.event, e.by, e.name])).toEqual([
      ["stored", "~team", "first.bin"],
      ["stored", "alpha", "second.bin"],
    ]);
    // An empty file is a file too.
    const empty = await upload(bus.url, Buffer.alloc(0), "empty");
    expect(empty.json).toEqual({ sha256: sha256(Buffer.alloc(0)), size: 0, name: "empty" });
    expect((await download(bus.url, empty.json.sha256)).bytes.length).toBe(0);
  });

  it("answers a Range with 206 and exactly those bytes, ignores what it may ignore, and says 416 past the end", async () => {
    await start();
    const bytes = randomBytes(100_000);
    const sha = sha256(bytes);
    await upload(bus.url, bytes, "r.bin");
    const ranged = async (range: string, extra: Record<string, string> = {}) => download(bus.url, sha, { headers: { Range: range, ...extra } });

    const middle = await ranged("bytes=1000-1999");
    expect(middle.status).toBe(206);
    expect(middle.headers["content-range"]).toBe(`bytes 1000-1999/${bytes.length}`);
    expect(middle.bytes.equals(bytes.subarray(1000, 2000))).toBe(true);
    expect((await ranged("bytes=99990-")).bytes.equals(bytes.subarray(99_990))).toBe(true);
    expect((await ranged("bytes=-10")).bytes.equals(bytes.subarray(99_990))).toBe(true);
    expect((await ranged("bytes=99990-200000")).headers["content-range"]).toBe(`bytes 99990-99999/${bytes.length}`);
    // Several ranges, a stale If-Range, nonsense: the whole file.
    for (const [range, extra] of [
      ["bytes=0-1,5-6", {}],
      ["bytes=0-9", { "If-Range": '"other"' }],
      ["lines=1-2", {}],
      ["bytes=9-2", {}],
    ] as const) {
      const whole = await ranged(range, extra);
      expect([range, whole.status, whole.bytes.length]).toEqual([range, 200, bytes.length]);
    }
    expect((await ranged("bytes=0-9", { "If-Range": `"${sha}"` })).status).toBe(206);

    const past = await ranged(`bytes=${bytes.length}-`);
    expect(past.status).toBe(416);
    expect(past.headers["content-range"]).toBe(`bytes */${bytes.length}`);
    expect(past.json).toEqual({ error: `the requested range is not within the file: it has ${bytes.length} bytes` });
  });

  it("resumes a download that broke off, from the byte it got to", async () => {
    await start();
    const bytes = randomBytes(8 * MiB);
    const sha = sha256(bytes);
    await upload(bus.url, bytes, "big.bin");
    const got = await new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let length = 0;
      http
        .get(`${bus.url}/files/${sha}`, { headers: { Authorization: basicAuth(USER, PASS) }, agent: false }, (res) => {
          res.on("data", (c: Buffer) => {
            chunks.push(c);
            length += c.length;
            if (length > MiB) res.destroy();
          });
          res.on("close", () => resolve(Buffer.concat(chunks)));
        })
        .on("error", reject);
    });
    expect(got.length).toBeLessThan(bytes.length);
    const rest = await download(bus.url, sha, { headers: { Range: `bytes=${got.length}-`, "If-Range": `"${sha}"` } });
    expect(rest.status).toBe(206);
    expect(sha256(Buffer.concat([got, rest.bytes]))).toBe(sha);
  });

  it("says 404 for a file it never had, and 400 for what is not a sha256", async () => {
    await start();
    const unknown = await download(bus.url, "a".repeat(64));
    expect(unknown.status).toBe(404);
    expect(unknown.json).toEqual({ error: `no file with sha256 ${"a".repeat(64)} is stored` });
    expect(unknown.headers["upload-offset"]).toBe("0");
    expect((await download(bus.url, "A".repeat(64))).json).toEqual({ error: `"${"A".repeat(64)}" in the path: must be a sha256, 64 lowercase hex digits` });
    const wrongMethod = await request(bus.url, `/files/${"a".repeat(64)}`, { method: "DELETE" });
    expect([wrongMethod.status, wrongMethod.headers.allow]).toEqual([405, "GET, HEAD, PUT"]);
  });
});

describe("a resumable upload", () => {
  it("takes a file in parts, says how far it got, refuses a part that does not start there, and checks the whole hash", async () => {
    await start();
    const bytes = randomBytes(3 * MiB);
    const sha = sha256(bytes);
    expect((await request(bus.url, `/files/${sha}`, { method: "HEAD" })).headers["upload-offset"]).toBe("0");

    const first = await put(bus.url, sha, bytes.subarray(0, MiB), `bytes 0-${MiB - 1}/${bytes.length}`);
    expect(first.status).toBe(202);
    expect(first.json).toEqual({ sha256: sha, offset: MiB, size: bytes.length });
    expect(first.headers["upload-offset"]).toBe(String(MiB));
    const head = await request(bus.url, `/files/${sha}`, { method: "HEAD" });
    expect([head.status, head.headers["upload-offset"]]).toEqual([404, String(MiB)]);
    expect(partials(bus.dataDir)).toEqual([`${sha}.~team`]);

    const again = await put(bus.url, sha, bytes.subarray(0, MiB), `bytes 0-${MiB - 1}/${bytes.length}`);
    expect(again.status).toBe(409);
    expect(again.json).toEqual({ error: `this upload holds ${MiB} bytes: send the file from byte ${MiB}` });
    expect(again.headers["upload-offset"]).toBe(String(MiB));

    const rest = await put(bus.url, sha, bytes.subarray(MiB), `bytes ${MiB}-${bytes.length - 1}/${bytes.length}`);
    expect(rest.status).toBe(201);
    expect(rest.json).toEqual({ sha256: sha, size: bytes.length, name: "part.bin" });
    expect(partials(bus.dataDir)).toEqual([]);
    expect(sha256((await download(bus.url, sha)).bytes)).toBe(sha);

    // Uploaded by this credential already: answered at once, the body not read.
    const done = await put(bus.url, sha, bytes.subarray(0, 10), "bytes 0-9/10");
    expect([done.status, done.json, done.headers["upload-offset"]]).toEqual([200, { sha256: sha, size: bytes.length, name: "part.bin" }, String(bytes.length)]);
  });

  it("discards an upload whose bytes are not the file it named, and says so", async () => {
    await start();
    const bytes = randomBytes(1000);
    const claimed = "b".repeat(64);
    const wrong = await put(bus.url, claimed, bytes, null);
    expect(wrong.status).toBe(400);
    expect(wrong.json).toEqual({
      error: `the 1000 bytes uploaded have sha256 ${sha256(bytes)}, not ${claimed}: the upload was discarded; start again from byte 0`,
    });
    expect(wrong.headers["upload-offset"]).toBe("0");
    expect(partials(bus.dataDir)).toEqual([]);
    expect(contentFiles(bus.dataDir)).toEqual([]);
  });

  it.each([
    ["a Content-Range that is not one", "bytes 0-9", 10, 400, 'Content-Range: must be "bytes START-END/TOTAL" (got "bytes 0-9")'],
    ["END past TOTAL", "bytes 0-9/5", 10, 400, 'Content-Range: needs START <= END < TOTAL (got "bytes 0-9/5")'],
    ["a length other than the range's", "bytes 0-19/40", 10, 400, "Content-Length is 10, but Content-Range names 20 bytes"],
  ])("refuses %s with a 400 and stores nothing", async (_what, range, length, status, error) => {
    await start();
    const answer = await put(bus.url, "c".repeat(64), randomBytes(length), range);
    expect([answer.status, answer.json]).toEqual([status, { error }]);
    expect(partials(bus.dataDir)).toEqual([]);
  });

  it("wants a Content-Length (411), a name (400) and a known query (400)", async () => {
    await start();
    const chunked = await new Promise<Reply>((resolve, reject) => {
      const req = http.request(
        `${bus.url}/files/${"d".repeat(64)}?name=x`,
        { method: "PUT", headers: { Authorization: basicAuth(USER, PASS) }, agent: false },
        (res) => {
          let text = "";
          res.on("data", (c) => (text += c));
          res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, text, bytes: Buffer.from(text), json: JSON.parse(text) }));
        },
      );
      req.on("error", reject);
      req.write("some bytes"); // no Content-Length: node sends it chunked
      req.end();
    });
    expect([chunked.status, chunked.json]).toEqual([411, { error: "Content-Length is required: say how many bytes this part holds" }]);
    const noName = await request(bus.url, `/files/${"d".repeat(64)}`, { method: "PUT", body: "x" });
    expect([noName.status, noName.json]).toEqual([400, { error: "name is required: the file's name (?name=report.pdf)" }]);
    const extra = await request(bus.url, `/files?name=a&mode=x`, { method: "POST", body: "x" });
    expect([extra.status, extra.json]).toEqual([400, { error: "mode: unknown parameter" }]);
  });

  it("keeps what a client sent before it went away, so the retry sends only the rest", async () => {
    await start();
    const bytes = randomBytes(4 * MiB);
    const sha = sha256(bytes);
    const sent = 2 * MiB + 5;
    const upload = stalledRequest(bus.url, `/files/${sha}?name=cut.bin`, "PUT", { "Content-Length": String(bytes.length) }, bytes.subarray(0, sent));
    await waitFor(
      "the first bytes on disk",
      () => partials(bus.dataDir).length === 1 && fs.statSync(path.join(filesDir(bus), ".partial", partials(bus.dataDir)[0])).size >= MiB,
    );
    upload.cut();
    expect(await upload.answer).toBe("dropped");
    const { offset, answer } = await resume(bus.url, bytes);
    expect(offset).toBeGreaterThanOrEqual(MiB);
    expect(offset).toBeLessThanOrEqual(sent);
    expect(answer.status).toBe(201);
    expect(sha256((await download(bus.url, sha)).bytes)).toBe(sha);
  });
});

describe("after kill -9 mid-upload", () => {
  let bundle: string;
  beforeAll(async () => {
    bundle = await buildBundle();
  });
  const env = { PATH: process.env.PATH, BUS_USER: USER, BUS_PASS: PASS };

  it("nothing half-written is visible, and the retry of a whole upload completes", async () => {
    const dataDir = tempDir("killed");
    const bytes = randomBytes(6 * MiB);
    let svc = await spawnBus(bundle, ["serve", "--port", "0", "--data", dataDir], env);
    const upload1 = stalledRequest(svc.url, "/files?name=big.bin", "POST", { "Content-Length": String(bytes.length) }, bytes.subarray(0, 3 * MiB));
    const incoming = path.join(dataDir, "files", ".upload");
    await waitFor(
      "bytes of the upload on disk",
      () => fs.existsSync(incoming) && fs.readdirSync(incoming).some((f) => fs.statSync(path.join(incoming, f)).size > 0),
    );
    svc.child.kill("SIGKILL");
    await svc.exited;
    upload1.cut();

    svc = await spawnBus(bundle, ["serve", "--port", "0", "--data", dataDir], env);
    try {
      expect(fs.readdirSync(incoming)).toEqual([]);
      expect(contentFiles(dataDir)).toEqual([]);
      expect((await download(svc.url, sha256(bytes))).status).toBe(404);
      const retry = await upload(svc.url, bytes, "big.bin");
      expect(retry.status).toBe(201);
      expect(sha256((await download(svc.url, sha256(bytes))).bytes)).toBe(sha256(bytes));
    } finally {
      await svc.stop();
    }
  });

  it("a resumable upload resumes from what reached the disk and completes with its hash checked", async () => {
    const dataDir = tempDir("killed");
    const bytes = randomBytes(6 * MiB);
    const sha = sha256(bytes);
    let svc = await spawnBus(bundle, ["serve", "--port", "0", "--data", dataDir], env);
    const part = stalledRequest(svc.url, `/files/${sha}?name=big.bin`, "PUT", { "Content-Length": String(bytes.length) }, bytes.subarray(0, 4 * MiB));
    const partialFile = path.join(dataDir, "files", ".partial", `${sha}.~team`);
    await waitFor("bytes of the upload on disk", () => fs.existsSync(partialFile) && fs.statSync(partialFile).size >= MiB);
    svc.child.kill("SIGKILL");
    await svc.exited;
    part.cut();

    svc = await spawnBus(bundle, ["serve", "--port", "0", "--data", dataDir], env);
    try {
      expect(contentFiles(dataDir)).toEqual([]);
      const head = await request(svc.url, `/files/${sha}`, { method: "HEAD" });
      expect(head.status).toBe(404);
      const offset = Number(head.headers["upload-offset"]);
      expect(offset).toBeGreaterThanOrEqual(MiB);
      expect(offset).toBeLessThanOrEqual(4 * MiB);
      const rest = await put(svc.url, sha, bytes.subarray(offset), `bytes ${offset}-${bytes.length - 1}/${bytes.length}`);
      expect(rest.status).toBe(201);
      expect(sha256((await download(svc.url, sha)).bytes)).toBe(sha);
    } finally {
      await svc.stop();
    }
  });
});

describe("limits", () => {
  it("refuses a file over the largest on its Content-Length with a 413 naming the limit, before the body is sent", async () => {
    await start({ files: { maxFileBytes: MiB } });
    // Expect: 100-continue: the client waits for the go-ahead, which never comes.
    const refused = stalledRequest(bus.url, "/files?name=big", "POST", { "Content-Length": String(MiB + 1), Expect: "100-continue" }, Buffer.alloc(0));
    let continued = false;
    refused.req.on("continue", () => (continued = true));
    const answer = (await refused.answer) as Reply;
    refused.cut();
    expect(continued).toBe(false);
    expect([answer.status, answer.json]).toEqual([413, { error: "the file is larger than the largest this bus takes: 1048576 bytes (1 MiB)" }]);
    expect((await upload(bus.url, randomBytes(MiB), "exactly.bin")).status).toBe(201);
    expect((await put(bus.url, "e".repeat(64), randomBytes(10), `bytes 0-9/${MiB + 1}`)).json).toEqual({
      error: "the file is larger than the largest this bus takes: 1048576 bytes (1 MiB)",
    });
  });

  it("cuts off a body without Content-Length once it passes the largest file, and keeps nothing of it", async () => {
    await start({ files: { maxFileBytes: MiB } });
    const answer = await new Promise<Reply>((resolve, reject) => {
      const req = http.request(`${bus.url}/files?name=stream`, { method: "POST", headers: { Authorization: basicAuth(USER, PASS) }, agent: false }, (res) => {
        let text = "";
        res.on("data", (c) => (text += c));
        res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, text, bytes: Buffer.from(text), json: JSON.parse(text) }));
      });
      req.on("error", reject);
      req.write(randomBytes(MiB));
      req.write(randomBytes(1000)); // chunked: the bus finds out on the way
      req.end();
    });
    expect([answer.status, answer.headers.connection]).toEqual([413, "close"]);
    expect(contentFiles(bus.dataDir)).toEqual([]);
    expect(fs.readdirSync(path.join(filesDir(bus), ".upload"))).toEqual([]);
  });

  it("answers 507 naming the quota when stored files and partial uploads would pass it, and stores nothing", async () => {
    await start({ files: { quotaBytes: 2.5 * MiB, uploaderQuotaBytes: 3 * MiB } });
    expect((await upload(bus.url, randomBytes(MiB), "one")).status).toBe(201);
    const partialOf = randomBytes(2 * MiB);
    expect((await put(bus.url, sha256(partialOf), partialOf.subarray(0, MiB), `bytes 0-${MiB - 1}/${2 * MiB}`)).status).toBe(202);
    const full = await upload(bus.url, randomBytes(MiB), "two");
    expect(full.status).toBe(507);
    expect(full.json).toEqual({
      error:
        "the file quota is reached: 2621440 bytes (2.5 MiB) for stored files and partial uploads, 2097152 bytes (2 MiB) in use; nothing was stored (files expire 14 days after their last use)",
    });
    const rest = await put(bus.url, sha256(partialOf), partialOf.subarray(MiB), `bytes ${MiB}-${2 * MiB - 1}/${2 * MiB}`);
    expect(rest.status).toBe(507);
    expect(rest.headers["upload-offset"]).toBe(String(MiB));
    expect(contentFiles(bus.dataDir)).toHaveLength(1);
    // The bytes already stored, and what the partial upload holds, are untouched.
    expect(fs.statSync(path.join(filesDir(bus), ".partial", `${sha256(partialOf)}.~team`)).size).toBe(MiB);
  });

  it("answers 507 naming the cap when the bus holds as many files as it keeps, before the body is sent", async () => {
    await start({ files: { maxFiles: 2 } });
    expect((await upload(bus.url, Buffer.from("one"), "1")).status).toBe(201);
    expect((await put(bus.url, "f".repeat(64), Buffer.from("pa"), "bytes 0-1/4")).status).toBe(202);
    // Expect: 100-continue: the client waits for the go-ahead, which never comes.
    const third = stalledRequest(bus.url, "/files?name=3", "POST", { "Content-Length": String(MiB), Expect: "100-continue" }, Buffer.alloc(0));
    let continued = false;
    third.req.on("continue", () => (continued = true));
    const answer = (await third.answer) as Reply;
    third.cut();
    expect(continued).toBe(false);
    expect([answer.status, answer.json]).toEqual([507, { error: "the bus holds 2 files (stored and partial uploads), the most it keeps; nothing was stored" }]);
    expect((await put(bus.url, "9".repeat(64), Buffer.from("pa"), "bytes 0-1/4")).status).toBe(507);
    // The same bytes again add no file: a PUT names them and is taken; a POST, whose bytes are known only once read, is not.
    expect((await put(bus.url, sha256(Buffer.from("one")), Buffer.from("one"), null)).status).toBe(200);
    expect((await upload(bus.url, Buffer.from("one"), "1 again")).status).toBe(507);
  });

  it.each([
    ["..", 'name: must be a file name, not "." or ".."'],
    ["a/b", "name: must be a file name: no '/', '\\' or control characters"],
    ["a\\b", "name: must be a file name: no '/', '\\' or control characters"],
    ["tab\there", "name: must be a file name: no '/', '\\' or control characters"],
    ["é".repeat(128), "name: must be at most 255 bytes of UTF-8"],
    ["", "name: must not be empty"],
  ])("refuses the name %j with a 400", async (name, error) => {
    await start();
    const answer = await upload(bus.url, Buffer.from("x"), name);
    expect([answer.status, answer.json]).toEqual([400, { error }]);
    expect(contentFiles(bus.dataDir)).toEqual([]);
  });

  it("asks for the credential before it reads a byte, and an admin-only team credential may not move files", async () => {
    await start({ teamCredential: "admin-only" });
    expect((await upload(bus.url, Buffer.from("x"), "x", { auth: null })).status).toBe(401);
    const refused = await upload(bus.url, Buffer.from("x"), "x");
    expect([refused.status, refused.json]).toEqual([403, { error: "the team credential is admin-only on this bus: upload with a machine's credential" }]);
    expect((await download(bus.url, "a".repeat(64))).json).toEqual({
      error: "the team credential is admin-only on this bus: download with a machine's credential",
    });
    expect(contentFiles(bus.dataDir)).toEqual([]);
  });
});

describe("attachments", () => {
  it("puts each file's sha256, name and size in the message, and leaves a message without files as it was", async () => {
    await start();
    const a = randomBytes(5000);
    const b = Buffer.from("notes\n");
    await upload(bus.url, a, "a.bin");
    await upload(bus.url, b, "b.txt");
    const posted = await postJson(bus.url, "/post", {
      from: "alpha",
      body: "see attached",
      attachments: [
        { sha256: sha256(a), name: "build.zip" },
        { sha256: sha256(b), name: "notes.txt" },
      ],
    });
    expect(posted.status).toBe(201);
    const attachments = [
      { sha256: sha256(a), name: "build.zip", size: 5000 },
      { sha256: sha256(b), name: "notes.txt", size: 6 },
    ];
    expect(posted.json.attachments).toEqual(attachments);
    const plain = await postJson(bus.url, "/post", { from: "alpha", body: "no files", attachments: [] });
    expect(Object.keys(plain.json)).toEqual(["id", "ts", "from", "to", "body", "tags", "read_by", "thread", "read_at"]);
    const lines = fs.readFileSync(path.join(bus.dataDir, "bus.jsonl"), "utf8").split("\n").filter(Boolean);
    expect(JSON.parse(lines[0]).attachments).toEqual(attachments);
    const { read_at: _readAt, ...stored } = plain.json;
    expect(lines[1]).toBe(JSON.stringify(stored));
    const read = (await request(bus.url, "/messages")).json.messages;
    expect(read.map((m: { attachments?: unknown }) => m.attachments)).toEqual([attachments, undefined]);
  });

  it("refuses a file that is not stored, or gone, naming the attachment and the file", async () => {
    await start();
    const missing = "0".repeat(64);
    const answer = await postJson(bus.url, "/post", { from: "alpha", body: "x", attachments: [{ sha256: missing, name: "x" }] });
    expect([answer.status, answer.json]).toEqual([
      400,
      { error: `attachments[0]: the file with sha256 ${missing} is not stored; upload it first (POST /files)` },
    ]);
    const tooMany = Array.from({ length: MAX_ATTACHMENTS + 1 }, () => ({ sha256: missing, name: "x" }));
    expect((await postJson(bus.url, "/post", { from: "alpha", body: "x", attachments: tooMany })).json).toEqual({
      error: `attachments: at most ${MAX_ATTACHMENTS} attachments`,
    });
    expect((await postJson(bus.url, "/post", { from: "alpha", body: "x", attachments: [{ sha256: missing, name: "../x" }] })).json).toEqual({
      error: "attachments[0].name: must be a file name: no '/', '\\' or control characters",
    });
    expect((await postJson(bus.url, "/post", { from: "alpha", body: "x", attachments: [{ sha256: "x" }] })).json).toEqual({
      error: "attachments[0].sha256: must be a sha256: 64 lowercase hex digits",
    });
    expect((await request(bus.url, "/health")).json.count).toBe(0);
  });

  it("lets a machine attach only files it uploaded itself; the team credential attaches any", async () => {
    await start();
    const alpha = await enroll(bus, "alpha");
    const bravo = await enroll(bus, "bravo");
    const bytes = randomBytes(1000);
    const sha = sha256(bytes);
    expect((await upload(bus.url, bytes, "a.bin", { auth: alpha })).status).toBe(201);
    expect((await postJson(bus.url, "/post", { from: "alpha", body: "mine", attachments: [{ sha256: sha, name: "a.bin" }] }, { auth: alpha })).status).toBe(
      201,
    );
    const theirs = await postJson(bus.url, "/post", { from: "bravo", body: "theirs", attachments: [{ sha256: sha, name: "a.bin" }] }, { auth: bravo });
    expect([theirs.status, theirs.json]).toEqual([
      400,
      {
        error: `attachments[0]: the file with sha256 ${sha} was not uploaded by "bravo"; a machine attaches only files it uploaded (upload it too: its bytes are stored once)`,
      },
    ]);
    // Bravo may read it, and once it has sent the same bytes itself it may attach them.
    expect(sha256((await download(bus.url, sha, { auth: bravo })).bytes)).toBe(sha);
    expect((await request(bus.url, `/files/${sha}`, { method: "HEAD", auth: bravo })).headers["upload-offset"]).toBe("0");
    expect((await upload(bus.url, bytes, "copy.bin", { auth: bravo })).status).toBe(200);
    expect(
      (await postJson(bus.url, "/post", { from: "bravo", body: "now mine too", attachments: [{ sha256: sha, name: "a.bin" }] }, { auth: bravo })).status,
    ).toBe(201);
    expect(contentFiles(bus.dataDir)).toEqual([sha]);
    expect((await postJson(bus.url, "/post", { from: "charlie", body: "team", attachments: [{ sha256: sha, name: "a.bin" }] })).status).toBe(201);
  });

  it("replays a repeated post with the same attachments and refuses one with others under the same key (422)", async () => {
    await start();
    const [a, b] = [Buffer.from("a"), Buffer.from("b")];
    await upload(bus.url, a, "a");
    await upload(bus.url, b, "b");
    const headers = { "Idempotency-Key": "k-1" };
    const first = await postJson(bus.url, "/post", { from: "alpha", body: "x", attachments: [{ sha256: sha256(a), name: "a" }] }, { headers });
    const repeat = await postJson(bus.url, "/post", { from: "alpha", body: "x", attachments: [{ sha256: sha256(a), name: "a" }] }, { headers });
    expect([repeat.status, repeat.json]).toEqual([200, first.json]);
    expect((await postJson(bus.url, "/post", { from: "alpha", body: "x", attachments: [{ sha256: sha256(b), name: "a" }] }, { headers })).status).toBe(422);
  });
});

describe("expiry", () => {
  const DAY = 86_400_000;
  /** A data dir whose files were uploaded `ages` days ago, and whose messages (posted `ago` days ago) attach some of them. */
  function agedDataDir(ages: Record<string, number>, messages: Array<{ ago: number; attaches: string[] }>): { dir: string; sha: Record<string, string> } {
    const dir = tempDir("expiry");
    fs.mkdirSync(path.join(dir, "files"));
    const sha: Record<string, string> = {};
    const now = Date.now();
    const lines = Object.entries(ages).map(([name, days]) => {
      const bytes = Buffer.from(`the file called ${name}`);
      sha[name] = sha256(bytes);
      fs.writeFileSync(path.join(dir, "files", sha[name]), bytes);
      return `${JSON.stringify({ event: "stored", sha256: sha[name], size: bytes.length, name, by: "~team", time: now - days * DAY })}\n`;
    });
    fs.writeFileSync(path.join(dir, "files.jsonl"), lines.join(""));
    const bus = messages.map(
      ({ ago, attaches }, i) =>
        `${JSON.stringify({
          id: String(i + 1),
          ts: new Date(now - ago * DAY).toISOString(),
          from: "a",
          to: "any",
          body: "files",
          tags: [],
          read_by: ["a"],
          thread: String(i + 1),
          attachments: attaches.map((name) => ({ sha256: sha[name], name, size: 1 })),
        })}\n`,
    );
    fs.writeFileSync(path.join(dir, "bus.jsonl"), bus.join(""));
    return { dir, sha };
  }

  it("deletes files older than the age limit that no message younger than it attaches, and nothing else", async () => {
    const { dir, sha } = agedDataDir({ old: 20, oldAttachedLongAgo: 20, oldAttachedLately: 20, young: 1 }, [
      { ago: 20, attaches: ["oldAttachedLongAgo"] },
      { ago: 3, attaches: ["oldAttachedLately"] },
    ]);
    const partialDir = path.join(dir, "files", ".partial");
    fs.mkdirSync(partialDir);
    fs.writeFileSync(path.join(partialDir, `${"1".repeat(64)}.alpha`), "stale");
    fs.utimesSync(path.join(partialDir, `${"1".repeat(64)}.alpha`), new Date(Date.now() - 25 * 3_600_000), new Date(Date.now() - 25 * 3_600_000));
    fs.writeFileSync(path.join(partialDir, `${"2".repeat(64)}.alpha`), "fresh");
    await start({ dataDir: dir, files: { maxAgeDays: 14 } });
    await waitFor("the expiry at start", () => bus.logs.some((l) => l.includes('"msg":"expired files deleted"')));
    expect(bus.logs.find((l) => l.includes('"msg":"expired files deleted"'))).toContain('"files":2,"partials":1');
    expect(contentFiles(dir).sort()).toEqual([sha.oldAttachedLately, sha.young].sort());
    expect(partials(dir)).toEqual([`${"2".repeat(64)}.alpha`]);
    for (const name of ["old", "oldAttachedLongAgo"]) {
      const gone = await download(bus.url, sha[name]);
      expect([name, gone.status, gone.json]).toEqual([
        name,
        410,
        { error: `the file with sha256 ${sha[name]} is gone: files are kept 14 days after their last upload and after the newest message that attaches them` },
      ]);
    }
    for (const name of ["oldAttachedLately", "young"]) expect((await download(bus.url, sha[name])).status).toBe(200);
    expect(
      events(dir)
        .filter((e) => e.event === "deleted")
        .map((e) => e.sha256)
        .sort(),
    ).toEqual([sha.old, sha.oldAttachedLongAgo].sort());
    const attach = await postJson(bus.url, "/post", { from: "a", body: "x", attachments: [{ sha256: sha.old, name: "old" }] });
    expect([attach.status, attach.json]).toEqual([400, { error: `attachments[0]: the file with sha256 ${sha.old} is gone (it expired); upload it again` }]);

    // An expired file uploaded again is back.
    expect((await upload(bus.url, Buffer.from("the file called old"), "old")).status).toBe(201);
    expect((await download(bus.url, sha.old)).status).toBe(200);
    await bus.close();
    await start({ dataDir: dir, files: { maxAgeDays: 14 } });
    expect((await download(bus.url, sha.old)).status).toBe(200);
    expect((await download(bus.url, sha.oldAttachedLongAgo)).status).toBe(410);
  });
});

describe("what lasts", () => {
  it("keeps files, their uploaders and partial uploads across a restart", async () => {
    await start();
    const alpha = await enroll(bus, "alpha");
    const whole = randomBytes(10_000);
    const half = randomBytes(10_000);
    await upload(bus.url, whole, "whole.bin", { auth: alpha });
    await put(bus.url, sha256(half), half.subarray(0, 4000), "bytes 0-3999/10000", { auth: alpha });
    const dataDir = bus.dataDir;
    await bus.close();
    await start({ dataDir });
    expect(sha256((await download(bus.url, sha256(whole))).bytes)).toBe(sha256(whole));
    expect((await postJson(bus.url, "/post", { from: "alpha", body: "x", attachments: [{ sha256: sha256(whole), name: "w" }] }, { auth: alpha })).status).toBe(
      201,
    );
    expect((await request(bus.url, `/files/${sha256(half)}`, { method: "HEAD", auth: alpha })).headers["upload-offset"]).toBe("4000");
    expect((await put(bus.url, sha256(half), half.subarray(4000), "bytes 4000-9999/10000", { auth: alpha })).status).toBe(201);
  });

  it("backs up what is known of the files, not their bytes: restored elsewhere, a message keeps its attachments, which answer 410", async () => {
    await start();
    const bytes = randomBytes(1000);
    await upload(bus.url, bytes, "f.bin");
    const posted = await postJson(bus.url, "/post", { from: "a", body: "x", attachments: [{ sha256: sha256(bytes), name: "f.bin" }] });
    const backup = await request(bus.url, "/backup");
    const entries = readTar(zlib.gunzipSync(backup.bytes));
    expect(entries.find((e) => e.name === "files.jsonl")!.data.toString()).toContain(`"sha256":"${sha256(bytes)}"`);
    expect(entries.map((e) => e.name)).not.toContain(`files/${sha256(bytes)}`);

    const elsewhere = tempDir("restored");
    await restoreBackup(backup.bytes, elsewhere, { force: false });
    const original = bus;
    await start({ dataDir: elsewhere });
    try {
      expect((await request(bus.url, "/messages")).json.messages).toEqual([posted.json]);
      expect((await download(bus.url, sha256(bytes))).status).toBe(410);
    } finally {
      await original.close();
    }
    // Restored over the data dir that still holds the bytes, the file is there as before.
    const same = original.dataDir;
    await bus.close();
    await restoreBackup(backup.bytes, same, { force: true });
    await start({ dataDir: same });
    expect(sha256((await download(bus.url, sha256(bytes))).bytes)).toBe(sha256(bytes));
  });
});

// Margins of seconds, so a loaded runner cannot flip them: a late timer only makes a slow body slower
// (still past requestMs), and each pause stays far inside uploadIdleMs.
describe("slow and stalled bodies", () => {
  it("lets an upload take longer than a request may, as long as it keeps sending", async () => {
    await start({ timeouts: { requestMs: 2_000, uploadIdleMs: 10_000 } });
    const bytes = randomBytes(100_000);
    const slow = stalledRequest(bus.url, "/files?name=slow", "POST", { "Content-Length": String(bytes.length) }, bytes.subarray(0, 10_000));
    // 9 pauses of 500 ms: the body is still arriving 2.5 s after requestMs
    for (let at = 10_000; at < bytes.length; at += 10_000) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      slow.req.write(bytes.subarray(at, at + 10_000));
    }
    slow.req.end();
    const answer = (await slow.answer) as Reply;
    expect([answer.status, answer.json.sha256]).toEqual([201, sha256(bytes)]);
  });

  it("cuts off an upload that stops sending, keeping a resumable one's bytes; a stalled JSON body gets 408", async () => {
    // uploadIdleMs past requestMs: a stalled upload is cut by its idleness, never answered 408
    await start({ timeouts: { requestMs: 2_000, uploadIdleMs: 5_000 } });
    const bytes = randomBytes(50_000);
    const sha = sha256(bytes);
    const stalled = stalledRequest(bus.url, `/files/${sha}?name=s`, "PUT", { "Content-Length": String(bytes.length) }, bytes.subarray(0, 20_000));
    expect(await stalled.answer).toBe("dropped");
    const { offset, answer } = await resume(bus.url, bytes);
    expect([offset, answer.status]).toEqual([20_000, 201]);

    const json = stalledRequest(bus.url, "/post", "POST", { "Content-Type": "application/json", "Content-Length": "100" }, Buffer.from('{"from":"a",'));
    const timedOut = (await json.answer) as Reply;
    expect([timedOut.status, timedOut.json]).toEqual([408, { error: "the request's body did not arrive in time" }]);
  });
});
