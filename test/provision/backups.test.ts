/**
 * The daily off-host backup on the host: its service and timer units (golden, systemd-analyze verify and
 * security), the unit's own command line run against a real bus and a real S3-compatible server, and the
 * "backups" step run for real with its paths in a temp dir.
 */
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { renderBackupTarget } from "../../contract/backupTarget";
import { BACKUP_TARGET_FILE, CREDENTIALS_FILE } from "../../provision/paths";
import { renderBackupService, renderBackupTimer } from "../../provision/render/backup";
import { hostStepPlans, hostSteps } from "../../provision/steps";
import { buildBundle, startBus } from "../support/bus";
import { postJson } from "../support/http";
import { startLocalS3 } from "../support/localS3";
import { requireTool } from "../support/requireTool";
import { tempDir } from "../support/tempDir";
import { BUNDLE_SHA, GOLDEN_CFG, cfgOf } from "./fixtures";
import { expectGolden } from "./golden";
import { fakeSystem, modeOf, runScript, stepWith } from "./stepHarness";

const withBackups = (extra: Parameters<typeof cfgOf>[0] = {}) => {
  const cfg = cfgOf({ backups: {}, ...extra });
  return { ...cfg, backups: cfg.backups! };
};
const run = (cmd: string, args: string[], cwd?: string) => {
  const r = spawnSync(requireTool(cmd), args, { encoding: "utf8", cwd });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
};

describe("golden backup units", () => {
  const cfg = { ...GOLDEN_CFG(), backups: GOLDEN_CFG().backups! };
  it("claude-bus-backup.service is byte for byte the golden file", () => expectGolden("claude-bus-backup.service", renderBackupService(cfg)));
  it("claude-bus-backup.timer is byte for byte the golden file", () => expectGolden("claude-bus-backup.timer", renderBackupTimer(cfg)));
});

describe("claude-bus-backup.service and .timer", () => {
  const service = renderBackupService(withBackups());
  let dir: string;
  beforeEach(() => (dir = tempDir("units")));
  /** Both units in one dir, node wherever this machine has it (Debian's is /usr/bin/node). */
  const write = (serviceText = service, timerText = renderBackupTimer(withBackups())) => {
    fs.writeFileSync(path.join(dir, "claude-bus-backup.service"), serviceText.replace("ExecStart=/usr/bin/node -- ", `ExecStart=${process.execPath} -- `));
    fs.writeFileSync(path.join(dir, "claude-bus-backup.timer"), timerText);
    return ["claude-bus-backup.service", "claude-bus-backup.timer"];
  };
  const exposure = () => {
    const r = run("systemd-analyze", ["security", "--offline=true", "--no-pager", "claude-bus-backup.service"], dir);
    const match = /Overall exposure level for claude-bus-backup\.service: (\d+\.\d+)/.exec(r.output);
    if (!match) throw new Error(`no score in: ${r.output}`);
    return Number(match[1]);
  };

  it("read both secrets from their 0600 files as the service's user: nothing secret in an argument or an Environment= line, the data dir hidden", () => {
    expect(service).toMatch(
      /^ExecStart=\/usr\/bin\/node -- \/opt\/claude-bus\/app\/claude-bus\.js backup --to-s3 --keep 14 --url http:\/\/127\.0\.0\.1:8787 --env-file \/etc\/claude-bus\/credentials\.env --s3-env \/etc\/claude-bus\/backup-s3\.env$/m,
    );
    expect(service.match(/^Environment=.*$/gm)).toEqual(["Environment=NODE_ENV=production"]);
    expect(service).toMatch(/^User=claude-bus$/m);
    expect(service).toMatch(/^InaccessiblePaths=-\/opt\/claude-bus\/data -\/opt\/claude-bus-files$/m);
    expect(renderBackupService(withBackups({ backups: { keep: 3 }, servicePort: 9000 }))).toContain(" --keep 3 --url http://127.0.0.1:9000 ");
  });

  it("run daily at the configured UTC hour, catching up after downtime", () => {
    const timer = renderBackupTimer(withBackups());
    expect(timer).toMatch(/^OnCalendar=\*-\*-\* 03:00:00 UTC$/m);
    expect(timer).toMatch(/^Persistent=true$/m);
    expect(timer).toMatch(/^Unit=claude-bus-backup\.service$/m);
    expect(renderBackupTimer(withBackups({ backups: { hourUtc: 22 } }))).toMatch(/^OnCalendar=\*-\*-\* 22:00:00 UTC$/m);
    expect(run("systemd-analyze", ["calendar", "*-*-* 22:00:00 UTC"]).status).toBe(0);
  });

  it("pass systemd-analyze verify without a single warning", () => {
    const r = run("systemd-analyze", ["verify", ...write()], dir);
    expect(r.output).toBe("");
    expect(r.status).toBe(0);
  });

  it("verify reports a line systemd would ignore, in either unit, so the check above can fail", () => {
    expect(run("systemd-analyze", ["verify", ...write(service.replace("ProtectSystem=strict", "ProtectSystem=banana"))], dir).output).toMatch(
      /protect system value/i,
    );
    expect(
      run("systemd-analyze", ["verify", ...write(service, renderBackupTimer(withBackups()).replace("OnCalendar=", "OnCalendar=banana "))], dir).output,
    ).toMatch(/OnCalendar|calendar/i);
  });

  it("the service scores at most 2.0 in systemd-analyze security, and worse without its hardening", () => {
    write();
    expect(exposure()).toBeLessThanOrEqual(2.0);
    const bare = service
      .split("\n")
      .filter((l) => !/^(Protect|Private|Restrict|SystemCall|Capability|NoNewPrivileges|LockPersonality|DevicePolicy|RemoveIPC|KeyringMode|UMask)/.test(l))
      .join("\n");
    write(bare);
    expect(exposure()).toBeGreaterThan(5);
  });
});

describe("the unit's command line", () => {
  it("backs the bus up into the bucket, reading the bus's credentials file and the bucket's at the paths the unit names", async () => {
    const [bundle, bus, s3] = await Promise.all([buildBundle(), startBus({ credentialsFile: true }), startLocalS3()]);
    try {
      await postJson(bus.url, "/post", { from: "alpha", to: "any", body: "kept off the host" });
      const bucketFile = path.join(tempDir("etc"), "backup-s3.env");
      fs.writeFileSync(bucketFile, renderBackupTarget(s3.target()), { mode: 0o600 });
      const port = Number(new URL(bus.url).port);
      const execStart = /^ExecStart=(.*)$/m.exec(renderBackupService(withBackups({ servicePort: port })))![1];
      // This machine's copies stand where the host has the files.
      const here = execStart.replace(` ${CREDENTIALS_FILE} `, ` ${bus.credentialsFile} `).replace(` ${BACKUP_TARGET_FILE}`, ` ${bucketFile}`);
      expect(here).not.toBe(execStart);
      const [node, dashes, bundlePath, ...args] = here.split(" ");
      expect([node, dashes, bundlePath]).toEqual(["/usr/bin/node", "--", "/opt/claude-bus/app/claude-bus.js"]);
      // Only PATH: the unit's environment holds nothing else the command could read.
      const child = spawn(process.execPath, [dashes, bundle, ...args], { env: { PATH: process.env.PATH, NODE_ENV: "production" } });
      let output = "";
      child.stdout.on("data", (d) => (output += d));
      child.stderr.on("data", (d) => (output += d));
      const code = await new Promise((resolve) => child.on("close", resolve));
      expect(output).toMatch(
        new RegExp(`^✓ backup of ${bus.url} uploaded to s3://${s3.bucket}/claude-bus-backup-\\d{8}T\\d{6}Z\\.tar\\.gz \\(\\d+ bytes\\)\\n`),
      );
      expect(code).toBe(0);
    } finally {
      await bus.close();
      await s3.close();
    }
  }, 60_000);
});

describe("the backups step", () => {
  const TARGET = renderBackupTarget({
    BACKUP_S3_ENDPOINT: "https://fra1.digitaloceanspaces.com",
    BACKUP_S3_BUCKET: "claude-bus-backups-test",
    BACKUP_S3_ACCESS_KEY_ID: "DO00EXAMPLEKEY000000",
    BACKUP_S3_SECRET_ACCESS_KEY: "SecretOfTheStepTestNeverPrinted000000000000",
  });
  const secret = "SecretOfTheStepTestNeverPrinted000000000000";
  let dir: string;
  beforeEach(() => (dir = tempDir("step")));
  const paths = () => ({
    BACKUP_TARGET_FILE: path.join(dir, "backup-s3.env"),
    BACKUP_UNIT_PATH: path.join(dir, "claude-bus-backup.service"),
    BACKUP_TIMER_PATH: path.join(dir, "claude-bus-backup.timer"),
  });
  const runStep = (input: string, env: NodeJS.ProcessEnv, extra = {}) => {
    // The file's owner here is root, as this machine has no claude-bus user.
    const script = stepWith("backups", cfgOf({ backups: extra }), { ...paths(), SERVICE_USER: "root" });
    return runScript(script, { input, env });
  };

  it("is there only when backups are configured, last, reading the bucket's env text on stdin; keep and hour change only it", () => {
    expect(hostStepPlans(cfgOf(), { sha256: BUNDLE_SHA }).map((p) => p.name)).not.toContain("backups");
    const steps = hostSteps(cfgOf({ backups: {} }), { sha256: BUNDLE_SHA });
    expect(steps.at(-1)).toMatchObject({ name: "backups", stdin: "backupTarget" });
    const other = hostSteps(cfgOf({ backups: { keep: 7, hourUtc: 1 } }), { sha256: BUNDLE_SHA });
    expect(other.filter((s, i) => s.hash !== steps[i].hash).map((s) => s.name)).toEqual(["backups"]);
  });

  it("installs the bucket's file 0600 verbatim and the units, enables and starts the timer; a re-run changes nothing", () => {
    const system = fakeSystem(dir);
    const first = runStep(TARGET, system.env);
    expect(first.stderr).toBe("");
    expect(first.status).toBe(0);
    const p = paths();
    expect(first.changes).toEqual([
      `changed: ${p.BACKUP_TARGET_FILE}`,
      `changed: ${p.BACKUP_UNIT_PATH}`,
      `changed: ${p.BACKUP_TIMER_PATH}`,
      "changed: systemd re-read its unit files",
      "changed: enabled claude-bus-backup.timer",
      "changed: started claude-bus-backup.timer",
    ]);
    expect(fs.readFileSync(p.BACKUP_TARGET_FILE, "utf8")).toBe(TARGET);
    expect(modeOf(p.BACKUP_TARGET_FILE)).toBe("600");
    expect(fs.readFileSync(p.BACKUP_TIMER_PATH, "utf8")).toBe(renderBackupTimer(withBackups()));
    expect(first.stdout + first.stderr).not.toContain(secret);
    fs.writeFileSync(path.join(dir, "active-claude-bus-backup.timer"), "");
    expect(runStep(TARGET, system.env).changes).toEqual([]);
    // A new hour: the timer is restarted so that it applies.
    expect(runStep(TARGET, system.env, { hourUtc: 5 }).changes).toEqual([
      `changed: ${p.BACKUP_TIMER_PATH}`,
      "changed: systemd re-read its unit files",
      "changed: restarted claude-bus-backup.timer: its new schedule applies",
    ]);
  });

  it("refuses stdin without the bucket or a key line, writing nothing and echoing nothing", () => {
    const system = fakeSystem(dir);
    const empty = runStep("", system.env);
    expect([empty.status, empty.stderr]).toEqual([1, "expected the backup bucket's env text (the BACKUP_S3_* lines) on stdin\n"]);
    const partial = runStep(TARGET.replace(/^BACKUP_S3_ACCESS_KEY_ID=.*\n/m, ""), system.env);
    expect([partial.status, partial.stderr]).toEqual([1, "the backup bucket's env text on stdin has no BACKUP_S3_ACCESS_KEY_ID line\n"]);
    expect(partial.stdout + partial.stderr).not.toContain(secret);
    expect(fs.existsSync(paths().BACKUP_TARGET_FILE)).toBe(false);
    expect(system.calls()).toEqual([]);
  });
});
