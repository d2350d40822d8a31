/**
 * How users start claude-bus: bin/claude-bus (through its own shebang, on this machine's Node) and
 * `npm start`, both on the build that `npm test` makes first.
 */
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { tempDir } from "../support/tempDir";
import { freePort } from "../support/ports";
import { request } from "../support/http";
import { waitFor } from "../support/waitFor";

const REPO = path.resolve(__dirname, "../..");
const BIN = path.join(REPO, "bin", "claude-bus");

beforeAll(() => {
  if (!fs.existsSync(path.join(REPO, "dist", "cli", "main.js"))) throw new Error("dist/ is missing: run `npm run build` (npm test builds first)");
});

describe("bin/claude-bus", () => {
  it("gets --env-file itself, whatever Node does with that flag: the error is the CLI's own, naming the file", () => {
    const missing = path.join(tempDir("env"), "missing.env");
    const run = spawnSync(BIN, ["health", "--env-file", missing], { encoding: "utf8", env: { PATH: process.env.PATH, HOME: tempDir("home") } });
    expect(run.stderr).toBe(`claude-bus health: ${missing} not found (given by --env-file)\n`);
    expect(run.status).toBe(1);
  });

  it("runs `hook` from its own bundle (dist/hook.js), which always exits 0 and says what is wrong as hook JSON", () => {
    expect(fs.existsSync(path.join(REPO, "dist", "hook.js"))).toBe(true);
    const home = tempDir("home");
    const run = spawnSync(BIN, ["hook"], {
      input: '{"session_id":"s1","hook_event_name":"SessionStart"}',
      encoding: "utf8",
      env: { PATH: process.env.PATH, HOME: home },
    });
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ systemMessage: expect.stringMatching(/^claude-bus: no messages this time: .*run `claude-bus bootstrap` first/) });
    const help = spawnSync(BIN, ["hook", "--help"], { encoding: "utf8" });
    expect([help.status, help.stdout]).toEqual([0, expect.stringMatching(/^usage: claude-bus hook \[options\]/)]);
  });

  it("--version and --help answer without loading a command", () => {
    const version = spawnSync(BIN, ["--version"], { encoding: "utf8" });
    expect(version.stdout).toBe(`claude-bus ${JSON.parse(fs.readFileSync(path.join(REPO, "package.json"), "utf8")).version}\n`);
    expect(version.status).toBe(0);
  });
});

describe("npm start", () => {
  it.each(["SIGTERM", "SIGINT"] as const)("stops the bus when %s reaches the process the user started", async (signal) => {
    const port = await freePort();
    const data = path.join(tempDir("data"), "data");
    const npm = spawn("npm", ["start", "--silent", "--", "--port", String(port), "--data", data], {
      cwd: REPO,
      env: { PATH: process.env.PATH, HOME: tempDir("home"), BUS_USER: "claude", BUS_PASS: "NpmStartPassw0rdNpmStartPass" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    npm.stdout.on("data", (d) => (out += d));
    npm.stderr.on("data", (d) => (out += d));
    const exited = new Promise<number | null>((resolve) => npm.on("exit", (code) => resolve(code)));
    await waitFor("npm start to listen", () => out.includes('"msg":"listening"'), { timeoutMs: 30_000 });
    expect((await request(`http://127.0.0.1:${port}`, "/health", { auth: ["claude", "NpmStartPassw0rdNpmStartPass"] })).status).toBe(200);

    npm.kill(signal);
    await exited;
    expect(out).toContain('"msg":"stopped"');
    await expect(request(`http://127.0.0.1:${port}`, "/health")).rejects.toThrow(/ECONNREFUSED/);
  });
});

describe("the build", () => {
  it("runs nothing on import: loading every module starts no server and prints nothing", () => {
    const modules = ["cli/main", "cli/loaders", "cli/commands/serve", "cli/commands/messaging", "service/http/server", "client/index", "contract/message"];
    const script = modules.map((m) => `require(${JSON.stringify(path.join(REPO, "dist", m))});`).join("");
    const run = spawnSync(process.execPath, ["-e", script], { encoding: "utf8", timeout: 10_000, env: { PATH: process.env.PATH } });
    expect([run.status, run.stdout, run.stderr]).toEqual([0, "", ""]);
  });
});

describe("the repository", () => {
  it("ignores npm start's data dir, which holds the local password", () => {
    const check = spawnSync("git", ["check-ignore", "data/claude-bus.env", "data/bus.jsonl"], { cwd: REPO, encoding: "utf8" });
    expect([check.stderr, check.stdout]).toEqual(["", "data/claude-bus.env\ndata/bus.jsonl\n"]);
  });
});
