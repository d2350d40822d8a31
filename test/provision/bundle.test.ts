import { ChildProcess, spawn } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import { buildServiceBundle } from "../../provision/bundle";
import { freePort } from "./scratchNginx";

const get = (port: number, auth: string): Promise<number> =>
  new Promise((resolve, reject) => {
    http
      .get({ host: "127.0.0.1", port, path: "/health", headers: { Authorization: `Basic ${Buffer.from(auth).toString("base64")}` } }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      })
      .on("error", reject);
  });

describe("buildServiceBundle", () => {
  let dir: string;
  let child: ChildProcess | undefined;
  beforeAll(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "claude-bus-bundle-"))));
  afterAll(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child!.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("makes one deterministic CommonJS file whose sha256 it reports", async () => {
    const first = await buildServiceBundle(path.join(dir, "a"));
    const second = await buildServiceBundle(path.join(dir, "b"));
    expect(path.basename(first.file)).toBe("claude-bus.js");
    expect(first.sha256).toBe(createHash("sha256").update(fs.readFileSync(first.file)).digest("hex"));
    expect(second.sha256).toBe(first.sha256);
    expect(fs.readdirSync(path.join(dir, "a"))).toEqual(["claude-bus.js"]);
  });

  it("runs alone (no node_modules) as the unit runs it: credentials file, reloaded on SIGHUP", async () => {
    const { file } = await buildServiceBundle(path.join(dir, "build"));
    const app = path.join(dir, "app");
    fs.mkdirSync(app);
    fs.copyFileSync(file, path.join(app, "claude-bus.js"));
    const credentials = path.join(dir, "credentials.env");
    const write = (pass: string) => fs.writeFileSync(credentials, `BUS_USER=claude\nBUS_PASS=${pass}\nBUS_URL=https://claude-bus.example.com\n`, { mode: 0o600 });
    write("Old0Password0000000000000000");
    const port = await freePort();
    let output = "";
    child = spawn(process.execPath, [path.join(app, "claude-bus.js"), "--host", "127.0.0.1", "--port", String(port), "--data", path.join(dir, "data")], {
      cwd: app,
      env: { PATH: process.env.PATH, BUS_CREDENTIALS_FILE: credentials },
    });
    child.stdout!.on("data", (c) => (output += c));
    child.stderr!.on("data", (c) => (output += c));
    for (let i = 0; i < 100 && !output.includes('"listening"'); i++) await new Promise((r) => setTimeout(r, 50));
    expect(output).toContain('"listening"');

    expect(await get(port, "claude:Old0Password0000000000000000")).toBe(200);
    write("New0Password0000000000000000");
    child.kill("SIGHUP");
    let status = 0;
    for (let i = 0; i < 50 && status !== 200; i++) {
      status = await get(port, "claude:New0Password0000000000000000");
      if (status !== 200) await new Promise((r) => setTimeout(r, 50));
    }
    expect(status).toBe(200);
    expect(await get(port, "claude:Old0Password0000000000000000")).toBe(401);
    expect(output).not.toContain("Password0");
  });
});
