/** The bash helpers every step is made of, run for real on temp paths: idempotent, atomic, secret-free output. */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { bashScript, heredoc } from "../../provision/shell";
import { hostSteps } from "../../provision/steps";
import { ServiceProcess, buildServiceBundle, request, spawnService, waitFor } from "../service/helpers";
import { BUNDLE_SHA, cfgOf } from "./fixtures";

const bash = (script: string, input = "", env: NodeJS.ProcessEnv = process.env) => {
  const r = spawnSync("bash", ["-c", script], { input, encoding: "utf8", env });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, changes: r.stdout.split("\n").filter((l) => l.startsWith("changed: ")) };
};
const mode = (file: string) => (fs.statSync(file).mode & 0o7777).toString(8);

let dir: string;
beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "claude-bus-helpers-"))));
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("install_file", () => {
  const install = (file: string, fileMode: string, content: string) =>
    bash(bashScript("t", ["install_file"], `${heredoc(`install_file ${file} ${fileMode} root:root`, content)}\necho "FILE_CHANGED=$FILE_CHANGED"`));

  it("writes once, then changes nothing until content or mode differ, leaving no temp files", () => {
    const file = path.join(dir, "site.conf");
    const first = install(file, "640", "server {}\n");
    expect(first.changes).toEqual([`changed: ${file}`]);
    expect(first.stdout).toContain("FILE_CHANGED=yes");
    expect(fs.readFileSync(file, "utf8")).toBe("server {}\n");
    expect(mode(file)).toBe("640");

    const again = install(file, "640", "server {}\n");
    expect(again.changes).toEqual([]);
    expect(again.stdout).toContain("FILE_CHANGED=no");

    fs.chmodSync(file, 0o666);
    expect(install(file, "640", "server {}\n").changes).toEqual([`changed: ${file}`]);
    expect(mode(file)).toBe("640");
    expect(install(file, "640", "server { listen 80; }\n").changes).toEqual([`changed: ${file}`]);
    expect(fs.readFileSync(file, "utf8")).toBe("server { listen 80; }\n");
    expect(fs.readdirSync(dir)).toEqual(["site.conf"]);
  });

  it("keeps $, quotes and backslashes verbatim (quoted heredoc)", () => {
    const file = path.join(dir, "x");
    const content = "return 301 https://$host$request_uri; echo '\"\\n' `id`\n";
    install(file, "644", content);
    expect(fs.readFileSync(file, "utf8")).toBe(content);
  });

  it("stops the script when it cannot write (set -e holds inside the helper)", () => {
    const r = install(path.join(dir, "missing-dir", "x"), "644", "x\n");
    expect(r.status).not.toBe(0);
    expect(r.stdout).not.toContain("FILE_CHANGED");
  });
});

describe("ensure_dir", () => {
  it("creates a setgid dir, fixes a wrong mode, and is silent when all is in place", () => {
    const d = path.join(dir, "files");
    const run = () => bash(bashScript("t", ["ensure_dir"], `ensure_dir ${d} 2770 root:root`));
    expect(run().changes).toEqual([`changed: created ${d} (2770 root:root)`]);
    expect(mode(d)).toBe("2770");
    expect(run().changes).toEqual([]);
    fs.chmodSync(d, 0o755);
    expect(run().changes).toEqual([`changed: ${d} is now 2770 root:root`]);
  });
});

describe("read_password", () => {
  const script = bashScript("t", ["read_password"], 'read_password\necho "length ${#BUS_PASS}"');
  it("reads the password from stdin, with or without a final newline", () => {
    expect(bash(script, "Abcdefghijklmnopqrstuvwxyz12\n").stdout).toContain("length 28");
    expect(bash(script, "Abcdefghijklmnopqrstuvwxyz12").stdout).toContain("length 28");
  });
  it("refuses a missing or unsafe password without echoing it", () => {
    const none = bash(script, "");
    expect(none.status).toBe(1);
    expect(none.stderr).toContain("expected the bus password on stdin");
    const bad = bash(script, 'has"a quote and spaces\n');
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain("must be 12-128 characters");
    expect(bad.stderr + bad.stdout).not.toContain("a quote");
  });
});

describe("write_credentials", () => {
  // The env file's owner here is root, as this machine has no claude-bus user; the unit is not running
  // unless a test puts a systemctl of its own first on PATH.
  const run = (password: string, port = 8787, env?: NodeJS.ProcessEnv) => {
    const body = `read_password\nwrite_credentials ${dir}/htpasswd ${dir}/credentials.env claude https://claude-bus.example.com claude-bus-test root ${port}`;
    return bash(bashScript("t", ["read_password", "write_credentials"], body), `${password}\n`, env);
  };
  const verify = (password: string) =>
    spawnSync("htpasswd", ["-i", "-v", path.join(dir, "htpasswd"), "claude"], { input: `${password}\n` }).status;
  const first = "First0Password0000000000000A";
  const second = "Second0Password000000000000B";

  it("writes htpasswd (root:www-data 0640) and the 0600 dotenv file, then changes nothing on a re-run", () => {
    const r = run(first);
    expect(r.status).toBe(0);
    expect(r.changes).toEqual([`changed: ${dir}/htpasswd`, `changed: ${dir}/credentials.env`]);
    expect(fs.readFileSync(path.join(dir, "credentials.env"), "utf8")).toBe(
      `BUS_USER=claude\nBUS_PASS=${first}\nBUS_URL=https://claude-bus.example.com\n`,
    );
    expect(mode(path.join(dir, "credentials.env"))).toBe("600");
    expect(mode(path.join(dir, "htpasswd"))).toBe("640");
    expect(verify(first)).toBe(0);
    expect(r.stdout + r.stderr).not.toContain(first);

    const again = run(first);
    expect(again.status).toBe(0);
    expect(again.changes).toEqual([]);
  });

  it("swaps in a new password: the old one stops verifying, no temp file is left", () => {
    run(first);
    const r = run(second);
    expect(r.changes).toEqual([`changed: ${dir}/htpasswd`, `changed: ${dir}/credentials.env`]);
    expect(verify(second)).toBe(0);
    expect(verify(first)).not.toBe(0);
    expect(fs.readFileSync(path.join(dir, "credentials.env"), "utf8")).toContain(`BUS_PASS=${second}\n`);
    expect(fs.readdirSync(dir).sort()).toEqual(["credentials.env", "htpasswd"]);
    expect(r.stdout + r.stderr).not.toContain(second);
  });

  describe("with the real service running on the env file", () => {
    let service: ServiceProcess;
    // Ends in a single '=', which `read` with IFS='=' would silently drop.
    const old = "Old0Password0For0Rotation00=";
    const auth = (pass: string) => ({ auth: ["claude", pass] as [string, string] });
    afterEach(async () => {
      service.child.kill("SIGTERM");
      await service.exited;
    });

    it("lets the service accept the old password, exactly as stored, until htpasswd has the new one", async () => {
      expect(run(old).status).toBe(0);
      const envFile = path.join(dir, "credentials.env");
      const dataDir = path.join(dir, "data");
      fs.mkdirSync(dataDir);
      service = await spawnService(await buildServiceBundle(), ["--port", "0", "--data", dataDir], {
        ...process.env,
        BUS_CREDENTIALS_FILE: envFile,
      });
      expect((await request(service.url, "/health", auth(old))).status).toBe(200);

      // systemctl for the unit under test: active, and reload is the unit's ExecReload (SIGHUP), after
      // recording the env file the service is about to read.
      const bin = path.join(dir, "bin");
      fs.mkdirSync(bin);
      const reloads = path.join(dir, "reloads.log");
      fs.writeFileSync(
        path.join(bin, "systemctl"),
        `#!/bin/bash\ncase $1 in\n  is-active) exit 0 ;;\n  reload) { cat ${envFile}; echo ---; } >> ${reloads}; kill -HUP ${service.child.pid} ;;\n  *) exit 1 ;;\nesac\n`,
        { mode: 0o755 },
      );
      const next = "New0Password0For0Rotation000";
      const r = run(next, Number(new URL(service.url).port), { ...process.env, PATH: `${bin}:${process.env.PATH}` });
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
      expect(r.changes).toEqual([
        "changed: claude-bus-test accepts the old and the new password",
        `changed: ${dir}/htpasswd`,
        `changed: ${envFile}`,
        "changed: reloaded claude-bus-test: it re-read its credentials",
      ]);
      const env = (pass: string, previous?: string) =>
        `BUS_USER=claude\nBUS_PASS=${pass}\nBUS_URL=https://claude-bus.example.com\n${previous ? `BUS_PASS_PREVIOUS=${previous}\n` : ""}---\n`;
      expect(fs.readFileSync(reloads, "utf8")).toBe(env(next, old) + env(next));

      // The last reload drops the old password: wait until the service has read it.
      await waitFor(async () => (await request(service.url, "/health", auth(old))).status === 401, 5_000);
      expect((await request(service.url, "/health", auth(next))).status).toBe(200);
    });
  });
});

describe("the cloud-init step", () => {
  it("passes at once where cloud-init is absent, changing nothing", () => {
    const step = hostSteps(cfgOf(), { sha256: BUNDLE_SHA })[0];
    expect(step.name).toBe("cloud-init");
    const r = bash(step.script);
    expect(r.status).toBe(0);
    expect(r.changes).toEqual([]);
    expect(r.stdout).toMatch(/no cloud-init on this host|waiting for cloud-init/);
  });
});
