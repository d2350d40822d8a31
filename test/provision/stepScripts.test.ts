/** The step scripts themselves, run for real with their paths moved into a temp dir. */
import * as fs from "node:fs";
import * as path from "node:path";
import { credentialsEnv } from "../../provision/credentials";
import { fileText } from "../../provision/compose";
import { hostSteps } from "../../provision/steps";
import { type BusProcess, buildBundle, spawnBus } from "../support/bus";
import { request } from "../support/http";
import { tempDir } from "../support/tempDir";
import { waitFor } from "../support/waitFor";
import { BUNDLE_SHA, cfgOf } from "./fixtures";
import { fakeSystem, modeOf, runScript, runScriptAsync, stepWith, tempFilesIn } from "./stepHarness";
import type { HostConfigInput } from "../../provision/config";
import { type DohStandIn, startDohStandIn } from "../host/lab/doh";
import { runTeardown } from "../host/lab/teardown";

let dir: string;
beforeEach(() => (dir = tempDir("step")));

describe("the credentials step", () => {
  const cfg = cfgOf();
  // The file's owner here is root, as this machine has no claude-bus user; the unit is claude-bus-test,
  // inactive unless a test says otherwise (fakeSystem).
  const envFileIn = () => {
    fs.mkdirSync(path.join(dir, "etc"), { recursive: true });
    return path.join(dir, "etc", "credentials.env");
  };
  const run = (password: string, env: NodeJS.ProcessEnv) => {
    const script = stepWith("credentials", cfg, { CREDENTIALS_FILE: envFileIn(), SERVICE_USER: "root" });
    return runScript(script, { input: credentialsEnv(cfg, password), env });
  };
  const first = "First0Password0000000000000A";
  const second = "Second0Password000000000000B";

  it("writes the stdin text verbatim as the 0600 credentials file, and nothing else; a re-run changes nothing", () => {
    const { env } = fakeSystem(dir);
    const envFile = envFileIn();
    const r = run(first, env);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.changes).toEqual([`changed: ${envFile}`]);
    expect(fs.readFileSync(envFile, "utf8")).toBe(credentialsEnv(cfg, first));
    expect(modeOf(envFile)).toBe("600");
    expect(r.stdout + r.stderr).not.toContain(first);
    expect(run(first, env).changes).toEqual([]);
  });

  it("leaves no temp file holding the password beside the credentials file when chown fails", () => {
    const { env } = fakeSystem(dir, { chown: "exit 1" });
    const r = run(first, env);
    expect(r.status).not.toBe(0);
    expect(fs.readdirSync(path.join(dir, "etc"))).toEqual([]);
    expect(r.stdout + r.stderr).not.toContain(first);
  });

  describe("with the real service running on the credentials file", () => {
    let service: BusProcess;
    // Ends in a single '=', which `read` with IFS='=' would silently drop.
    const old = "Old0Password0For0Rotation00=";
    const auth = (pass: string) => ({ auth: ["claude", pass] as [string, string] });
    afterEach(() => service.stop());

    it("has the service re-read it: the new password works and the old one, exactly as stored, is refused", async () => {
      const envFile = envFileIn();
      expect(run(old, fakeSystem(dir).env).status).toBe(0);
      service = await spawnBus(await buildBundle(), ["--port", "0", "--data", path.join(dir, "data")], { ...process.env, BUS_CREDENTIALS_FILE: envFile });
      expect((await request(service.url, "/health", auth(old))).status).toBe(200);

      // systemctl for the unit under test: active, and reload is the unit's ExecReload (SIGHUP).
      const { env } = fakeSystem(dir, {
        systemctl: `case $1 in\n  is-active) exit 0 ;;\n  reload) kill -HUP ${service.child.pid} ;;\n  *) exit 1 ;;\nesac`,
      });
      const r = run(second, env);
      expect(r.stderr).toBe("");
      expect(r.changes).toEqual([`changed: ${envFile}`, "changed: reloaded claude-bus-test: it re-read its credentials"]);
      await waitFor("the service to take the new password", async () => (await request(service.url, "/health", auth(second))).status === 200, {
        timeoutMs: 5000,
      });
      expect((await request(service.url, "/health", auth(old))).status).toBe(401);
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
      LEGACY_HTPASSWD_FILE: path.join(dir, "htpasswd"),
      NGINX_DEFAULT_SITE: path.join(dir, "sites-enabled", "default"),
      SITE: fileText(text),
      SITE_LEGACY_HTTP2: fileText(text),
    };
  };
  const run = (text: string, env: NodeJS.ProcessEnv) => runScript(stepWith("nginx", cfgOf(), site(text)), { env });
  it("installs the site with `http2 on;` for nginx 1.25.1 and later, and the listen parameter's variant for older ones", () => {
    const { SITE_PATH } = site("");
    for (const [version, expected] of [
      ["1.26.3", "server { http2 on; }\n"],
      ["1.25.1", "server { http2 on; }\n"],
      ["1.22.1", "server { listen 443 ssl http2; }\n"],
    ]) {
      const header = { ...site(""), SITE: fileText("server { http2 on; }\n"), SITE_LEGACY_HTTP2: fileText("server { listen 443 ssl http2; }\n") };
      fs.writeFileSync(path.join(dir, "nginx-version"), version);
      const r = runScript(stepWith("nginx", cfgOf(), header), { env: fakeSystem(dir).env });
      expect(r.stderr).toBe("");
      expect([version, fs.readFileSync(SITE_PATH, "utf8")]).toEqual([version, expected]);
    }
  });

  it("removes Debian's default site and reloads nginx without it", () => {
    const { NGINX_DEFAULT_SITE } = site("");
    fs.symlinkSync("/etc/nginx/sites-available/default", NGINX_DEFAULT_SITE);
    const system = fakeSystem(dir);
    fs.writeFileSync(path.join(dir, "active-nginx"), "");
    const r = run("server { }\n", system.env);
    expect(r.changes).toContain(`changed: removed ${NGINX_DEFAULT_SITE}`);
    expect(r.changes[r.changes.length - 1]).toBe("changed: reloaded nginx");
    expect(fs.lstatSync(NGINX_DEFAULT_SITE, { throwIfNoEntry: false })).toBeUndefined();
    expect(run("server { }\n", system.env).changes).toEqual([]);
  });

  it("installs and enables the site, reloads nginx once, and changes nothing on a re-run", () => {
    const system = fakeSystem(dir);
    fs.writeFileSync(path.join(dir, "active-nginx"), "");
    const { SITE_PATH, SITE_ENABLED, LOGROTATE_PATH } = site("");
    const r = run("server { }\n", system.env);
    expect(r.stderr).toBe("");
    expect(r.changes).toEqual([`changed: ${SITE_PATH}`, `changed: enabled ${SITE_ENABLED}`, `changed: ${LOGROTATE_PATH}`, "changed: reloaded nginx"]);
    expect(fs.readlinkSync(SITE_ENABLED)).toBe(SITE_PATH);
    expect(system.calls()).toEqual(["nginx -v", "nginx -t -q", "systemctl reload-or-restart nginx", "systemctl is-active --quiet nginx"]);
    expect(run("server { }\n", system.env).changes).toEqual([]);
    expect(tempFilesIn(path.join(dir, "sites-available"))).toEqual([]);
  });

  it("removes the htpasswd of earlier versions once the new site is live, and keeps it when the site is rejected", () => {
    const system = fakeSystem(dir);
    const { LEGACY_HTPASSWD_FILE, SITE_PATH } = site("");
    fs.writeFileSync(LEGACY_HTPASSWD_FILE, "claude:$apr1$old$hash\n");
    fs.writeFileSync(path.join(dir, "nginx-t-fails"), "");
    expect(run("server { }\n", system.env).status).toBe(1);
    expect(fs.existsSync(LEGACY_HTPASSWD_FILE)).toBe(true);
    fs.rmSync(path.join(dir, "nginx-t-fails"));
    const r = run("server { }\n", system.env);
    expect(r.changes).toEqual([
      `changed: ${SITE_PATH}`,
      `changed: enabled ${path.join(dir, "sites-enabled", "bus")}`,
      "changed: reloaded nginx",
      "changed: started nginx",
      `changed: removed ${LEGACY_HTPASSWD_FILE}`,
    ]);
    expect(fs.existsSync(LEGACY_HTPASSWD_FILE)).toBe(false);
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

describe("the accounts step", () => {
  /** The step with its dirs in the temp dir; useradd and groupadd are stand-ins that fail (this machine's users are not the test's). */
  const run = (header: Record<string, string | number>) => {
    const system = fakeSystem(dir, { useradd: `echo "useradd $*" >> ${dir}/calls.log; exit 1`, groupadd: `echo "groupadd $*" >> ${dir}/calls.log; exit 1` });
    const dirs = {
      INSTALL_DIR: path.join(dir, "opt"),
      APP_DIR: path.join(dir, "opt", "app"),
      DATA_DIR: path.join(dir, "opt", "data"),
      CONFIG_DIR: path.join(dir, "etc"),
      ACME_WEBROOT: path.join(dir, "www"),
    };
    return { r: runScript(stepWith("accounts", cfgOf(), { ...dirs, ...header }), { env: system.env }), ...dirs };
  };

  it("gives the data dir's files to the service user when they belong to another number (a volume from another host)", () => {
    // daemon (uid and gid 1) stands in for the service user: it exists on every Debian.
    const data = path.join(dir, "opt", "data");
    fs.mkdirSync(path.join(data, "files"), { recursive: true });
    fs.writeFileSync(path.join(data, "bus.jsonl"), "{}\n");
    fs.writeFileSync(path.join(data, "files", "abc"), "x");
    for (const p of [data, path.join(data, "bus.jsonl"), path.join(data, "files"), path.join(data, "files", "abc")]) fs.chownSync(p, 4242, 4242);
    const { r } = run({ SERVICE_USER: "daemon" });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.changes).toContain(`changed: the files in ${data} belonged to another user id: they are daemon's again`);
    for (const p of ["bus.jsonl", "files", "files/abc"])
      expect([p, fs.statSync(path.join(data, p)).uid, fs.statSync(path.join(data, p)).gid]).toEqual([p, 1, 1]);
    expect(run({ SERVICE_USER: "daemon" }).r.changes).toEqual([]);
  });

  it("makes the service's group and user with the fixed id when they are absent", () => {
    // groupadd, useradd and chown record their calls and succeed: this machine's user database stays as it is.
    const record = (tool: string) => `echo "${tool} $*" >> ${dir}/calls.log`;
    const system = fakeSystem(dir, { groupadd: record("groupadd"), useradd: record("useradd"), chown: record("chown") });
    const r = runScript(
      stepWith("accounts", cfgOf(), {
        SERVICE_USER: "claude-bus-absent-user",
        SERVICE_UID: 850,
        INSTALL_DIR: path.join(dir, "opt"),
        APP_DIR: path.join(dir, "opt", "app"),
        DATA_DIR: path.join(dir, "opt", "data"),
        CONFIG_DIR: path.join(dir, "etc"),
        ACME_WEBROOT: path.join(dir, "www"),
      }),
      { env: system.env },
    );
    expect(r.changes.slice(0, 2)).toEqual(["changed: group claude-bus-absent-user (gid 850)", "changed: user claude-bus-absent-user (uid 850)"]);
    expect(system.calls().filter((c) => /^(groupadd|useradd)/.test(c))).toEqual([
      "groupadd --gid 850 claude-bus-absent-user",
      "useradd --uid 850 --system --gid claude-bus-absent-user --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin claude-bus-absent-user",
    ]);
  });

  it("stops, making nothing, when the service's fixed id belongs to another user or group on this image", () => {
    const { r, INSTALL_DIR } = run({ SERVICE_USER: "claude-bus-absent-user", SERVICE_UID: 1 });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(
      "gid 1, which group claude-bus-absent-user needs, belongs to group daemon on this host: give daemon another gid (groupmod -g), then run again\n",
    );
    expect(fs.existsSync(INSTALL_DIR)).toBe(false);
    expect(fs.existsSync(path.join(dir, "calls.log")) ? fs.readFileSync(path.join(dir, "calls.log"), "utf8") : "").not.toMatch(/useradd|groupadd/);
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

describe("the certificate step, before certbot and when it asks", () => {
  let doh: DohStandIn;
  beforeAll(async () => (doh = await startDohStandIn()));
  afterAll(() => runTeardown());
  const FQDN = "claude-bus.example.com";

  /** The step with its paths in the temp dir; certbot records its arguments and succeeds. */
  const run = async (config: Partial<HostConfigInput>, prepare: () => void = () => {}) => {
    const system = fakeSystem(dir, { certbot: `echo "certbot $*" >> ${dir}/calls.log` });
    for (const d of ["available", "enabled", "renewal", "live"]) fs.mkdirSync(path.join(dir, d), { recursive: true });
    prepare();
    const script = stepWith("certificate", cfgOf({ publicIpv4: "127.0.0.1", dohUrl: doh.url, ...config }), {
      ACME_WEBROOT: dir,
      CERT_DIR: path.join(dir, "live"),
      RENEWAL_CONF: path.join(dir, "renewal", `${FQDN}.conf`),
      ACME_CA_PATH: path.join(dir, "acme-ca.pem"),
      CERTBOT_CA_DROPIN_PATH: path.join(dir, "dropin.conf"),
      CERTBOT_DEPLOY_HOOK_PATH: path.join(dir, "hook"),
      SITE_ENABLED: path.join(dir, "enabled", FQDN),
      ACME_BOOTSTRAP_PATH: path.join(dir, "enabled", "bootstrap"),
      SITES_AVAILABLE: path.join(dir, "available"),
      SITES_ENABLED_DIR: path.join(dir, "enabled"),
      RENEWAL_DIR: path.join(dir, "renewal"),
    });
    const r = await runScriptAsync(script, { env: system.env });
    return { ...r, certbot: system.calls().filter((c) => c.startsWith("certbot ")) };
  };

  it("asks for no certificate while the name has an AAAA record that is not this host's", async () => {
    doh.answer(FQDN, "127.0.0.1", "2001:db8::1");
    const none = await run({});
    expect(none.status).toBe(1);
    expect(none.stderr).toBe(
      `${FQDN} has an AAAA record (2001:db8::1), and this host serves it on no IPv6 address: the ACME server would validate over IPv6 and fail. Remove the AAAA record and run again\n`,
    );
    const other = await run({ publicIpv6: "2001:db8::2" });
    expect(other.status).toBe(1);
    expect(other.stderr).toBe(`${FQDN}'s AAAA record is 2001:db8::1, not 2001:db8::2: point it at 2001:db8::2 (or remove it) and run again\n`);
    expect([...none.certbot, ...other.certbot]).toEqual([]);
  });

  it("asks once the AAAA record is this host's (written in any form) or absent", async () => {
    doh.answer(FQDN, "127.0.0.1", "2001:db8::1");
    const same = await run({ publicIpv6: "2001:0DB8:0:0::0001" });
    expect(same.stderr).toBe("");
    expect(same.certbot).toHaveLength(1);
    doh.answer(FQDN, "127.0.0.1");
    expect((await run({})).certbot).toHaveLength(2);
  });

  it("replaces a certificate from another ACME server with --force-renewal --break-my-certs (production to staging)", async () => {
    doh.answer(FQDN, "127.0.0.1");
    const r = await run({ acmeServer: "https://acme-staging-v02.api.letsencrypt.org/directory" }, () => {
      fs.writeFileSync(path.join(dir, "live", "fullchain.pem"), "a certificate\n");
      fs.writeFileSync(path.join(dir, "renewal", `${FQDN}.conf`), "server = https://acme-v02.api.letsencrypt.org/directory\n");
    });
    expect(r.stderr).toBe("");
    expect(r.certbot).toEqual([
      expect.stringMatching(/ --server https:\/\/acme-staging-v02\.api\.letsencrypt\.org\/directory .* --force-renewal --break-my-certs$/),
    ]);
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
