/**
 * End to end on a real throwaway Debian 12 host (systemd as PID 1, sshd, nginx, certbot, Pebble): every
 * provision step runs in order over SSH through provision/ssh/runner.ts, then the bus is checked from this machine
 * the way its users reach it. Issue 3's "Tests" list, one `it` per item.
 */
import { randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildServiceBundle } from "../../provision/bundle";
import { HostConfig, parseHostConfig } from "../../provision/config";
import { APP_DIR, BUNDLE_INSTALL_PATH, DATA_DIR, SERVICE_NAME, SERVICE_USER, SHARED_DIR } from "../../provision/paths";
import { provisionHost, rotateOverSsh, runSteps, StepResult } from "../../provision/ssh/runner";
import { SshTarget } from "../../provision/ssh/transport";
import { BUNDLE_UPLOAD_PATH, hostSteps } from "../../provision/steps";
import { basic, BusEndpoint, httpGet, httpsRequest, Reply, servedCertificate } from "./lab/https";
import { reapOrphanedRuns } from "./lab/boot";
import { Lab, LAB_DOMAIN, startLab } from "./lab/lab";
import { removeTree } from "./lab/mounts";
import { run, runOk, sleep, waitFor } from "./lab/run";
import { MachineSnapshot, snapshotMachine } from "./lab/snapshot";
import { onTeardown, runTeardown } from "./lab/teardown";
import * as seed from "./seedSnippets";

const log = (l: string) => process.stdout.write(`[host] ${l}\n`);
const SERVICE_PORT = 8787;
const LAB_PORTS = [80, 443, 2222, 14000, 15000, 8055, SERVICE_PORT];

/** 28 random characters, like the generated bus password. */
const newPassword = () => randomBytes(21).toString("base64").replace(/\+/g, "A").replace(/\//g, "z");

describe("provisioned throwaway host", () => {
  let before: MachineSnapshot;
  let lab: Lab;
  let cfg: HostConfig;
  let target: SshTarget;
  let bundle: { file: string; sha256: string };
  let firstRun: StepResult[];
  let password = newPassword();
  let ep: BusEndpoint;
  /** A client machine's HOME: ~/.secrets/claude-bus.env, ~/.curlrc resolving the fqdn to loopback. */
  let home: string;

  const writeClientEnv = (pass: string) => {
    // Atomic replace, as the client's rotate does: a reader never sees half a file.
    const file = join(home, ".secrets", "claude-bus.env");
    writeFileSync(`${file}.tmp`, `BUS_USER=${cfg.busUser}\nBUS_PASS=${pass}\nBUS_URL=https://${cfg.fqdn}\n`, { mode: 0o600 });
    renameSync(`${file}.tmp`, file);
  };
  const readClientPassword = () => /^BUS_PASS=(.*)$/m.exec(readFileSync(join(home, ".secrets", "claude-bus.env"), "utf8"))![1];
  /** Runs bash as a user on machine `me` (what `hostname -s` prints), with the client HOME. */
  const asClient = (me: string, script: string) =>
    runOk("bash", ["-c", script], {
      env: { HOME: home, PATH: `${join(home, "bin", me)}:/usr/local/bin:/usr/bin:/bin`, CURL_CA_BUNDLE: lab.issuerChainFile, LANG: "C.UTF-8" },
    });
  const onHost = async (script: string) => {
    const r = await lab.ssh.ssh(script);
    if (r.code !== 0) throw new Error(`on the host: ${script}\nexit ${r.code}\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  };
  const unitState = async (unit: string) => {
    const out = await onHost(`systemctl show -p MainPID -p ActiveEnterTimestamp -p ActiveState ${unit}`);
    return Object.fromEntries(out.trim().split("\n").map((l) => l.split(/=(.*)/s).slice(0, 2)));
  };
  const auth = () => basic(cfg.busUser, password);

  beforeAll(async () => {
    reapOrphanedRuns(log); // a killed earlier run is not this run's footprint
    before = snapshotMachine(LAB_PORTS);
    const fqdn = `claude-bus.${LAB_DOMAIN}`;
    lab = await startLab({ fqdn, log, extraTcpPorts: { [SERVICE_PORT]: "the bus service on the host's loopback" } });
    cfg = parseHostConfig({
      domain: LAB_DOMAIN,
      acmeEmail: "admin@example.com",
      acmeServer: lab.acmeDirectoryUrl,
      acmeCaBundle: lab.acmeServerCa,
      servicePort: SERVICE_PORT,
      clientSshKeys: [readFileSync(`${lab.ssh.identityFile}.pub`, "utf8").trim()],
    });
    expect(cfg.fqdn).toBe(fqdn);
    target = { user: "root", host: "127.0.0.1", port: lab.ssh.port, identityFile: lab.ssh.identityFile, knownHostsFile: lab.ssh.knownHostsFile };
    ep = { fqdn, ca: readFileSync(lab.issuerChainFile, "utf8") };

    home = mkdtempSync(join(tmpdir(), "claude-bus-host-home-"));
    onTeardown(`client home ${home}`, () => removeTree(home));
    mkdirSync(join(home, ".secrets"), { mode: 0o700 });
    writeClientEnv(password);
    // curl reads ~/.curlrc: the seed's lines stay verbatim while the fqdn resolves to this loopback.
    writeFileSync(join(home, ".curlrc"), `resolve = "${fqdn}:443:127.0.0.1"\nresolve = "${fqdn}:80:127.0.0.1"\n`);
    for (const me of ["ccmidm1mac", "ccwhitebee"]) {
      mkdirSync(join(home, "bin", me), { recursive: true });
      writeFileSync(join(home, "bin", me, "hostname"), `#!/bin/sh\necho ${me}\n`);
      chmodSync(join(home, "bin", me, "hostname"), 0o755);
    }

    bundle = await buildServiceBundle(join(lab.host.runDir, "bundle"));
    firstRun = await provisionHost(target, cfg, { busPassword: password, bundle, log });
  });
  afterAll(() => runTeardown());

  it("runs every provision step in order over SSH, ending with a health check over HTTPS", async () => {
    expect(firstRun.map((r) => r.name)).toEqual(hostSteps(cfg, bundle).map((s) => s.name));
    expect(firstRun.find((r) => r.name === "certificate")!.changes.join("\n")).toMatch(/certificate for claude-bus\.bus\.test issued/);
    expect(firstRun.find((r) => r.name === "health")!.output).toMatch(/\/health answered: .*"ok":\s?true/);
    expect(await onHost(`systemctl is-active ${SERVICE_NAME} nginx`)).toBe("active\nactive\n");
    // The certificate is Pebble's, for the fqdn: not a self-signed stand-in.
    const issuer = await onHost(`openssl x509 -noout -issuer -ext subjectAltName -in /etc/letsencrypt/live/${cfg.fqdn}/cert.pem`);
    expect(issuer).toMatch(/issuer=.*Pebble Intermediate/);
    expect(issuer).toContain(`DNS:${cfg.fqdn}`);
  });

  it("answers the seed's curl examples over HTTPS, verbatim", async () => {
    const posted = JSON.parse((await asClient("ccmidm1mac", seed.LOAD_CREDS + seed.POST_TO_MACHINE)).stdout);
    expect(posted).toMatchObject({ from: "ccmidm1mac", to: "ccwhitebee", body: "Build finished, see /opt/foo", tags: ["build"], read_by: ["ccmidm1mac"] });
    expect(posted.id).toMatch(/^[1-9][0-9]*$/);

    const unread = JSON.parse((await asClient("ccwhitebee", seed.LOAD_CREDS + seed.PULL_UNREAD)).stdout);
    expect(unread.messages.map((m: { id: string }) => m.id)).toContain(posted.id);

    const acked = JSON.parse((await asClient("ccwhitebee", seed.LOAD_CREDS + seed.ACK.replace("<id>", posted.id))).stdout);
    expect(acked).toEqual({ ok: true, id: posted.id, reader: "ccwhitebee", already: false });

    const hi = JSON.parse((await asClient("ccmidm1mac", seed.CHEATSHEET.load + seed.CHEATSHEET.post)).stdout);
    expect(hi).toMatchObject({ from: "ccmidm1mac", to: "ccwhitebee", body: "hi" });
    const poll = (await asClient("ccwhitebee", seed.SESSION_START_POLL)).stdout;
    expect(poll).toBe(`[${hi.ts}] ccmidm1mac: hi\n`);
    const cheatUnread = JSON.parse((await asClient("ccwhitebee", seed.CHEATSHEET.load + seed.CHEATSHEET.pullUnread)).stdout);
    expect(cheatUnread.messages.map((m: { id: string }) => m.id)).toEqual([hi.id]);
    const cheatAck = JSON.parse((await asClient("ccwhitebee", seed.CHEATSHEET.load + seed.CHEATSHEET.ack.replace("<id>", hi.id))).stdout);
    expect(cheatAck).toEqual({ ok: true, id: hi.id, reader: "ccwhitebee", already: false });
    expect((await asClient("ccwhitebee", seed.SESSION_START_POLL)).stdout).toBe("");

    const shared = JSON.parse((await asClient("ccwhitebee", seed.LOAD_CREDS + seed.SHARE_LINK)).stdout);
    expect(shared).toMatchObject({ from: "ccwhitebee", to: "ccmidm1mac", body: "Build dropped at gdrive:claude-handoffs/build-2026-05-25.zip" });

    const health = JSON.parse((await asClient("ccmidm1mac", seed.CHEATSHEET.load + seed.CHEATSHEET.health)).stdout);
    expect(health).toMatchObject({ ok: true, count: 3 });
    expect(new Date(health.now).toISOString()).toBe(health.now);
  });

  it("refuses a missing or wrong credential with 401 and a Basic challenge", async () => {
    for (const a of [undefined, basic(cfg.busUser, "wrong-password-000000000000"), basic("someone-else", password)]) {
      const r = await httpsRequest(ep, "GET", "/health", { auth: a });
      expect(r.status).toBe(401);
      expect(r.headers["www-authenticate"]).toMatch(/^Basic realm="claude-bus"/);
    }
    const post = await httpsRequest(ep, "POST", "/post", { json: { from: "intruder", body: "x" } });
    expect(post.status).toBe(401);
    const count = JSON.parse((await httpsRequest(ep, "GET", "/health", { auth: auth() })).body).count;
    expect(count).toBe(3);
  });

  it("redirects plain HTTP on port 80 to HTTPS", async () => {
    const r = await httpGet(cfg.fqdn, "/messages?limit=1");
    expect([301, 308]).toContain(r.status);
    expect(r.headers.location).toBe(`https://${cfg.fqdn}/messages?limit=1`);
  });

  it("sends HSTS and noindex, and robots.txt disallows everything", async () => {
    const r = await httpsRequest(ep, "GET", "/health", { auth: auth() });
    expect(r.status).toBe(200);
    expect(r.headers["strict-transport-security"]).toMatch(/max-age=(\d{7,})/);
    expect(r.headers["x-robots-tag"]).toMatch(/noindex/);
    expect(String(r.headers.server ?? "")).not.toMatch(/\d/); // server_tokens off: no version
    const robots = await httpsRequest(ep, "GET", "/robots.txt", { auth: auth() });
    expect(robots.status).toBe(200);
    expect(robots.body).toMatch(/User-agent: \*\s*\nDisallow: \/\s*$/m);
    const denied = await httpsRequest(ep, "GET", "/health");
    expect(denied.headers["strict-transport-security"]).toBeDefined();
  });

  it("runs the service as its own unprivileged user, unable to write /etc, scored at most 2.0 by systemd", async () => {
    const { MainPID } = await unitState(SERVICE_NAME);
    const uid = (await onHost(`id -u ${SERVICE_USER}`)).trim();
    expect(Number(uid)).toBeGreaterThan(0);
    const status = await onHost(`cat /proc/${MainPID}/status`);
    expect(status).toMatch(new RegExp(`^Uid:\\s+${uid}\\s+${uid}\\s+${uid}\\s+${uid}$`, "m"));
    expect(status).toMatch(/^CapEff:\s+0+$/m);
    expect(status).toMatch(/^NoNewPrivs:\s+1$/m);
    // Inside the service's own mount namespace, as its user: /etc is read-only, the data dir is not.
    const enter = `nsenter -t ${MainPID} -m -S ${uid} -G ${uid} --`;
    const etc = await lab.ssh.ssh(`${enter} /bin/sh -c 'echo probe > /etc/claude-bus-write-probe'`);
    expect(etc.code).not.toBe(0);
    expect(etc.stderr).toMatch(/Read-only file system/);
    await onHost(`${enter} /bin/sh -c 'echo probe > ${DATA_DIR}/.write-probe && rm ${DATA_DIR}/.write-probe'`);
    expect((await lab.ssh.ssh("test -e /etc/claude-bus-write-probe")).code).toBe(1);
    const score = await onHost(`systemd-analyze security --no-pager ${SERVICE_NAME}.service | tail -n 1`);
    const level = Number(/Overall exposure level for .*: (\d+\.\d+)/.exec(score)?.[1]);
    expect(level).toBeLessThanOrEqual(2.0);
  });

  it("keeps a posted message across systemctl restart claude-bus", async () => {
    const body = `survives restart ${randomBytes(6).toString("hex")}`;
    const posted = await httpsRequest(ep, "POST", "/post", { auth: auth(), json: { from: "restart-probe", body } });
    expect(posted.status).toBe(201);
    const id = JSON.parse(posted.body).id;
    const pidBefore = (await unitState(SERVICE_NAME)).MainPID;
    await onHost(`systemctl restart ${SERVICE_NAME}`);
    const pidAfter = (await unitState(SERVICE_NAME)).MainPID;
    expect(pidAfter).not.toBe(pidBefore);
    const msgs = await waitFor("the bus after restart", async () => {
      const r = await httpsRequest(ep, "GET", "/messages?from=restart-probe", { auth: auth() });
      return r.status === 200 ? JSON.parse(r.body).messages : undefined;
    }, 30000);
    expect(msgs).toEqual([expect.objectContaining({ id, body, from: "restart-probe" })]);
    // And on disk, as JSONL that jq reads.
    expect(await onHost(`jq -r 'select(.id == "${id}") | .body' ${DATA_DIR}/bus.jsonl`)).toBe(`${body}\n`);
  });

  it("lets a client key drop a file into the shared dir over SSH, group-owned through setgid", async () => {
    const file = join(home, "payload.txt");
    writeFileSync(file, "payload\n");
    const o = lab.ssh.options.flatMap((x) => (x === "User=root" ? "User=claude-drop" : x));
    await runOk("scp", [...o, "-q", file, `127.0.0.1:${SHARED_DIR}/`]);
    expect(await onHost(`stat -c '%a %G' ${SHARED_DIR} ${SHARED_DIR}/payload.txt`)).toMatch(/^2770 claude-bus-files\n\d+ claude-bus-files\n$/);
  });

  it("changes nothing and restarts nothing when every step runs a second time", async () => {
    const services = [SERVICE_NAME, "nginx"];
    const before2 = await Promise.all(services.map(unitState));
    const second = await provisionHost(target, cfg, { busPassword: password, bundle, log });
    expect(second.map((r) => [r.name, r.changes])).toEqual(second.map((r) => [r.name, []]));
    const after2 = await Promise.all(services.map(unitState));
    expect(after2).toEqual(before2);
    expect(after2.every((s) => s.ActiveState === "active" && Number(s.MainPID) > 0)).toBe(true);
  });

  it("refuses an uploaded bundle whose sha256 is not the expected one, leaving the installed service as it was", async () => {
    const installed = await onHost(`sha256sum ${BUNDLE_INSTALL_PATH}`);
    const state = await unitState(SERVICE_NAME);
    const service = hostSteps(cfg, { sha256: "0".repeat(64) }).find((s) => s.name === "service")!;
    const refused = runSteps(target, [service], {}, log);
    await expect(refused).rejects.toThrow(`${BUNDLE_UPLOAD_PATH} has sha256 ${bundle.sha256}, expected ${"0".repeat(64)}`);
    expect(await onHost(`sha256sum ${BUNDLE_INSTALL_PATH}`)).toBe(installed);
    expect(await onHost(`ls -A ${APP_DIR}`)).toBe("claude-bus.js\n"); // the private copy is removed too
    expect(await unitState(SERVICE_NAME)).toEqual(state);
  });

  it("rotates the password: old 401, new 200, no failed request from a client polling during the switch", async () => {
    const oldPass = password;
    const next = newPassword();
    type Poll = { started: number; ended: number; status: number; pass: "old" | "new"; error?: string };
    const polls: Poll[] = [];
    let stop = false;
    // The client: GET /health with its env file's password; on 401 it re-reads the file and, if the
    // password there changed, retries once with it. One loop that ends only on `stop` (a throw rejects
    // `poller`, failing the test), so its requests cover the whole switch without a gap of more than one
    // pause. The pause is pacing, not synchronisation: back to back, the polls would outrun nginx's
    // rate limit (20 r/s) and be answered 429.
    const poller = (async () => {
      while (!stop) {
        const started = Date.now();
        let pass = readClientPassword();
        try {
          let r: Reply = await httpsRequest(ep, "GET", "/health", { auth: basic(cfg.busUser, pass) });
          if (r.status === 401 && readClientPassword() !== pass) {
            pass = readClientPassword();
            r = await httpsRequest(ep, "GET", "/health", { auth: basic(cfg.busUser, pass) });
          }
          polls.push({ started, ended: Date.now(), status: r.status, pass: pass === next ? "new" : "old" });
        } catch (e) {
          polls.push({ started, ended: Date.now(), status: 0, pass: pass === next ? "new" : "old", error: String(e) });
        }
        await sleep(Math.max(0, started + 100 - Date.now()));
      }
    })();
    let rotationStart = 0;
    let rotationEnd = 0;
    try {
      await waitFor("the poller's first answers", async () => (polls.length >= 5 ? true : undefined), 30000, 20);
      rotationStart = Date.now();
      const results = await rotateOverSsh(target, cfg, next, log);
      rotationEnd = Date.now();
      expect(results.map((r) => r.name)).toEqual(["credentials", "health"]);
      expect(results[0].changes.length).toBeGreaterThan(0);

      expect((await httpsRequest(ep, "GET", "/health", { auth: basic(cfg.busUser, oldPass) })).status).toBe(401);
      expect((await httpsRequest(ep, "GET", "/health", { auth: basic(cfg.busUser, next) })).status).toBe(200);
      writeClientEnv(next);
      password = next;
      await waitFor("the poller on the new password", async () =>
        (polls.filter((p) => p.pass === "new" && p.status === 200).length >= 5 ? true : undefined), 30000, 20);
    } finally {
      stop = true;
      await poller;
    }

    // The poller was running on both sides of the switch, as the two waitFor calls guarantee: 5 polls
    // before it began, and 5 new-password polls read the env file written after it ended (only the first
    // of them can have started earlier).
    expect(polls.some((p) => p.ended <= rotationStart)).toBe(true);
    expect(polls.some((p) => p.started >= rotationEnd)).toBe(true);
    // So every request it made during the switch is among these, and each was answered correctly.
    const failed = polls.filter((p) => p.status !== 200 && p.status !== 401);
    expect(failed).toEqual([]);
    // 401 only ever for the revoked old password, never for the new one, and never before the switch began.
    expect(polls.filter((p) => p.status === 401 && (p.pass === "new" || p.ended < rotationStart))).toEqual([]);
    // Once refused, the old password stays refused: nginx does not flip back to the old htpasswd.
    const old = polls.filter((p) => p.pass === "old").map((p) => p.status);
    expect(old.slice(old.indexOf(401) === -1 ? old.length : old.indexOf(401))).not.toContain(200);
    const during = polls.filter((p) => p.ended >= rotationStart && p.started <= rotationEnd);
    log(`rotation: ${polls.length} polls, ${during.length} during the ${rotationEnd - rotationStart} ms switch, ` +
      `${polls.filter((p) => p.status === 401).length} answered 401 for the old password`);
    // The host's own copies: the service's env file holds the new password only, 0600 for its user.
    expect(await onHost(`stat -c '%a %U' /etc/claude-bus/credentials.env; grep -c '^BUS_PASS=' /etc/claude-bus/credentials.env`))
      .toBe(`600 ${SERVICE_USER}\n1\n`);
  });

  it("renews the certificate against Pebble: certbot renew --dry-run, then a real renewal nginx serves at once", async () => {
    // What certbot.timer runs with: certbot.service's environment (the ACME server's CA bundle).
    const env = (await onHost("systemctl show -p Environment --value certbot.service")).trim();
    expect(env).toMatch(/REQUESTS_CA_BUNDLE=/);
    const renewal = `/etc/letsencrypt/renewal/${cfg.fqdn}.conf`;
    const server = (await onHost(`sed -n 's/^server = //p' ${renewal}`)).trim();
    expect(server).toBe(lab.acmeDirectoryUrl);
    // --dry-run alone would switch to Let's Encrypt staging: name the server the renewal config holds.
    const dry = await lab.ssh.ssh(`env ${env} certbot renew --dry-run --no-random-sleep-on-renew --server ${server} 2>&1`);
    expect(dry.stdout).toMatch(/all simulated renewals succeeded/i);
    expect(dry.code).toBe(0);

    const served = async () => (await servedCertificate(ep)).serialNumber;
    const serialBefore = await served();
    const real = await lab.ssh.ssh(`env ${env} certbot renew --force-renewal --no-random-sleep-on-renew 2>&1`);
    expect(real.stdout).toMatch(/renewals succeeded/i);
    // The deploy hook reloaded nginx: the new certificate is served without anyone restarting anything.
    const serialAfter = await waitFor("nginx to serve the renewed certificate", async () => {
      const s = await served();
      return s !== serialBefore ? s : undefined;
    }, 15000);
    expect(serialAfter).not.toBe(serialBefore);
  });

  it("tears everything down and leaves this machine as it found it", async () => {
    const pid1 = lab.host.pid1;
    runTeardown();
    expect((await run("test", ["-e", `/proc/${pid1}`])).code).toBe(1);
    await sleep(100);
    expect(snapshotMachine(LAB_PORTS)).toEqual(before);
  });
});
