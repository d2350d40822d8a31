/**
 * End to end on a real throwaway Debian host (13 by default, lab/rootfs.ts; systemd as PID 1, sshd, nginx,
 * certbot, Pebble): every provision step runs in order over SSH through provision/ssh/runner.ts, then the
 * bus is checked from this machine the way its users reach it. Issue 3's "Tests" list, one `it` per item,
 * then issue 11's: the data volume (a loop device stands in), a second host given the same volume,
 * security updates, deploy-key rotation, an interrupted dpkg, the DNS check before certbot, a new ACME
 * server's certificate served at once, and a domain change.
 */
import { createHash, randomBytes, X509Certificate } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildServiceBundle } from "../../provision/bundle";
import { type HostConfig, type HostConfigInput, parseHostConfig } from "../../provision/config";
import {
  APP_DIR,
  BUNDLE_INSTALL_PATH,
  DATA_DIR,
  DROP_GID,
  DROP_UID,
  SERVICE_NAME,
  SERVICE_UID,
  SERVICE_USER,
  SHARED_DIR,
  VOLUME_MOUNT,
} from "../../provision/paths";
import { dataCommandOverSsh, provisionHost, rotateOverSsh, runSteps, type StepResult } from "../../provision/ssh/runner";
import { remoteCommand, runRemote, type SshTarget, sshArgs, sshEnv } from "../../provision/ssh/transport";
import { BUNDLE_UPLOAD_PATH, hostSteps, releaseScript } from "../../provision/steps";
import { basic, type BusEndpoint, httpGet, httpsDownload, httpsRequest, type Reply, servedCertificate } from "./lab/https";
import { type AcmeServer, startAcmeServer } from "./lab/acme";
import { reapOrphanedRuns } from "./lab/boot";
import { type DohStandIn, startDohStandIn } from "./lab/doh";
import { type Lab, LAB_DOMAIN, startLab } from "./lab/lab";
import { removeTree } from "./lab/mounts";
import { run, runOk, sleep, waitFor } from "./lab/run";
import { ensureRootfs, SUITE } from "./lab/rootfs";
import { type MachineSnapshot, snapshotMachine } from "./lab/snapshot";
import { onTeardown, runTeardown } from "./lab/teardown";
import { createLabVolume, LAB_VOLUME_DEVICE, type LabVolume } from "./lab/volume";
import { buildCli } from "../cli/harness";
import { openBackupBucket } from "../../cli/backupBucket";
import { renderBackupTarget } from "../../contract/backupTarget";
import { restoreBackup } from "../../service/dataDir/dataDirTools";
import { startLocalS3, TEST_KEY } from "../support/localS3";
import { freePort } from "../support/ports";
import { tempDir } from "../support/tempDir";
import { launchChromium, screenshot, signIn } from "../support/browser";
import { SESSION_COOKIE } from "../../contract/defaults";
import { WEB_CSP } from "../../service/web/webRoutes";
import * as seed from "./seedSnippets";

const log = (l: string) => process.stdout.write(`[host] ${l}\n`);
const SERVICE_PORT = 8787;
const LAB_PORTS = [80, 443, 2222, 14000, 15000, 8055, SERVICE_PORT];

/** 28 random characters, like the generated bus password. */
const newPassword = () => randomBytes(21).toString("base64").replace(/\+/g, "A").replace(/\//g, "z");

describe("provisioned throwaway host", () => {
  let before: MachineSnapshot;
  let lab: Lab;
  /** The host config as given (the tests change it as a user would change the stack's config). */
  let input: HostConfigInput;
  let cfg: HostConfig;
  const reconfigure = (change: Partial<HostConfigInput>) => {
    input = { ...input, ...change };
    cfg = parseHostConfig(input);
  };
  let volume: LabVolume;
  /** The ACME server (Pebble), in a host of its own: like Let's Encrypt, it outlives a replaced droplet. */
  let acme: AcmeServer;
  let doh: DohStandIn;
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
    return Object.fromEntries(
      out
        .trim()
        .split("\n")
        .map((l) => l.split(/=(.*)/s).slice(0, 2)),
    );
  };
  const auth = () => basic(cfg.busUser, password);

  beforeAll(async () => {
    reapOrphanedRuns(log); // a killed earlier run is not this run's footprint
    before = snapshotMachine(LAB_PORTS);
    const fqdn = `claude-bus.${LAB_DOMAIN}`;
    // Made before the host, so it outlives it (teardown runs newest first).
    volume = await createLabVolume();
    doh = await startDohStandIn();
    acme = await startAcmeServer(await ensureRootfs(log), log);
    lab = await startLab({ fqdn, log, acme, extraTcpPorts: { [SERVICE_PORT]: "the bus service on the host's loopback" } });
    const labKey = readFileSync(`${lab.ssh.identityFile}.pub`, "utf8").trim();
    // No volume yet: the host starts as one deployed before the data volume existed.
    reconfigure({
      domain: LAB_DOMAIN,
      acmeEmail: "admin@example.com",
      acmeServer: lab.acmeDirectoryUrl,
      acmeCaBundle: lab.acmeServerCa,
      servicePort: SERVICE_PORT,
      clientSshKeys: [labKey],
      rootSshKeys: [labKey],
      publicIpv4: "127.0.0.1",
      dohUrl: doh.url,
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

    // Outside the host's run dir: a replaced host gets the same bundle.
    bundle = await buildServiceBundle(join(home, ".cache", "claude-bus-bundle"));
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

  it("enrolls a machine by invite through nginx, binds its sender to its credential, revokes it, and blocks a guesser's address", async () => {
    const invite = await httpsRequest(ep, "POST", "/invites", { auth: auth(), json: { name: "edge-laptop" } });
    expect(invite.status).toBe(201);
    const enrolled = await httpsRequest(ep, "POST", "/enroll", { json: { code: JSON.parse(invite.body).code } });
    expect(enrolled.status).toBe(201);
    const machine = basic("edge-laptop", JSON.parse(enrolled.body).pass);
    expect((await httpsRequest(ep, "POST", "/post", { auth: machine, json: { from: "edge-laptop", to: "ops", body: "enrolled" } })).status).toBe(201);
    const forged = await httpsRequest(ep, "POST", "/post", { auth: machine, json: { from: "ccwhitebee", body: "forged" } });
    expect(forged.status).toBe(403);
    expect(JSON.parse(forged.body).error).toBe(`from: "ccwhitebee" is not this credential's machine "edge-laptop"; a machine posts as itself`);

    expect((await httpsRequest(ep, "POST", "/machines/edge-laptop/revoke", { auth: auth() })).status).toBe(200);
    expect((await httpsRequest(ep, "GET", "/health", { auth: machine })).status).toBe(401);
    expect((await httpsRequest(ep, "GET", "/health", { auth: auth() })).status).toBe(200);
    // Enrollment and revocation are in the host's journal, never the secret.
    const journal = await onHost(`journalctl -u ${SERVICE_NAME} --no-pager -o cat | grep -E '"machine (enrolled|revoked)"'`);
    expect(journal).toMatch(/"machine enrolled","machine":"edge-laptop"/);
    expect(journal).not.toContain(JSON.parse(enrolled.body).pass);

    // nginx passes the address it saw; the service counts failures by it: this client is blocked, others are not.
    const guesser = "127.0.0.9";
    for (let i = 0; i < 10; i++)
      expect((await httpsRequest(ep, "GET", "/health", { auth: basic(cfg.busUser, `guess-${i}-00000000000000000000`), from: guesser })).status).toBe(401);
    const blocked = await httpsRequest(ep, "GET", "/health", { auth: auth(), from: guesser });
    expect(blocked.status).toBe(429);
    expect(blocked.headers["retry-after"]).toMatch(/^\d+$/);
    expect((await httpsRequest(ep, "GET", "/health", { auth: auth() })).status).toBe(200);
    // One source of truth: no htpasswd, no auth_basic in the site.
    expect(await onHost(`test ! -e /etc/nginx/.htpasswd-claude-bus && ! grep -q auth_basic /etc/nginx/sites-available/* && echo clean`)).toBe("clean\n");
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

  it("answers GET /live without a credential from the service itself, over HTTP/2 by `http2 on;`, with Debian's default site gone", async () => {
    const live = await httpsRequest(ep, "GET", "/live");
    expect(live.status).toBe(200);
    expect(live.body).toBe('{"ok":true}\n');
    expect((await asClient("ccmidm1mac", `curl -sS --http2 -o /dev/null -w '%{http_version}' https://${cfg.fqdn}/live`)).stdout).toBe("2");
    const site = await onHost(`cat /etc/nginx/sites-enabled/${cfg.fqdn}`);
    expect(site).toContain("    http2 on;\n");
    expect(site).not.toMatch(/listen [^;]*http2/);
    expect((await lab.ssh.ssh("nginx -t 2>&1")).stdout).not.toMatch(/deprecated/);
    expect(await onHost("ls -A /etc/nginx/sites-enabled")).not.toMatch(/^default$/m);
    // With the service stopped, nginx cannot answer it: the uptime check sees the service, not nginx.
    await onHost(`systemctl stop ${SERVICE_NAME}`);
    try {
      expect((await httpsRequest(ep, "GET", "/live")).status).toBe(502);
    } finally {
      await onHost(`systemctl start ${SERVICE_NAME}`);
    }
    await waitFor("the bus back", async () => ((await httpsRequest(ep, "GET", "/live")).status === 200 ? true : undefined), 30_000);
  });

  it("opens the web inbox through nginx and TLS: page and script with the strict CSP, and a sign-in in chromium that gets a Secure cookie", async () => {
    const page = await httpsRequest(ep, "GET", "/");
    expect(page.status).toBe(200);
    expect(page.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(page.headers["content-security-policy"]).toBe(WEB_CSP);
    expect(page.headers["strict-transport-security"]).toBeDefined();
    const script = await httpsRequest(ep, "GET", /<script src="(\/app\/app-[0-9a-f]{12}\.js)"/.exec(page.body)![1]!);
    expect(script.status).toBe(200);
    expect(script.headers["content-type"]).toBe("text/javascript; charset=utf-8");
    expect(script.headers["content-security-policy"]).toBe(WEB_CSP);
    expect(script.headers["cache-control"]).toBe("public, max-age=31536000, immutable");

    // Chromium on this machine reaches the host's name on loopback and trusts the certificate Pebble issued it.
    const leaf = new X509Certificate((await servedCertificate(ep)).raw);
    const spki = createHash("sha256")
      .update(leaf.publicKey.export({ type: "spki", format: "der" }))
      .digest("base64");
    const browser = await launchChromium([`--host-resolver-rules=MAP ${cfg.fqdn} 127.0.0.1`, `--ignore-certificate-errors-spki-list=${spki}`]);
    try {
      const signedIn = await signIn(browser, `https://${cfg.fqdn}/`, cfg.busUser, password);
      expect(await signedIn.page.cookies()).toEqual([expect.objectContaining({ name: SESSION_COOKIE, secure: true, httpOnly: true, sameSite: "Strict" })]);
      expect(signedIn.problems).toEqual([]);
      await screenshot(signedIn.page, "host-inbox");
    } finally {
      await browser.close();
    }
  });

  it("runs the service as its own unprivileged user, unable to write /etc, scored at most 2.0 by systemd", async () => {
    const { MainPID } = await unitState(SERVICE_NAME);
    const uid = (await onHost(`id -u ${SERVICE_USER}`)).trim();
    // The fixed ids (provision/paths.ts), whatever the image would have handed out.
    expect(uid).toBe(String(SERVICE_UID));
    expect(await onHost(`id -g ${SERVICE_USER}; id -u claude-drop; getent group claude-bus-files | cut -d: -f3`)).toBe(
      `${SERVICE_UID}\n${DROP_UID}\n${DROP_GID}\n`,
    );
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
    const msgs = await waitFor(
      "the bus after restart",
      async () => {
        const r = await httpsRequest(ep, "GET", "/messages?from=restart-probe", { auth: auth() });
        return r.status === 200 ? JSON.parse(r.body).messages : undefined;
      },
      30000,
    );
    expect(msgs).toEqual([expect.objectContaining({ id, body, from: "restart-probe" })]);
    // And on disk, as JSONL that jq reads.
    expect(await onHost(`jq -r 'select(.id == "${id}") | .body' ${DATA_DIR}/bus.jsonl`)).toBe(`${body}\n`);
  });

  it("passes long-polls through nginx: a post wakes a waiting request at once, and a 55-second wait is held to its end", async () => {
    const waiting = httpsRequest(ep, "GET", "/messages?from=waker&to=long-poll-probe&wait=30", { auth: auth(), timeoutMs: 40_000 });
    await sleep(500);
    const posted = JSON.parse(
      (await httpsRequest(ep, "POST", "/post", { auth: auth(), json: { from: "waker", to: "long-poll-probe", body: "wake up" } })).body,
    );
    const woken = await waiting;
    expect(woken.status).toBe(200);
    expect(JSON.parse(woken.body).messages.map((m: { id: string }) => m.id)).toEqual([posted.id]);

    const started = Date.now();
    const held = await httpsRequest(ep, "GET", `/messages?to=long-poll-probe&since=${posted.id}&wait=55`, { auth: auth(), timeoutMs: 75_000 });
    expect(held.status).toBe(200);
    expect(JSON.parse(held.body)).toEqual({ messages: [] });
    expect(Date.now() - started).toBeGreaterThanOrEqual(54_000); // answered by the bus when its wait ran out, not cut by nginx
  });

  it("moves a file with a message through the real nginx: a 12 MiB upload, one in parts, a download resumed by curl -C -, each hash checked", async () => {
    const MiB = 1024 * 1024;
    const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");
    const build = randomBytes(12 * MiB);
    writeFileSync(join(home, "build.zip"), build);
    const curl = `curl -s -u "$BUS_USER:$BUS_PASS"`;
    /** A client machine's shell in its HOME, with the credentials loaded. */
    const client = async (me: string, script: string) => (await asClient(me, `cd ~\n${seed.LOAD_CREDS}${script}`)).stdout;
    const uploaded = JSON.parse(await client("ccmidm1mac", `${curl} --data-binary @build.zip "$BUS_URL/files?name=build.zip"`));
    expect(uploaded).toEqual({ sha256: sha256(build), size: build.length, name: "build.zip" });
    const post = JSON.stringify({ from: "ccmidm1mac", to: "ccwhitebee", body: "see attached", attachments: [{ sha256: sha256(build), name: "build.zip" }] });
    const posted = JSON.parse(await client("ccmidm1mac", `${curl} -H "Content-Type: application/json" -X POST "$BUS_URL/post" -d '${post}'`));
    expect(posted.attachments).toEqual([{ sha256: sha256(build), name: "build.zip", size: build.length }]);

    // The other machine: the first 5 MiB, then the rest where it left off (curl -C - sends Range: bytes=N-).
    const fetch = `${curl} -r 0-${5 * MiB - 1} -o fetched.zip "$BUS_URL/files/${sha256(build)}" && ${curl} -C - -o fetched.zip -w '%{http_code}' "$BUS_URL/files/${sha256(build)}"`;
    expect(await client("ccwhitebee", fetch)).toBe("206");
    expect(sha256(readFileSync(join(home, "fetched.zip")))).toBe(sha256(build));

    // A resumable upload in two parts; the second part after asking where the first ended.
    const notes = randomBytes(3 * MiB);
    writeFileSync(join(home, "part1"), notes.subarray(0, MiB));
    writeFileSync(join(home, "part2"), notes.subarray(MiB));
    const put = (range: string, file: string) =>
      `${curl} -X PUT -H "Content-Range: bytes ${range}/${notes.length}" --data-binary @${file} "$BUS_URL/files/${sha256(notes)}?name=notes.bin"`;
    const first = JSON.parse(await client("ccmidm1mac", put(`0-${MiB - 1}`, "part1")));
    expect(first).toEqual({ sha256: sha256(notes), offset: MiB, size: notes.length });
    const offset = await client("ccmidm1mac", `${curl} -I "$BUS_URL/files/${sha256(notes)}" | tr -d '\\r' | sed -n 's/^upload-offset: //Ip'`);
    expect(offset).toBe(`${MiB}\n`);
    const done = JSON.parse(await client("ccmidm1mac", put(`${MiB}-${notes.length - 1}`, "part2")));
    expect(done).toEqual({ sha256: sha256(notes), size: notes.length, name: "notes.bin" });

    // On the host: whole files under their sha256, the service's own, in its data dir.
    expect(await onHost(`stat -c '%a %U %s' ${DATA_DIR}/files/${sha256(build)} ${DATA_DIR}/files/${sha256(notes)}`)).toBe(
      `600 ${SERVICE_USER} ${build.length}\n600 ${SERVICE_USER} ${notes.length}\n`,
    );
    expect(await onHost(`ls -A ${DATA_DIR}/files/.partial ${DATA_DIR}/files/.upload | grep -v ':$' | grep . || echo none`)).toBe("none\n");

    // The same as the README shows it, through the same nginx: `claude-bus post --attach` on one machine
    // (its resumable PUTs, Expect: 100-continue), `claude-bus fetch ID` on the other.
    const cli = await buildCli();
    const claudeBus = (me: string, args: string[]) =>
      runOk(process.execPath, ["--require", join(__dirname, "lab", "resolveLabName.cjs"), "--", cli, ...args, "--me", me], {
        cwd: home,
        env: { HOME: home, PATH: "/usr/local/bin:/usr/bin:/bin", NODE_EXTRA_CA_CERTS: lab.issuerChainFile, LAB_FQDN: cfg.fqdn },
      });
    const report = randomBytes(20 * MiB);
    writeFileSync(join(home, "report.tar"), report);
    const sent = await claudeBus("ccmidm1mac", ["post", "--to", "ccwhitebee", "--attach", "report.tar", "--json", "the report"]);
    const message = JSON.parse(sent.stdout);
    expect(message.attachments).toEqual([{ sha256: sha256(report), name: "report.tar", size: report.length }]);
    const fetched = await claudeBus("ccwhitebee", ["fetch", message.id, "--out", "inbox"]);
    expect(fetched.stdout).toContain(`to ${join(home, "inbox", message.id, "report.tar")} (sha256 checked)`);
    expect(sha256(readFileSync(join(home, "inbox", message.id, "report.tar")))).toBe(sha256(report));
  });

  it("moves house: a backup over HTTPS while the bus runs, restore over SSH, and an import of a team-page bus.jsonl", async () => {
    const backup = await httpsDownload(ep, "/backup", auth());
    expect(backup.status).toBe(200);
    const before = JSON.parse((await httpsRequest(ep, "GET", "/messages?limit=500", { auth: auth() })).body).messages;
    const after = await httpsRequest(ep, "POST", "/post", { auth: auth(), json: { from: "after-backup", body: "not in the backup" } });
    expect(after.status).toBe(201);

    const restored = await dataCommandOverSsh(target, cfg, "restore", backup.bytes, ["--force"], log);
    expect(restored).toContain(`restored ${before.length} messages into ${DATA_DIR}`);
    const now = await waitFor(
      "the bus back after the restore",
      async () => {
        const r = await httpsRequest(ep, "GET", "/messages?limit=500", { auth: auth() });
        return r.status === 200 ? JSON.parse(r.body).messages : undefined;
      },
      30_000,
    );
    expect(now).toEqual(before);
    expect(await onHost(`stat -c '%U' ${DATA_DIR}/bus.jsonl ${DATA_DIR}/acks.jsonl`)).toBe(`${SERVICE_USER}\n${SERVICE_USER}\n`);

    const seedFile = `${[
      {
        id: "flask-1",
        ts: "2026-05-25T17:00:00.123456",
        from: "ccwhitebee",
        to: "ccmidm1mac",
        body: "from the Flask bus",
        tags: ["build"],
        read_by: ["ccmidm1mac"],
      },
      { id: "flask-2", ts: "2026-05-25T17:05:00Z", from: "ccmidm1mac", body: "and another", read_by: [] },
    ]
      .map((m) => JSON.stringify(m))
      .join("\n")}\n`;
    const imported = await dataCommandOverSsh(target, cfg, "import", Buffer.from(seedFile), [], log);
    const first = before.length + 1;
    expect(imported).toContain(`flask-1 -> ${first}\nflask-2 -> ${first + 1}`);
    const flask = await waitFor(
      "the imported messages",
      async () => {
        const r = await httpsRequest(ep, "GET", `/messages?since=${before.length}`, { auth: auth() });
        return r.status === 200 ? JSON.parse(r.body).messages : undefined;
      },
      30_000,
    );
    expect(flask).toEqual([
      expect.objectContaining({
        id: String(first),
        ts: "2026-05-25T17:00:00.123Z",
        from: "ccwhitebee",
        body: "from the Flask bus",
        read_by: ["ccwhitebee", "ccmidm1mac"],
      }),
      expect.objectContaining({ id: String(first + 1), ts: "2026-05-25T17:05:00.000Z", from: "ccmidm1mac", to: "any" }),
    ]);
  });

  it("backs up daily to an S3-compatible bucket: the timer's service uploads through the bus on loopback, and fails visibly when the bucket cannot be reached", async () => {
    // The bucket is s3rver in this process: the host shares this machine's loopback.
    const s3 = await startLocalS3();
    const unit = "claude-bus-backup.service";
    try {
      reconfigure({ backups: { keep: 2 } });
      const backupsStep = () => hostSteps(cfg, bundle).filter((s) => s.name === "backups");
      const [installed] = await runSteps(target, backupsStep(), { backupTarget: renderBackupTarget(s3.target()) }, log);
      expect(installed.changes).toEqual(expect.arrayContaining(["enabled claude-bus-backup.timer", "started claude-bus-backup.timer"]));
      expect((await onHost("systemctl show -P NextElapseUSecRealtime claude-bus-backup.timer")).trim()).not.toBe("");
      expect(await onHost("stat -c '%a %U' /etc/claude-bus/backup-s3.env")).toBe(`600 ${SERVICE_USER}\n`);

      const started = await lab.ssh.ssh(`systemctl start ${unit}`);
      if (started.code !== 0) throw new Error(`${unit} failed:\n${await onHost(`journalctl -u ${unit} --no-pager -n 40 -o cat`)}`);
      const messages = JSON.parse((await httpsRequest(ep, "GET", "/messages?limit=500", { auth: auth() })).body).messages;
      const [stored] = await openBackupBucket(s3.target()).list();
      expect(stored.key).toMatch(/^claude-bus-backup-\d{8}T\d{6}Z\.tar\.gz$/);
      const file = join(tempDir("host-backup"), "backup.tar.gz");
      await openBackupBucket(s3.target()).download(stored.key, file);
      expect(await restoreBackup(readFileSync(file), join(file, "..", "data"), { force: false })).toBe(messages.length);
      // Neither secret is in what systemd shows of the unit, nor in what the run logged.
      const shown = (await onHost(`systemctl show ${unit}; journalctl -u ${unit} --no-pager`)) + (await onHost(`systemctl show claude-bus-backup.timer`));
      expect(shown).not.toContain(TEST_KEY.secret);
      expect(shown).not.toContain(password);

      const away = await freePort();
      await runSteps(target, backupsStep(), { backupTarget: renderBackupTarget({ ...s3.target(), BACKUP_S3_ENDPOINT: `http://127.0.0.1:${away}` }) }, log);
      expect((await lab.ssh.ssh(`systemctl start ${unit}`)).code).not.toBe(0);
      expect((await onHost(`systemctl show -P Result ${unit}`)).trim()).toBe("exit-code");
      expect(await onHost(`journalctl -u ${unit} --no-pager -n 20`)).toContain(`cannot reach http://127.0.0.1:${away}: ECONNREFUSED`);
    } finally {
      // The later tests run the steps without a bucket: the timer goes, as it would by hand.
      reconfigure({ backups: undefined });
      await onHost("systemctl disable --now claude-bus-backup.timer; systemctl reset-failed claude-bus-backup.service || true");
      await s3.close();
    }
  });

  it("lets a client key drop a file into the shared dir over SSH, group-owned through setgid", async () => {
    const file = join(home, "payload.txt");
    writeFileSync(file, "payload\n");
    const o = lab.ssh.options.flatMap((x) => (x === "User=root" ? "User=claude-drop" : x));
    await runOk("scp", [...o, "-q", file, `127.0.0.1:${SHARED_DIR}/`]);
    expect(await onHost(`stat -c '%a %G' ${SHARED_DIR} ${SHARED_DIR}/payload.txt`)).toMatch(/^2770 claude-bus-files\n\d+ claude-bus-files\n$/);
    // Nothing but SFTP: no command runs (the key's forced internal-sftp, the user's nologin shell), and no
    // port forwarding reaches the service on the host's loopback past nginx.
    expect((await onHost("getent passwd claude-drop")).trim()).toMatch(/:\/usr\/sbin\/nologin$/);
    const command = await run("ssh", [...o, "127.0.0.1", "id; echo ran-a-command"], { env: sshEnv() });
    expect(command.stdout).not.toMatch(/ran-a-command|uid=/);
    const forward = await run("ssh", [...o, "-W", `127.0.0.1:${SERVICE_PORT}`, "127.0.0.1"], { env: sshEnv(), input: "GET /live HTTP/1.0\r\n\r\n" });
    expect(forward.code).not.toBe(0);
    expect(forward.stdout).not.toContain("200 OK");
    expect(forward.stderr).toMatch(/stdio forwarding failed|administratively prohibited/);
  });

  it("moves the data dir and the drop dir onto the data volume (ext4 from DigitalOcean): mounted by UUID with nofail, nothing formatted, every message and file kept", async () => {
    const jsonl = await onHost(`cat ${DATA_DIR}/bus.jsonl`);
    const count = JSON.parse((await httpsRequest(ep, "GET", "/health", { auth: auth() })).body).count;
    await volume.attachTo(lab.host);
    reconfigure({ volume: { device: LAB_VOLUME_DEVICE } });
    const results = await provisionHost(target, cfg, { busPassword: password, bundle, log });
    const changes = results.find((r) => r.name === "volume")!.changes.join("\n");
    expect(changes).not.toMatch(/format/);
    expect(changes).toContain(`moved the files of ${DATA_DIR} onto the volume`);
    expect(changes).toContain(`moved the files of ${SHARED_DIR} onto the volume`);

    const uuid = (await onHost(`blkid -p -s UUID -o value ${LAB_VOLUME_DEVICE}`)).trim();
    const fstab = await onHost("cat /etc/fstab");
    expect(fstab).toContain(`\nUUID=${uuid} ${VOLUME_MOUNT} ext4 defaults,nofail,noatime,discard 0 2\n`);
    expect(fstab).toContain(`\n${VOLUME_MOUNT}/data ${DATA_DIR} none bind,nofail 0 0\n${VOLUME_MOUNT}/files ${SHARED_DIR} none bind,nofail 0 0\n`);
    expect(await onHost(`findmnt -no SOURCE ${VOLUME_MOUNT}`)).toBe(`${volume.loop}\n`);
    expect(await onHost(`findmnt -no FSROOT,FSTYPE ${DATA_DIR}; findmnt -no FSROOT,FSTYPE ${SHARED_DIR}`)).toMatch(/^\/data\s+ext4\n\/files\s+ext4\n$/);
    // The bus never starts on the root disk's empty dir below the mount.
    // (Debian 12's systemd also lists /var/tmp here, for PrivateTmp=.)
    expect((await onHost(`systemctl show -p RequiresMountsFor --value ${SERVICE_NAME}`)).trim().split(/\s+/)).toContain(DATA_DIR);
    const requires = (await onHost(`systemctl show -p Requires --value ${SERVICE_NAME}`)).trim().split(/\s+/);
    const dataMount = (await onHost(`systemd-escape -p --suffix=mount ${DATA_DIR}`)).trim();
    expect(requires.map((unit) => unit.replace(/^"|"$/g, "").replace(/\\\\/g, "\\"))).toContain(dataMount);
    expect(await onHost(`stat -c '%a %U:%G' ${DATA_DIR} ${SHARED_DIR}`)).toBe(`750 ${SERVICE_USER}:${SERVICE_USER}\n2770 root:claude-bus-files\n`);

    expect(await onHost(`cat ${VOLUME_MOUNT}/data/bus.jsonl`)).toBe(jsonl);
    expect(await onHost(`ls ${VOLUME_MOUNT}/files`)).toBe("payload.txt\n");
    expect(JSON.parse((await httpsRequest(ep, "GET", "/health", { auth: auth() })).body).count).toBe(count);
    const posted = await httpsRequest(ep, "POST", "/post", { auth: auth(), json: { from: "volume-probe", body: "on the volume" } });
    expect(posted.status).toBe(201);
    expect(await onHost(`tail -n 1 ${VOLUME_MOUNT}/data/bus.jsonl | jq -r .body`)).toBe("on the volume\n");
  });

  it("installs security updates by itself: unattended-upgrades takes Debian's security archive only, and its dry run works", async () => {
    const config = (await onHost("apt-config dump")).split("\n");
    expect(config.filter((l) => l.startsWith("Unattended-Upgrade::Origins-Pattern:: "))).toEqual([
      // biome-ignore lint/suspicious/noTemplateCurlyInString: apt's own variable, as the file holds it
      'Unattended-Upgrade::Origins-Pattern:: "origin=Debian,codename=${distro_codename}-security,label=Debian-Security";',
    ]);
    expect(config).toEqual(
      expect.arrayContaining([
        'APT::Periodic::Update-Package-Lists "1";',
        'APT::Periodic::Unattended-Upgrade "1";',
        'Unattended-Upgrade::Automatic-Reboot "true";',
        'Unattended-Upgrade::Automatic-Reboot-Time "04:00";',
      ]),
    );
    const dry = await lab.ssh.ssh("unattended-upgrade --dry-run --debug 2>&1");
    expect(dry.stdout).toContain(`Allowed origins are: origin=Debian,codename=${SUITE}-security,label=Debian-Security`);
    expect(dry.code).toBe(0);
  });

  it("finishes what an interrupted dpkg left half done before it installs anything", async () => {
    // What a dropped connection mid-apt leaves: dpkg's journal of a package it had not finished configuring.
    await onHost("dpkg-query -s jq | sed 's/^Status: .*/Status: install ok half-configured/' > /var/lib/dpkg/updates/0001");
    expect((await lab.ssh.ssh("apt-get check 2>&1")).stdout).toMatch(/dpkg was interrupted/);
    const packages = hostSteps(cfg, bundle).filter((s) => s.name === "packages");
    const [result] = await runSteps(target, packages, {}, log);
    expect(result.changes).toEqual(["dpkg finished an interrupted run (dpkg --configure -a)"]);
    expect(await onHost("ls -A /var/lib/dpkg/updates; dpkg --audit; apt-get check -qq && echo clean")).toBe("clean\n");
  });

  it("rotates the deploy key on the same host: the new key authorized beside the old, then the old one dropped", async () => {
    const dir = mkdtempSync(join(tmpdir(), "claude-bus-deploy-key-"));
    onTeardown(`deploy key ${dir}`, () => removeTree(dir));
    await runOk("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "new-deploy-key", "-f", join(dir, "id_ed25519")]);
    const oldKey = cfg.rootSshKeys[0];
    const newKey = readFileSync(join(dir, "id_ed25519.pub"), "utf8").trim();
    const withNewKey: SshTarget = { ...target, identityFile: join(dir, "id_ed25519") };
    const logsIn = async (t: SshTarget) => (await run("ssh", sshArgs(t, "true"), { env: sshEnv() })).code === 0;
    const sshKeysStep = () => hostSteps(cfg, bundle).filter((s) => s.name === "ssh-keys");
    expect([await logsIn(target), await logsIn(withNewKey)]).toEqual([true, false]);

    reconfigure({ rootSshKeys: [oldKey, newKey] }); // sshNewPublicKey set: the run still logs in with the old key
    await runSteps(target, sshKeysStep(), {}, log);
    expect([await logsIn(target), await logsIn(withNewKey)]).toEqual([true, true]);
    reconfigure({ rootSshKeys: [newKey] }); // sshPublicKey and sshPrivateKey now the new key's
    await runSteps(withNewKey, sshKeysStep(), {}, log);
    expect([await logsIn(target), await logsIn(withNewKey)]).toEqual([false, true]);
    expect(
      await run("ssh", ["-F", lab.ssh.configFile, "-i", join(dir, "id_ed25519"), "claude-bus-lab", "stat -c '%a %U' /root/.ssh/authorized_keys"]),
    ).toMatchObject({ stdout: "600 root\n" });

    // And back the same way, so the tests after this one log in with the lab's key again.
    reconfigure({ rootSshKeys: [newKey, oldKey] });
    await runSteps(withNewKey, sshKeysStep(), {}, log);
    reconfigure({ rootSshKeys: [oldKey] });
    await runSteps(target, sshKeysStep(), {}, log);
    expect([await logsIn(target), await logsIn(withNewKey)]).toEqual([true, false]);
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
      await waitFor(
        "the poller on the new password",
        async () => (polls.filter((p) => p.pass === "new" && p.status === 200).length >= 5 ? true : undefined),
        30000,
        20,
      );
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
    // Once refused, the old password stays refused: the service does not flip back to it.
    const old = polls.filter((p) => p.pass === "old").map((p) => p.status);
    expect(old.slice(old.indexOf(401) === -1 ? old.length : old.indexOf(401))).not.toContain(200);
    const during = polls.filter((p) => p.ended >= rotationStart && p.started <= rotationEnd);
    log(
      `rotation: ${polls.length} polls, ${during.length} during the ${rotationEnd - rotationStart} ms switch, ` +
        `${polls.filter((p) => p.status === 401).length} answered 401 for the old password`,
    );
    // The host's own copies: the service's env file holds the new password only, 0600 for its user.
    expect(await onHost(`stat -c '%a %U' /etc/claude-bus/credentials.env; grep -c '^BUS_PASS=' /etc/claude-bus/credentials.env`)).toBe(
      `600 ${SERVICE_USER}\n1\n`,
    );
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
    const serialAfter = await waitFor(
      "nginx to serve the renewed certificate",
      async () => {
        const s = await served();
        return s !== serialBefore ? s : undefined;
      },
      15000,
    );
    expect(serialAfter).not.toBe(serialBefore);
  });

  it("checks where the name resolves before it asks a new ACME server (staging to production), then serves the new certificate at once", async () => {
    const production = lab.acmeDirectoryUrl.replace("127.0.0.1", "localhost"); // the same Pebble by another name: another ACME server to certbot
    const renewalServer = async () => (await onHost(`sed -n 's/^server = //p' /etc/letsencrypt/renewal/${cfg.fqdn}.conf`)).trim();
    const certificateStep = () => hostSteps(cfg, bundle).filter((s) => s.name === "certificate");
    reconfigure({ acmeServer: production });

    doh.answer(cfg.fqdn, "192.0.2.7");
    await expect(runSteps(target, certificateStep(), {}, log)).rejects.toThrow(
      `${cfg.fqdn} resolves to 192.0.2.7, not 127.0.0.1: point the A record at 127.0.0.1 and run again`,
    );
    expect(await renewalServer()).toBe(lab.acmeDirectoryUrl); // certbot was not asked
    expect(doh.asked).toContain(cfg.fqdn);

    doh.answer(cfg.fqdn, "127.0.0.1");
    const served = async () => (await servedCertificate(ep)).serialNumber;
    const serialBefore = await served();
    const [result] = await runSteps(target, certificateStep(), {}, log);
    expect(result.changes).toEqual(expect.arrayContaining([`certificate for ${cfg.fqdn} issued by ${production}`, "reloaded nginx"]));
    expect(await renewalServer()).toBe(production);
    // certbot certonly runs no deploy hook: the step itself made nginx load the new certificate.
    const serialAfter = await waitFor(
      "nginx to serve the new server's certificate",
      async () => {
        const s = await served();
        return s !== serialBefore ? s : undefined;
      },
      10000,
    );
    expect(serialAfter).not.toBe(serialBefore);
  });

  it("moves to a new name: its own certificate and site, and the old name's site and certificate are removed", async () => {
    const oldFqdn = cfg.fqdn;
    reconfigure({ subdomain: "claude-bus-renamed" });
    const results = await provisionHost(target, cfg, { busPassword: password, bundle, log });
    expect(results.find((r) => r.name === "certificate")!.changes).toEqual(
      expect.arrayContaining([
        `certificate for ${cfg.fqdn} issued by ${cfg.acmeServer}`,
        `removed /etc/nginx/sites-enabled/${oldFqdn}`,
        `removed /etc/nginx/sites-available/${oldFqdn}`,
        `deleted the certificate for ${oldFqdn}`,
      ]),
    );
    const left = await onHost(
      `ls /etc/nginx/sites-available /etc/nginx/sites-enabled /etc/letsencrypt/renewal; certbot certificates 2>/dev/null | sed -n 's/^ *Certificate Name: //p'`,
    );
    expect(left).not.toContain(oldFqdn);
    expect(left.match(new RegExp(cfg.fqdn.replace(/\./g, "\\."), "g"))).toHaveLength(4);
    ep = { ...ep, fqdn: cfg.fqdn };
    expect((await httpsRequest(ep, "GET", "/health", { auth: auth() })).status).toBe(200);
  });

  it("stops the volume step on a device it cannot read, with a message that says so, and formats nothing", async () => {
    const contents = mkdtempSync(join(tmpdir(), "claude-bus-unreadable-"));
    onTeardown(`unreadable volume contents ${contents}`, () => removeTree(contents));
    mkdirSync(join(contents, "data"));
    writeFileSync(
      join(contents, "data", "bus.jsonl"),
      `${JSON.stringify({ id: "1", ts: "2026-05-25T17:00:00.000Z", from: "a", to: "any", body: "kept", read_by: [] })}\n`,
    );
    const unreadable = await createLabVolume({ name: "claude-bus-lab-2", sizeMiB: 16, contents });
    await unreadable.attachTo(lab.host, { unreadable: true });
    // The premise: the node is there, a block device, and not even root can read it.
    const probe = await lab.ssh.ssh(`test -b ${unreadable.device} && head -c 512 ${unreadable.device} >/dev/null`);
    expect(probe.stderr).toMatch(/Permission denied/);
    const image = unreadable.sha256();
    const fstab = await onHost("cat /etc/fstab");

    const step = hostSteps(parseHostConfig({ ...input, volume: { device: unreadable.device } }), bundle).filter((s) => s.name === "volume");
    const failure = await runSteps(target, step, {}, log).then(
      () => "the step succeeded",
      (e: Error) => e.message,
    );
    expect(failure).toMatch(/^step volume failed/);
    expect(failure).toContain(unreadable.device);
    expect(failure).toMatch(/cannot read|could not read|not readable|unreadable/i);
    expect(failure).not.toMatch(/mkfs|mke2fs/); // it never went as far as trying to format
    expect(unreadable.sha256()).toBe(image);
    expect(await onHost("cat /etc/fstab")).toBe(fstab);
  });

  it("replaces the droplet (the drill): a fresh root whose image hands out other UIDs, the same volume, every step again; all data kept, no certificate ordered, the same host key, clients carry on", async () => {
    // What the users have on the bus: a machine of its own, messages both ways, acks, a file.
    const invite = JSON.parse((await httpsRequest(ep, "POST", "/invites", { auth: auth(), json: { name: "drill-laptop" } })).body);
    const enrolled = await httpsRequest(ep, "POST", "/enroll", { json: { code: invite.code } });
    expect(enrolled.status).toBe(201);
    const laptop = basic("drill-laptop", JSON.parse(enrolled.body).pass);
    const post = async (a: string, json: object) => {
      const r = await httpsRequest(ep, "POST", "/post", { auth: a, json });
      expect({ status: r.status, body: r.body }).toEqual({ status: 201, body: expect.any(String) });
      return JSON.parse(r.body) as { id: string };
    };
    const sent = [];
    for (let i = 0; i < 3; i++) sent.push(await post(laptop, { from: "drill-laptop", to: "ccwhitebee", body: `before the replacement ${i}` }));
    const toLaptop = await post(auth(), { from: "ccwhitebee", to: "drill-laptop", body: "for the laptop" });
    expect((await httpsRequest(ep, "POST", "/ack", { auth: auth(), json: { reader: "ccwhitebee", ids: [sent[0].id, sent[1].id] } })).status).toBe(200);
    expect((await httpsRequest(ep, "POST", `/ack/${toLaptop.id}`, { auth: laptop, json: { reader: "drill-laptop" } })).status).toBe(200);
    const drillFile = randomBytes(256 * 1024);
    const upload = await httpsRequest(ep, "POST", "/files?name=drill.bin", { auth: laptop, bytes: drillFile });
    expect(upload.status).toBe(201);
    const uploaded = JSON.parse(upload.body);
    await post(laptop, { from: "drill-laptop", to: "ccwhitebee", body: "the drill file", attachments: [{ sha256: uploaded.sha256, name: "drill.bin" }] });

    // What must survive: every message with its acks, every stored file, every machine credential...
    const allMessages = async () =>
      JSON.parse((await httpsRequest(ep, "GET", "/messages?limit=500", { auth: auth() })).body).messages as {
        id: string;
        attachments?: { sha256: string; size: number }[];
      }[];
    type Machine = { name: string; credential: { issued: string | null; rotated: string | null; revoked: string | null } | null };
    const credentials = async () =>
      (JSON.parse((await httpsRequest(ep, "GET", "/machines", { auth: auth() })).body).machines as Machine[]).map(({ name, credential: c }) => ({
        name,
        issued: c?.issued,
        rotated: c?.rotated,
        revoked: c?.revoked,
      }));
    const storedFiles = () => onHost(`cd ${DATA_DIR}/files && ls -l --time-style=+ . | awk 'NR > 1 {print $5, $6}'; ls -A ${SHARED_DIR}`);
    const messagesBefore = await allMessages();
    const credentialsBefore = await credentials();
    const filesBefore = await storedFiles();
    // ...and what makes the host itself: its certificate (no new order at the ACME server) and SSH host keys.
    const hostKeys = async () =>
      (await runOk("ssh-keyscan", ["-p", String(lab.ssh.port), "127.0.0.1"])).stdout
        .split("\n")
        .filter((l) => l && !l.startsWith("#"))
        .sort();
    const keysBefore = await hostKeys();
    const pinned = join(home, "known_hosts.before-replacement"); // a client's known_hosts, pinned on the old host
    writeFileSync(pinned, readFileSync(lab.ssh.knownHostsFile));
    const serialBefore = (await servedCertificate(ep)).serialNumber;
    const ordersBefore = await acme.orders();
    expect(ordersBefore).toBeGreaterThan(0); // the count sees the orders made so far
    const accounts = `for a in ${SERVICE_USER} claude-drop; do echo "$a $(id -u $a):$(id -g $a)"; done`;
    const idsBefore = await onHost(accounts);

    // Two clients from before, running through it all: a /health poller (what the downtime is measured
    // by) and the laptop's long-poll for its messages, on the credential it had.
    type Seen = { at: number; status: number };
    const health: Seen[] = [];
    const laptopGot: { id: string; body: string }[] = [];
    let stop = false;
    const healthLoop = (async () => {
      while (!stop) {
        const started = Date.now();
        const status = await httpsRequest(ep, "GET", "/health", { auth: auth(), timeoutMs: 5000 }).then(
          (r) => r.status,
          () => 0,
        );
        health.push({ at: Date.now(), status });
        await sleep(Math.max(0, started + 250 - Date.now()));
      }
    })();
    const laptopLoop = (async () => {
      let since = toLaptop.id;
      while (!stop) {
        const r = await httpsRequest(ep, "GET", `/messages?to=drill-laptop&since=${since}&wait=5`, { auth: laptop, timeoutMs: 15_000 }).catch(() => undefined);
        if (r?.status !== 200) {
          await sleep(250);
          continue;
        }
        const got = JSON.parse(r.body).messages;
        laptopGot.push(...got);
        if (got.length) since = got[got.length - 1].id;
      }
    })();
    try {
      await waitFor("the poller's first answers", async () => (health.filter((s) => s.status === 200).length >= 3 ? true : undefined), 30000, 50);

      // The old droplet goes as the engine removes it: the release command's delete first (the bus stopped,
      // the volume written out and unmounted), then the attachment, then the droplet (kill -9 of its PID 1).
      const stoppedAt = Date.now();
      const release = await runRemote(target, remoteCommand(target, releaseScript(cfg)), undefined, (l) => log(`    ${l}`));
      expect(release.code).toBe(0);
      const releasedAt = Date.now();
      expect(await onHost(`findmnt -rn -o TARGET -S ${volume.loop} || echo none`)).toBe("none\n");
      lab.destroy();
      const goneAt = Date.now();

      // The new droplet: a fresh root from the image, whose own system accounts took the UIDs useradd
      // handed out first, then the same volume attached, and every step as the engine runs them.
      lab = await startLab({ fqdn: cfg.fqdn, log, acme, extraTcpPorts: { [SERVICE_PORT]: "the bus service on the host's loopback" } });
      const image = await lab.host.exec(
        `set -e; for n in 1 2 3; do useradd --system --user-group --no-create-home --shell /usr/sbin/nologin lab-image-$n; echo "lab-image-$n $(id -u lab-image-$n)"; done`,
      );
      expect(image.code).toBe(0);
      await volume.attachTo(lab.host);
      const labKey = readFileSync(`${lab.ssh.identityFile}.pub`, "utf8").trim();
      reconfigure({ rootSshKeys: [labKey], clientSshKeys: [labKey] });
      target = { ...target, port: lab.ssh.port, identityFile: lab.ssh.identityFile, knownHostsFile: lab.ssh.knownHostsFile };
      const stepsStartedAt = Date.now();
      let volumeStepAt = 0;
      const results = await provisionHost(target, cfg, {
        busPassword: password,
        bundle,
        log: (line) => {
          if (line.startsWith("==> volume:")) volumeStepAt = Date.now();
          log(line);
        },
      });
      const answeredAt = await waitFor(
        "the new host answering /health through nginx",
        async () => health.find((s) => s.at > goneAt && s.status === 200)?.at,
        60000,
        100,
      );
      const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
      // The lab cannot boot the new host beside the old one (they would share ports 80, 443 and 2222), so
      // it also waits for what the engine does before the release: the new droplet's boot and first steps.
      log(
        `replacement drill: ${secs(answeredAt - stoppedAt)} from the old bus stopping to the new one answering /health through nginx ` +
          `(release ${secs(releasedAt - stoppedAt)}, new host boot ${secs(stepsStartedAt - goneAt)}, steps before the volume step ` +
          `${secs(volumeStepAt - stepsStartedAt)}, volume step to first answer ${secs(answeredAt - volumeStepAt)}); in the engine's order, ` +
          `where the new droplet boots and runs the steps before the volume step ahead of the release: ${secs(releasedAt - stoppedAt + answeredAt - volumeStepAt)}`,
      );
      log(`accounts on the old host:\n${idsBefore}the image's own:\n${image.stdout}on the new host:\n${await onHost(accounts)}`);

      // The volume already holds the data and the host's identity: nothing formatted, moved, copied or saved onto it.
      expect(results.find((r) => r.name === "volume")!.changes.filter((c) => /format|moved|copied|saved/.test(c))).toEqual([]);
      expect(results.find((r) => r.name === "certificate")!.output).toContain(`certificate for ${cfg.fqdn} from ${cfg.acmeServer} is in place`);
      expect(await onHost("findmnt -no FSROOT /etc/letsencrypt")).toBe("/letsencrypt\n");
      expect(await allMessages()).toEqual(messagesBefore);
      expect(await credentials()).toEqual(credentialsBefore);
      expect(await storedFiles()).toBe(filesBefore);
      expect(await onHost(`stat -c %U ${DATA_DIR}/bus.jsonl ${DATA_DIR}/acks.jsonl ${DATA_DIR}/machines.jsonl ${DATA_DIR}/files/${uploaded.sha256}`)).toBe(
        `${SERVICE_USER}\n`.repeat(4),
      );
      for (const a of messagesBefore.flatMap((m) => m.attachments ?? [])) {
        const got = await httpsDownload(ep, `/files/${a.sha256}`, auth());
        expect([got.status, got.bytes.length, createHash("sha256").update(got.bytes).digest("hex")]).toEqual([200, a.size, a.sha256]);
      }
      expect(await acme.orders()).toBe(ordersBefore);
      expect((await servedCertificate(ep)).serialNumber).toBe(serialBefore);
      expect(await hostKeys()).toEqual(keysBefore);
      const o = lab.ssh.options.map((x) =>
        x.startsWith("UserKnownHostsFile=") ? `UserKnownHostsFile=${pinned}` : x === "StrictHostKeyChecking=accept-new" ? "StrictHostKeyChecking=yes" : x,
      );
      expect(await run("ssh", [...o, "127.0.0.1", "true"])).toMatchObject({ code: 0 });

      // The laptop's long-poll, never re-bootstrapped, gets what is sent to it now, and posts as itself.
      const after = await post(auth(), { from: "ccwhitebee", to: "drill-laptop", body: "after the replacement" });
      await waitFor("the laptop's long-poll to bring the new message", async () => (laptopGot.some((m) => m.id === after.id) ? true : undefined), 30000, 100);
      expect(laptopGot.map((m) => m.body)).toEqual(["after the replacement"]);
      await post(laptop, { from: "drill-laptop", to: "ccwhitebee", body: "still me" });
    } finally {
      stop = true;
      await Promise.all([healthLoop, laptopLoop]);
    }
  });

  it("changes nothing when the volume step runs again on a volume that already holds the bus", async () => {
    const jsonl = await onHost(`cat ${DATA_DIR}/bus.jsonl`);
    const state = await unitState(SERVICE_NAME);
    const [result] = await runSteps(
      target,
      hostSteps(cfg, bundle).filter((s) => s.name === "volume"),
      {},
      log,
    );
    expect(result.changes).toEqual([]);
    expect(await onHost(`cat ${DATA_DIR}/bus.jsonl`)).toBe(jsonl);
    expect(await unitState(SERVICE_NAME)).toEqual(state);
  });

  it("tears everything down and leaves this machine as it found it", async () => {
    const pid1 = lab.host.pid1;
    runTeardown();
    expect((await run("test", ["-e", `/proc/${pid1}`])).code).toBe(1);
    await sleep(100);
    expect(snapshotMachine(LAB_PORTS)).toEqual(before);
  });
});
