import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as path from "node:path";
import { parseCommand } from "../../cli/args";
import { serveSettings } from "../../cli/commands/serve";
import { buildBundle, spawnBus } from "../support/bus";
import { freePort } from "../support/ports";
import { basicAuth, postJson, request } from "../support/http";
import { tempDir } from "../support/tempDir";
import { waitFor } from "../support/waitFor";

describe("claude-bus serve", () => {
  let bundle: string;
  beforeAll(async () => {
    bundle = await buildBundle();
  });
  const baseEnv = { PATH: process.env.PATH };

  test("argument parsing through the CLI's one parser: defaults, both flag forms, clear errors", () => {
    const parseServeArgs = (argv: string[]) => serveSettings(parseCommand("serve", argv));
    expect(parseServeArgs([])).toEqual({ host: "127.0.0.1", port: 8787, data: "./data", teamCredential: "member", files: {} });
    expect(parseServeArgs(["--host", "0.0.0.0", "--port=9000", "--data", "/srv/bus", "--team-credential", "admin-only"])).toEqual({
      host: "0.0.0.0",
      port: 9000,
      data: "/srv/bus",
      teamCredential: "admin-only",
      files: {},
    });
    expect(parseServeArgs(["--max-file-mib", "20", "--file-quota-mib", "1024", "--file-max-age-days", "3"]).files).toEqual({
      maxFileBytes: 20 * 1024 * 1024,
      quotaBytes: 1024 * 1024 * 1024,
      maxAgeDays: 3,
    });
    expect(
      parseServeArgs(["--uploader-max-files", "50", "--uploader-quota-mib", "256", "--uploader-max-partials", "4", "--max-long-polls", "8", "--behind-proxy"]),
    ).toMatchObject({ files: { uploaderMaxFiles: 50, uploaderQuotaBytes: 256 * 1024 * 1024, uploaderMaxPartials: 4 }, maxLongPolls: 8, behindProxy: true });
    expect(() => parseServeArgs(["--uploader-max-files", "0"])).toThrow("serve: --uploader-max-files must be a whole number of files from 1 to 10000");
    expect(() => parseServeArgs(["--max-long-polls", "x"])).toThrow("serve: --max-long-polls must be a whole number of long-polls from 1 to 100000");
    expect(() => parseServeArgs(["--max-file-mib", "0"])).toThrow("serve: --max-file-mib must be a whole number of MiB from 1 to 10240");
    expect(() => parseServeArgs(["--file-quota-mib", "1.5"])).toThrow(
      "serve: --file-quota-mib must be a whole number of MiB from 0 (50% of the data volume) to 16777216",
    );
    expect(() => parseServeArgs(["--file-max-age-days", "9999"])).toThrow("serve: --file-max-age-days must be a whole number of days from 1 to 3650");
    expect(() => parseServeArgs(["--team-credential", "root"])).toThrow('serve: --team-credential must be "member" or "admin-only"');
    expect(() => parseServeArgs(["--port", "http"])).toThrow("serve: --port must be a whole number from 0 to 65535");
    expect(() => parseServeArgs(["--port", "70000"])).toThrow("serve: --port must be a whole number from 0 to 65535");
    expect(() => parseServeArgs(["--verbose", "1"])).toThrow("serve: unknown option --verbose");
    expect(() => parseServeArgs(["--data"])).toThrow("serve: --data needs a value");
    expect(() => parseServeArgs(["extra"])).toThrow('serve takes no arguments (got "extra")');
  });

  test("with no credential it writes a 0600 env file the seed's curl can source, and reuses it on restart", async () => {
    const dataDir = path.join(tempDir(), "data");
    const first = await spawnBus(bundle, ["serve", "--port", "0", "--data", dataDir], baseEnv);
    const envFile = path.join(dataDir, "claude-bus.env");
    let env: Record<string, string>;
    try {
      await waitFor("the first start to write the env file", () => first.stdout().includes("local credentials written"));
      expect(fs.statSync(envFile).mode & 0o777).toBe(0o600);
      env = Object.fromEntries(
        fs
          .readFileSync(envFile, "utf8")
          .trim()
          .split("\n")
          .map((l) => l.split(/=(.*)/s).slice(0, 2)),
      );
      expect(env).toEqual({ BUS_USER: "claude", BUS_PASS: expect.stringMatching(/^[A-Za-z0-9]{28}$/), BUS_URL: first.url });
      expect(first.stdout()).toContain(envFile);
      expect(first.stdout()).not.toContain(env.BUS_PASS);
      const curl = spawnSync("bash", ["-c", `source "${envFile}" && curl -s -u "$BUS_USER:$BUS_PASS" "$BUS_URL/health"`], { encoding: "utf8" });
      expect(JSON.parse(curl.stdout)).toMatchObject({ ok: true, count: 0 });
    } finally {
      first.child.kill("SIGTERM");
      await first.exited;
    }
    const second = await spawnBus(bundle, ["--port", "0", "--data", dataDir], baseEnv);
    try {
      await waitFor("the second start, on another port, to rewrite the env file's URL", () => second.stdout().includes("local credentials written"));
      const again = fs.readFileSync(envFile, "utf8");
      expect(again).toContain(`BUS_PASS=${env.BUS_PASS}\n`);
      expect(again).toContain(`BUS_URL=${second.url}\n`);
      expect((await request(second.url, "/health", { auth: ["claude", env.BUS_PASS] })).status).toBe(200);
    } finally {
      second.child.kill("SIGTERM");
      await second.exited;
    }
  });

  test("BUS_USER/BUS_PASS from the environment are used and nothing is written", async () => {
    const dataDir = tempDir();
    const svc = await spawnBus(bundle, ["--port", "0", "--data", dataDir], { ...baseEnv, BUS_USER: "ops", BUS_PASS: "env-secret-value" });
    try {
      expect((await request(svc.url, "/health", { auth: ["ops", "env-secret-value"] })).status).toBe(200);
      expect((await request(svc.url, "/health", { auth: ["claude", "env-secret-value"] })).status).toBe(401);
      expect(fs.existsSync(path.join(dataDir, "claude-bus.env"))).toBe(false);
      expect(svc.stdout()).not.toContain("env-secret-value");
    } finally {
      svc.child.kill("SIGTERM");
      await svc.exited;
    }
  });

  test("the file limits given as flags are the running bus's", async () => {
    const svc = await spawnBus(bundle, ["--port", "0", "--data", tempDir(), "--max-file-mib", "1", "--file-quota-mib", "3", "--uploader-quota-mib", "3"], {
      ...baseEnv,
      BUS_USER: "ops",
      BUS_PASS: "env-secret-value",
    });
    try {
      const upload = (bytes: number) =>
        request(svc.url, "/files?name=f", { method: "POST", body: Buffer.alloc(bytes, bytes % 251), auth: ["ops", "env-secret-value"] });
      expect((await upload(1024 * 1024 + 1)).json).toEqual({ error: "the file is larger than the largest this bus takes: 1048576 bytes (1 MiB)" });
      for (const size of [1, 2, 3].map((n) => 1024 * 1024 - n)) expect((await upload(size)).status).toBe(201);
      expect((await upload(10)).json.error).toMatch(/^the file quota is reached: 3145728 bytes \(3 MiB\)/);
    } finally {
      svc.child.kill("SIGTERM");
      await svc.exited;
    }
  });

  test("the per-credential limits and the proxy setting given as flags are the running bus's", async () => {
    const args = ["--port", "0", "--data", tempDir(), "--uploader-max-files", "1", "--max-long-polls", "1", "--behind-proxy"];
    const svc = await spawnBus(bundle, args, { ...baseEnv, BUS_USER: "ops", BUS_PASS: "env-secret-value" });
    const auth: [string, string] = ["ops", "env-secret-value"];
    try {
      const upload = (text: string) => request(svc.url, "/files?name=f", { method: "POST", body: text, auth });
      expect((await upload("one")).status).toBe(201);
      expect((await upload("two")).json.error).toMatch(/^the team credential holds 1 files/);
      // Behind the proxy the team credential's long-polls count per X-Real-IP: another address still waits.
      const held = http.get(`${svc.url}/messages?to=nobody&wait=60`, {
        headers: { Authorization: basicAuth(...auth), "X-Real-IP": "198.51.100.1" },
        agent: false,
      });
      held.on("error", () => undefined);
      const from = (address: string) => request(svc.url, "/messages?to=nobody&wait=1", { auth, headers: { "X-Real-IP": address } });
      await waitFor("the first long-poll to be held", async () => (await from("198.51.100.1")).status === 429);
      expect((await from("198.51.100.2")).status).toBe(200);
      held.destroy();
    } finally {
      svc.child.kill("SIGTERM");
      await svc.exited;
    }
  });

  test("BUS_CREDENTIALS_FILE is re-read on SIGHUP: rotation with an overlap, no restart; a broken file keeps the old one", async () => {
    const dir = tempDir();
    const credFile = path.join(dir, "service.env");
    fs.writeFileSync(credFile, "BUS_USER=claude\nBUS_PASS=old-password\n", { mode: 0o600 });
    const svc = await spawnBus(bundle, ["--port", "0", "--data", path.join(dir, "data")], { ...baseEnv, BUS_CREDENTIALS_FILE: credFile });
    const status = async (pass: string) => (await request(svc.url, "/health", { auth: ["claude", pass] })).status;
    const reloads = () =>
      svc
        .stdout()
        .split("\n")
        .filter((l) => l.includes("credentials reload")).length;
    const hup = async () => {
      const before = reloads();
      svc.child.kill("SIGHUP");
      await waitFor("the service to log the reload", () => reloads() > before);
    };
    try {
      expect(await status("old-password")).toBe(200);
      fs.writeFileSync(credFile, "BUS_USER=claude\nBUS_PASS=new-password\nBUS_PASS_PREVIOUS=old-password\n");
      await hup();
      expect([await status("old-password"), await status("new-password")]).toEqual([200, 200]);
      fs.writeFileSync(credFile, "export BUS_USER='claude'\nBUS_PASS=\"new-password\" # rotated\n");
      await hup();
      expect([await status("old-password"), await status("new-password")]).toEqual([401, 200]);
      fs.writeFileSync(credFile, "BUS_USER=claude\n");
      await hup();
      expect(svc.stdout()).toContain("credentials reload failed; keeping the old ones");
      expect(await status("new-password")).toBe(200);
      expect(svc.stdout()).not.toMatch(/old-password|new-password/);
    } finally {
      svc.child.kill("SIGTERM");
      await svc.exited;
    }
  });

  test("a SIGHUP while the store replays neither kills the bus nor gets lost", async () => {
    const dir = tempDir();
    const dataDir = path.join(dir, "data");
    fs.mkdirSync(dataDir);
    // Enough messages that the replay outlasts the round trip of a log line and a signal.
    const line = (n: number) =>
      JSON.stringify({ id: String(n), ts: "2026-01-01T00:00:00.000Z", from: "a", to: "b", body: "x".repeat(200), tags: [], read_by: ["a"] });
    fs.writeFileSync(path.join(dataDir, "bus.jsonl"), Array.from({ length: 300_000 }, (_, i) => `${line(i + 1)}\n`).join(""));
    const credFile = path.join(dir, "service.env");
    fs.writeFileSync(credFile, "BUS_USER=claude\nBUS_PASS=old-password\n", { mode: 0o600 });

    let replayedBeforeHup: boolean | undefined;
    const svc = await spawnBus(bundle, ["--port", "0", "--data", dataDir], { ...baseEnv, BUS_CREDENTIALS_FILE: credFile }, (out, child) => {
      if (replayedBeforeHup !== undefined || !out.includes('"msg":"starting"')) return;
      // Replaced atomically, as the host's steps do: start-up reads the old file or the new one, never half.
      fs.writeFileSync(`${credFile}.new`, "BUS_USER=claude\nBUS_PASS=new-password\n");
      fs.renameSync(`${credFile}.new`, credFile);
      replayedBeforeHup = out.includes('"msg":"store replayed"');
      child.kill("SIGHUP");
    });
    try {
      expect(replayedBeforeHup).toBe(false);
      const status = async (pass: string) => (await request(svc.url, "/health", { auth: ["claude", pass] })).status;
      await waitFor("the early SIGHUP's reload", () => svc.stdout().includes("credentials reloaded"));
      expect([await status("old-password"), await status("new-password")]).toEqual([401, 200]);
    } finally {
      svc.child.kill("SIGTERM");
      await svc.exited;
    }
  });

  test("SIGTERM: stops accepting, finishes in-flight writes, exits 0", async () => {
    const dataDir = tempDir();
    const svc = await spawnBus(bundle, ["--port", "0", "--data", dataDir], { ...baseEnv, BUS_USER: "claude", BUS_PASS: "pw" });
    const posts = Array.from({ length: 40 }, (_, i) =>
      postJson(svc.url, "/post", { from: "a", body: `m${i}` }, { auth: ["claude", "pw"] }).catch((e: Error) => e),
    );
    await Promise.race(posts);
    svc.child.kill("SIGTERM");
    const results = await Promise.all(posts);
    expect(await svc.exited).toEqual({ code: 0, signal: null });
    const created = results.filter((r) => !(r instanceof Error) && r.status === 201) as Array<{ json: { id: string; body: string } }>;
    expect(created.length).toBeGreaterThan(0);
    const onDisk = fs
      .readFileSync(path.join(dataDir, "bus.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    for (const r of created) expect(onDisk).toContainEqual(expect.objectContaining({ id: r.json.id, body: r.json.body }));
    expect(svc.stdout()).toContain('"msg":"stopped"');
  });

  test("a second serve on the same data dir exits 1 at once, naming the dir and the first one's pid, and touches nothing", async () => {
    const dataDir = path.join(tempDir(), "data");
    const env = { ...baseEnv, BUS_USER: "claude", BUS_PASS: "LockTestPassw0rdLockTestPass" };
    const first = await spawnBus(bundle, ["--port", "0", "--data", dataDir], env);
    try {
      for (const body of ["one", "two", "three"]) {
        expect((await postJson(first.url, "/post", { from: "a", body }, { auth: ["claude", env.BUS_PASS] })).status).toBe(201);
      }
      const file = path.join(dataDir, "bus.jsonl");
      const before = { bytes: fs.readFileSync(file), mtime: fs.statSync(file).mtimeMs, entries: fs.readdirSync(dataDir).sort() };
      const second = spawnSync(process.execPath, [bundle, "--port", "0", "--data", dataDir], { env, encoding: "utf8", timeout: 10_000 });
      expect(second.status).toBe(1);
      expect(second.stderr).toContain(`data dir ${dataDir} is in use by another claude-bus (pid ${first.child.pid})`);
      expect({ bytes: fs.readFileSync(file), mtime: fs.statSync(file).mtimeMs, entries: fs.readdirSync(dataDir).sort() }).toEqual(before);
      expect((await postJson(first.url, "/post", { from: "a", body: "four" }, { auth: ["claude", env.BUS_PASS] })).json.id).toBe("4");
    } finally {
      await first.stop();
    }
  });

  test("a restart at the same address reuses the env file untouched, and says how to point the CLI at the bus", async () => {
    const dataDir = path.join(tempDir(), "data");
    const port = String(await freePort());
    const envFile = path.join(dataDir, "claude-bus.env");
    const first = await spawnBus(bundle, ["--port", port, "--data", dataDir], baseEnv);
    await waitFor("the first start to write the env file", () => first.stdout().includes('"msg":"local credentials written"'));
    await first.stop();
    expect(first.stderr()).toContain(`export BUS_ENV_FILE=${envFile}\n`);
    const before = { text: fs.readFileSync(envFile, "utf8"), stat: fs.statSync(envFile) };

    const second = await spawnBus(bundle, ["--port", port, "--data", dataDir], baseEnv);
    try {
      await waitFor("the restart to reuse the env file", () => second.stdout().includes('"msg":"local credentials reused"'));
      expect(second.stdout()).not.toContain("local credentials written");
      const after = fs.statSync(envFile);
      expect([fs.readFileSync(envFile, "utf8"), after.ino, after.mtimeMs]).toEqual([before.text, before.stat.ino, before.stat.mtimeMs]);
    } finally {
      await second.stop();
    }
  });

  test.each([
    [["--port", "nope"], {}, "serve: --port must be a whole number from 0 to 65535"],
    [["--bogus"], {}, "unknown option --bogus"],
    [[], { BUS_USER: "claude" }, "BUS_USER is set but BUS_PASS is not"],
    [[], { BUS_CREDENTIALS_FILE: "/nonexistent/claude-bus.env" }, "ENOENT"],
  ])("bad invocation %j %j exits 1 with a clear message", (args, env, message) => {
    const run = spawnSync(process.execPath, [bundle, "--data", tempDir(), ...args], { env: { ...baseEnv, ...env }, encoding: "utf8" });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain(message);
  });
});
