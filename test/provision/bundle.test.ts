import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { buildServiceBundle } from "../../provision/bundle";
import { type BusProcess, spawnBus } from "../support/bus";
import { request } from "../support/http";
import { tempDir } from "../support/tempDir";
import { waitFor } from "../support/waitFor";

describe("buildServiceBundle", () => {
  let dir: string;
  let bus: BusProcess | undefined;
  beforeAll(() => (dir = tempDir("bundle")));
  afterAll(async () => bus?.stop());

  it("makes one deterministic CommonJS file whose sha256 it reports", async () => {
    const first = await buildServiceBundle(path.join(dir, "a"));
    const second = await buildServiceBundle(path.join(dir, "b"));
    expect(path.basename(first.file)).toBe("claude-bus.js");
    expect(first.sha256).toBe(createHash("sha256").update(fs.readFileSync(first.file)).digest("hex"));
    expect(second.sha256).toBe(first.sha256);
    expect(fs.readdirSync(path.join(dir, "a"))).toEqual(["claude-bus.js"]);
  });

  it("has the same bytes whatever directory it is built from (Pulumi runs in infra/, the CLI anywhere)", () => {
    // A process of its own per directory: esbuild's service keeps the cwd it started in.
    const repo = path.join(__dirname, "../..");
    const build = (cwd: string, out: string) => {
      const code = `require(${JSON.stringify(path.join(repo, "provision/bundle"))}).buildServiceBundle(${JSON.stringify(out)}).then((b) => console.log(b.sha256))`;
      const run = spawnSync(process.execPath, ["-r", require.resolve("ts-node/register/transpile-only"), "-e", code], {
        cwd,
        encoding: "utf8",
        env: { PATH: process.env.PATH, TS_NODE_PROJECT: path.join(repo, "tsconfig.json") },
      });
      if (run.status !== 0) throw new Error(run.stderr);
      return run.stdout.trim();
    };
    const hashes = [repo, path.join(repo, "infra"), dir].map((cwd, i) => build(cwd, path.join(dir, `from-${i}`)));
    expect(hashes[0]).toMatch(/^[0-9a-f]{64}$/);
    expect(new Set(hashes).size).toBe(1);
  });

  it("runs alone (no node_modules) as the unit runs it: credentials file, reloaded on SIGHUP", async () => {
    const { file } = await buildServiceBundle(path.join(dir, "build"));
    const app = path.join(dir, "app");
    fs.mkdirSync(app);
    fs.copyFileSync(file, path.join(app, "claude-bus.js"));
    const credentials = path.join(dir, "credentials.env");
    const write = (pass: string) =>
      fs.writeFileSync(credentials, `BUS_USER=claude\nBUS_PASS=${pass}\nBUS_URL=https://claude-bus.example.com\n`, { mode: 0o600 });
    write("Old0Password0000000000000000");
    // The unit's arguments (provision/render/systemd.ts), with a port of the system's choosing.
    bus = await spawnBus(path.join(app, "claude-bus.js"), ["--host", "127.0.0.1", "--port", "0", "--data", path.join(dir, "data")], {
      PATH: process.env.PATH,
      BUS_CREDENTIALS_FILE: credentials,
    });
    const status = async (pass: string) => (await request(bus!.url, "/health", { auth: ["claude", pass] })).status;

    expect(await status("Old0Password0000000000000000")).toBe(200);
    write("New0Password0000000000000000");
    bus.child.kill("SIGHUP");
    await waitFor("the bus to accept the new password after SIGHUP", async () => (await status("New0Password0000000000000000")) === 200);
    expect(await status("Old0Password0000000000000000")).toBe(401);
    expect(bus.stdout() + bus.stderr()).not.toContain("Password0");
  });
});
