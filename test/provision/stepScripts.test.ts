/** The step scripts themselves, run for real with their paths moved into a temp dir. */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { credentialsEnv } from "../../provision/credentials";
import { fileText } from "../../provision/compose";
import { hostSteps } from "../../provision/steps";
import { BusProcess, buildBundle, spawnBus } from "../support/bus";
import { request } from "../support/http";
import { requireTool } from "../support/requireTool";
import { tempDir } from "../support/tempDir";
import { waitFor } from "../support/waitFor";
import { BUNDLE_SHA, cfgOf } from "./fixtures";
import { fakeSystem, modeOf, runScript, stepWith, tempFilesIn } from "./stepHarness";

let dir: string;
beforeEach(() => (dir = tempDir("step")));

describe("the credentials step", () => {
  const cfg = cfgOf();
  // The files' owner here is root, as this machine has no claude-bus user; the unit is claude-bus-test,
  // inactive unless a test says otherwise (fakeSystem).
  const paths = () => {
    fs.mkdirSync(path.join(dir, "nginx"), { recursive: true });
    fs.mkdirSync(path.join(dir, "etc"), { recursive: true });
    return { htpasswd: path.join(dir, "nginx", "htpasswd"), envFile: path.join(dir, "etc", "credentials.env") };
  };
  const run = (password: string, env: NodeJS.ProcessEnv, port = 8787) => {
    const { htpasswd, envFile } = paths();
    const script = stepWith("credentials", cfg, { HTPASSWD_FILE: htpasswd, CREDENTIALS_FILE: envFile, SERVICE_USER: "root", SERVICE_PORT: port });
    return runScript(script, { input: credentialsEnv(cfg, password), env });
  };
  const verify = (password: string) =>
    spawnSync(requireTool("htpasswd"), ["-i", "-v", paths().htpasswd, "claude"], { input: `${password}\n` }).status;
  const first = "First0Password0000000000000A";
  const second = "Second0Password000000000000B";

  it("writes htpasswd (root:www-data 0640) and the stdin text verbatim as the 0600 credentials file; a re-run changes nothing", () => {
    const { env } = fakeSystem(dir);
    const { htpasswd, envFile } = paths();
    const r = run(first, env);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.changes).toEqual([`changed: ${htpasswd}`, `changed: ${envFile}`]);
    expect(fs.readFileSync(envFile, "utf8")).toBe(credentialsEnv(cfg, first));
    expect(modeOf(envFile)).toBe("600");
    expect(modeOf(htpasswd)).toBe("640");
    expect(fs.statSync(htpasswd).gid).toBe(Number(spawnSync("getent", ["group", "www-data"], { encoding: "utf8" }).stdout.split(":")[2]));
    expect(verify(first)).toBe(0);
    expect(r.stdout + r.stderr).not.toContain(first);

    const again = run(first, env);
    expect(again.status).toBe(0);
    expect(again.changes).toEqual([]);
  });

  it("swaps in a new password: the old one stops verifying, no temp file is left, nginx is not reloaded", () => {
    const system = fakeSystem(dir);
    const { htpasswd, envFile } = paths();
    run(first, system.env);
    const r = run(second, system.env);
    expect(r.changes).toEqual([`changed: ${htpasswd}`, `changed: ${envFile}`]);
    expect(verify(second)).toBe(0);
    expect(verify(first)).not.toBe(0);
    expect(fs.readFileSync(envFile, "utf8")).toBe(credentialsEnv(cfg, second));
    expect(fs.readdirSync(path.join(dir, "nginx"))).toEqual(["htpasswd"]);
    expect(fs.readdirSync(path.join(dir, "etc"))).toEqual(["credentials.env"]);
    expect(r.stdout + r.stderr).not.toContain(second);
    expect(system.calls().filter((c) => c.includes("nginx"))).toEqual([]);
  });

  it.each([
    ["chown fails on the new htpasswd", { chown: "exit 1" }],
    ["htpasswd fails", { htpasswd: 'if [[ $1 == -i && $2 == -n ]]; then echo "claude:$apr1$half"; exit 1; fi\nexec /usr/bin/htpasswd "$@"' }],
  ])("leaves no temp file holding the password hash in the htpasswd dir when %s", (_what, tools) => {
    const { env } = fakeSystem(dir, tools);
    const r = run(first, env);
    expect(r.status).not.toBe(0);
    expect(fs.readdirSync(path.join(dir, "nginx"))).toEqual([]);
    expect(r.stdout + r.stderr).not.toContain(first);
  });

  describe("with the real service running on the credentials file", () => {
    let service: BusProcess;
    // Ends in a single '=', which `read` with IFS='=' would silently drop.
    const old = "Old0Password0For0Rotation00=";
    const auth = (pass: string) => ({ auth: ["claude", pass] as [string, string] });
    afterEach(() => service.stop());

    it("lets the service accept the old password, exactly as stored, until htpasswd has the new one", async () => {
      const { htpasswd, envFile } = paths();
      expect(run(old, fakeSystem(dir).env).status).toBe(0);
      service = await spawnBus(await buildBundle(), ["--port", "0", "--data", path.join(dir, "data")], { ...process.env, BUS_CREDENTIALS_FILE: envFile });
      expect((await request(service.url, "/health", auth(old))).status).toBe(200);

      // systemctl for the unit under test: active, and reload is the unit's ExecReload (SIGHUP), after
      // recording the credentials file the service is about to read.
      const reloads = path.join(dir, "reloads.log");
      const { env } = fakeSystem(dir, {
        systemctl: `case $1 in\n  is-active) exit 0 ;;\n  reload) { cat ${envFile}; echo ---; } >> ${reloads}; kill -HUP ${service.child.pid} ;;\n  *) exit 1 ;;\nesac`,
      });
      const next = "New0Password0For0Rotation000";
      const r = run(next, env, Number(new URL(service.url).port));
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
      expect(r.changes).toEqual([
        `changed: ${envFile}`,
        "changed: claude-bus-test accepts the old and the new password",
        `changed: ${htpasswd}`,
        `changed: ${envFile}`,
        "changed: reloaded claude-bus-test: it re-read its credentials",
      ]);
      expect(fs.readFileSync(reloads, "utf8")).toBe(`${credentialsEnv(cfg, next)}BUS_PASS_PREVIOUS=${old}\n---\n${credentialsEnv(cfg, next)}---\n`);
      expect(fs.readFileSync(envFile, "utf8")).toBe(credentialsEnv(cfg, next));

      // The last reload drops the old password: wait until the service has read it.
      await waitFor("the service to refuse the old password", async () => (await request(service.url, "/health", auth(old))).status === 401, { timeoutMs: 5000 });
      expect((await request(service.url, "/health", auth(next))).status).toBe(200);
    });
  });
});

describe("the nginx step", () => {
  const site = (text: string) => {
    fs.mkdirSync(path.join(dir, "sites-available"), { recursive: true });
    fs.mkdirSync(path.join(dir, "sites-enabled"), { recursive: true });
    return {
      SITE_PATH: path.join(dir, "sites-available", "bus"),
      SITE_ENABLED: path.join(dir, "sites-enabled", "bus"),
      LOGROTATE_PATH: path.join(dir, "logrotate"),
      SITE: fileText(text),
    };
  };
  const run = (text: string, env: NodeJS.ProcessEnv) => runScript(stepWith("nginx", cfgOf(), site(text)), { env });

  it("installs and enables the site, reloads nginx once, and changes nothing on a re-run", () => {
    const system = fakeSystem(dir);
    fs.writeFileSync(path.join(dir, "active-nginx"), "");
    const { SITE_PATH, SITE_ENABLED, LOGROTATE_PATH } = site("");
    const r = run("server { }\n", system.env);
    expect(r.stderr).toBe("");
    expect(r.changes).toEqual([`changed: ${SITE_PATH}`, `changed: enabled ${SITE_ENABLED}`, `changed: ${LOGROTATE_PATH}`, "changed: reloaded nginx"]);
    expect(fs.readlinkSync(SITE_ENABLED)).toBe(SITE_PATH);
    expect(system.calls()).toEqual(["nginx -t -q", "systemctl reload-or-restart nginx", "systemctl is-active --quiet nginx"]);
    expect(run("server { }\n", system.env).changes).toEqual([]);
    expect(tempFilesIn(path.join(dir, "sites-available"))).toEqual([]);
  });

  it("puts the previous site back when nginx -t rejects the new one, and reloads nothing", () => {
    const system = fakeSystem(dir);
    const { SITE_PATH } = site("");
    expect(run("server { listen 80; }\n", system.env).status).toBe(0);
    fs.writeFileSync(path.join(dir, "nginx-t-fails"), "");
    const r = run("server { broken\n", system.env);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("the nginx step failed: restoring the previous site");
    expect(fs.readFileSync(SITE_PATH, "utf8")).toBe("server { listen 80; }\n");
    expect(system.calls().filter((c) => c.startsWith("systemctl reload"))).toEqual(["systemctl reload-or-restart nginx"]);
    expect(tempFilesIn(path.join(dir, "sites-available"))).toEqual([]);
  });

  it("removes a rejected site it added where there was none", () => {
    const system = fakeSystem(dir);
    fs.writeFileSync(path.join(dir, "nginx-t-fails"), "");
    const { SITE_PATH, SITE_ENABLED } = site("");
    expect(run("server { broken\n", system.env).status).toBe(1);
    expect([fs.existsSync(SITE_PATH), fs.existsSync(SITE_ENABLED)]).toEqual([false, false]);
  });
});

describe("the certificate step", () => {
  it("removes its ACME bootstrap site and reloads nginx when certbot fails", () => {
    const system = fakeSystem(dir, { certbot: "echo 'certbot: challenge failed' >&2; exit 1" });
    const bootstrap = path.join(dir, "claude-bus-acme");
    const script = stepWith("certificate", cfgOf(), {
      ACME_WEBROOT: dir,
      CERT_DIR: path.join(dir, "live"),
      RENEWAL_CONF: path.join(dir, "renewal.conf"),
      ACME_CA_PATH: path.join(dir, "acme-ca.pem"),
      CERTBOT_CA_DROPIN_PATH: path.join(dir, "dropin.conf"),
      CERTBOT_DEPLOY_HOOK_PATH: path.join(dir, "hook"),
      SITE_ENABLED: path.join(dir, "site-enabled"),
      ACME_BOOTSTRAP_PATH: bootstrap,
    });
    const r = runScript(script, { env: system.env });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("challenge failed");
    expect(r.changes).toEqual([`changed: ${dir}/hook`, `changed: ${bootstrap}`, "changed: reloaded nginx"]);
    expect(fs.existsSync(bootstrap)).toBe(false);
    expect(system.calls()).toEqual(["nginx -t -q", "systemctl reload-or-restart nginx", "systemctl reload nginx"]);
    expect(tempFilesIn(dir)).toEqual([]);
  });
});

describe("the cloud-init step", () => {
  it("passes at once where cloud-init is absent, changing nothing", () => {
    const step = hostSteps(cfgOf(), { sha256: BUNDLE_SHA })[0];
    expect(step.name).toBe("cloud-init");
    const r = runScript(step.script);
    expect(r.status).toBe(0);
    expect(r.changes).toEqual([]);
    expect(r.stdout).toMatch(/no cloud-init on this host|waiting for cloud-init/);
  });
});
