import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { renderServiceUnit } from "../../provision/render/systemd";
import { renderAuthorizedKeys, renderCertbotCaDropin, renderCertbotDeployHook, renderLogrotate, renderTmpfiles } from "../../provision/render/files";
import { requireTool } from "../support/requireTool";
import { tempDir } from "../support/tempDir";
import { ED25519_KEY, GOLDEN_CFG, cfgOf } from "./fixtures";
import { expectGolden } from "./golden";

const run = (cmd: string, args: string[]) => {
  const r = spawnSync(requireTool(cmd), args, { encoding: "utf8" });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
};

describe("golden host files", () => {
  it.each([
    ["claude-bus.service", () => renderServiceUnit(GOLDEN_CFG())],
    ["logrotate", () => renderLogrotate()],
    ["tmpfiles.conf", () => renderTmpfiles(GOLDEN_CFG())],
    ["authorized_keys", () => renderAuthorizedKeys(GOLDEN_CFG())],
    ["certbot-deploy-hook", () => renderCertbotDeployHook()],
    ["certbot-ca-dropin.conf", () => renderCertbotCaDropin()],
  ])("%s is byte for byte the golden file", (name, render) => {
    expectGolden(name, render());
  });
});

describe("claude-bus.service", () => {
  const unit = renderServiceUnit(cfgOf());
  let dir: string;
  beforeEach(() => (dir = tempDir("files")));

  /** The unit as rendered, except that node is wherever this machine has it (Debian's is /usr/bin/node). */
  const write = (text: string) => {
    const file = path.join(dir, "claude-bus.service");
    fs.writeFileSync(file, text.replace("ExecStart=/usr/bin/node ", `ExecStart=${process.execPath} `));
    return file;
  };
  const exposure = (file: string) => {
    const r = run("systemd-analyze", ["security", "--offline=true", "--no-pager", file]);
    const match = /Overall exposure level for claude-bus\.service: (\d+\.\d+)/.exec(r.output);
    if (!match) throw new Error(`no score in: ${r.output}`);
    return Number(match[1]);
  };

  it("runs the bundle as its own user on loopback, reads credentials from a file and reloads them on SIGHUP", () => {
    expect(unit).toMatch(/^User=claude-bus$/m);
    expect(unit).toMatch(/^Group=claude-bus$/m);
    expect(unit).toMatch(
      /^ExecStart=\/usr\/bin\/node \/opt\/claude-bus\/app\/claude-bus\.js --host 127\.0\.0\.1 --port 8787 --data \/opt\/claude-bus\/data --behind-proxy$/m,
    );
    expect(unit).toMatch(/^Environment=BUS_CREDENTIALS_FILE=\/etc\/claude-bus\/credentials\.env$/m);
    expect(unit).toMatch(/^ExecReload=\/bin\/kill -HUP \$MAINPID$/m);
    expect(unit).toMatch(/^ProtectSystem=strict$/m);
    expect(unit).toMatch(/^ReadWritePaths=\/opt\/claude-bus\/data$/m);
    expect(unit).toMatch(/^WantedBy=multi-user\.target$/m);
    expect(renderServiceUnit(cfgOf({ servicePort: 9999 }))).toContain("--port 9999 ");
  });

  it("passes a retention to serve only when the config sets one", () => {
    expect(unit).not.toContain("--retain-days");
    expect(renderServiceUnit(cfgOf({ retainDays: 30 }))).toMatch(/ --data \/opt\/claude-bus\/data --behind-proxy --retain-days 30$/m);
    expect(renderServiceUnit(cfgOf({ retainDays: 7, archiveRemoved: false }))).toMatch(/ --retain-days 7 --archive none$/m);
  });

  it("passes the limits of files to serve only when they are not the defaults", () => {
    expect(unit).not.toMatch(/--max-file-mib|--file-quota-mib|--file-max-age-days/);
    expect(renderServiceUnit(cfgOf({ maxFileMiB: 500, fileQuotaMiB: 2048, fileMaxAgeDays: 7 }))).toMatch(
      / --data \/opt\/claude-bus\/data --behind-proxy --max-file-mib 500 --file-quota-mib 2048 --file-max-age-days 7$/m,
    );
  });

  it("tells serve that nginx is in front, so it believes X-Real-IP from loopback and nothing else does", () => {
    expect(unit).toMatch(/ --data \/opt\/claude-bus\/data --behind-proxy$/m);
  });

  it("passes each credential's own limits to serve only when the config sets them", () => {
    expect(unit).not.toMatch(/--uploader-|--max-long-polls/);
    expect(renderServiceUnit(cfgOf({ uploaderMaxFiles: 200, uploaderQuotaMiB: 512, uploaderMaxPartials: 5, maxLongPolls: 64 }))).toMatch(
      / --behind-proxy --uploader-max-files 200 --uploader-quota-mib 512 --uploader-max-partials 5 --max-long-polls 64$/m,
    );
  });

  it("makes the team credential admin-only only when the config says so", () => {
    expect(unit).not.toContain("--team-credential");
    expect(renderServiceUnit(cfgOf({ teamCredential: "admin-only" }))).toMatch(/ --data \/opt\/claude-bus\/data --behind-proxy --team-credential admin-only$/m);
  });

  it("caps the service's memory so an overload ends the bus, not nginx or sshd", () => {
    expect(unit).toMatch(/^MemoryHigh=409M$/m);
    expect(unit).toMatch(/^MemoryMax=512M$/m);
    const big = renderServiceUnit(cfgOf({ serviceMemoryMiB: 2048 }));
    expect(big).toMatch(/^MemoryHigh=1638M$/m);
    expect(big).toMatch(/^MemoryMax=2048M$/m);
  });

  it("passes systemd-analyze verify without a single warning", () => {
    const r = run("systemd-analyze", ["verify", write(unit)]);
    expect(r.output).toBe("");
    expect(r.status).toBe(0);
  });

  it("verify reports a unit systemd would ignore a line of, so the check above can fail", () => {
    const r = run("systemd-analyze", ["verify", write(unit.replace("ProtectSystem=strict", "ProtectSystem=banana"))]);
    expect(r.output).toMatch(/protect system value/i);
  });

  it("scores at most 2.0 in systemd-analyze security --offline=true", () => {
    expect(exposure(write(unit))).toBeLessThanOrEqual(2.0);
  });

  it("scores what README.md states, so the README cannot go stale silently", () => {
    const readme = fs.readFileSync(path.join(__dirname, "..", "..", "README.md"), "utf8");
    const stated = /`systemd-analyze security` (\d+\.\d+)/.exec(readme);
    if (!stated) throw new Error("README.md no longer states the `systemd-analyze security` score");
    expect(exposure(write(unit))).toBe(Number(stated[1]));
  });

  it("scores worse without its hardening, so the score is really measured", () => {
    const bare = unit
      .split("\n")
      .filter(
        (l) => !/^(Protect|Private|Restrict|SystemCall|Capability|NoNewPrivileges|IPAddress|LockPersonality|DevicePolicy|RemoveIPC|KeyringMode|UMask)/.test(l),
      )
      .join("\n");
    expect(exposure(write(bare))).toBeGreaterThan(5);
  });
});

describe("logrotate rule", () => {
  it("rotates both bus logs daily and is accepted by logrotate", () => {
    const text = renderLogrotate();
    expect(text).toContain("/var/log/claude-bus-access.log /var/log/claude-bus-error.log {");
    expect(text).toContain("invoke-rc.d nginx rotate");
    const dir = tempDir("logrotate");
    const conf = path.join(dir, "claude-bus");
    fs.writeFileSync(conf, text, { mode: 0o644 });
    const r = run("logrotate", ["--debug", "--state", path.join(dir, "state"), conf]);
    expect(r.status).toBe(0);
    expect(r.output).toContain("rotating pattern: /var/log/claude-bus-access.log /var/log/claude-bus-error.log");
    expect(r.output).not.toMatch(/^error:/m);
  });
});

describe("shared drop dir", () => {
  it("is created setgid 2770 for the group by systemd-tmpfiles, its files aged out as attached files are, or after its own age", () => {
    expect(renderTmpfiles(cfgOf())).toContain("d /opt/claude-bus-files 2770 root claude-bus-files 14d\n");
    expect(renderTmpfiles(cfgOf({ fileMaxAgeDays: 3 }))).toContain("d /opt/claude-bus-files 2770 root claude-bus-files 3d\n");
    const text = renderTmpfiles(cfgOf({ sharedDir: { group: "dropfolk", maxAgeDays: 30 }, fileMaxAgeDays: 3 }));
    expect(text).toContain("d /opt/claude-bus-files 2770 root dropfolk 30d\n");

    const root = tempDir("tmpfiles");
    fs.mkdirSync(path.join(root, "etc"));
    fs.writeFileSync(path.join(root, "etc", "passwd"), "root:x:0:0::/root:/bin/sh\n");
    fs.writeFileSync(path.join(root, "etc", "group"), "root:x:0:\ndropfolk:x:4321:\n");
    const conf = path.join(root, "claude-bus-files.conf");
    fs.writeFileSync(conf, text);
    const r = run("systemd-tmpfiles", ["--create", `--root=${root}`, conf]);
    const st = fs.statSync(path.join(root, "opt", "claude-bus-files"));
    expect(r.output).toBe("");
    expect((st.mode & 0o7777).toString(8)).toBe("2770");
    expect([st.uid, st.gid]).toEqual([0, 4321]);
  });

  it("authorizes each client key for sshd's SFTP server only, with restrict (scp and sftp work; no command, forwarding or pty)", () => {
    expect(renderAuthorizedKeys(cfgOf({ clientSshKeys: [ED25519_KEY] }))).toBe(
      `# Managed by claude-bus provision: clientSshKeys of the host config (file transfer only: SFTP, which scp uses).\nrestrict,command="internal-sftp" ${ED25519_KEY}\n`,
    );
    expect(renderAuthorizedKeys(cfgOf())).not.toContain("ssh-");
  });
});

describe("certbot pieces", () => {
  it("the deploy hook reloads nginx and is valid sh", () => {
    const hook = path.join(tempDir("hook"), "hook");
    fs.writeFileSync(hook, renderCertbotDeployHook());
    const r = run("sh", ["-n", hook]);
    expect(r.status).toBe(0);
    expect(renderCertbotDeployHook()).toMatch(/^#!\/bin\/sh\n[\s\S]*systemctl reload nginx\n$/);
  });

  it("the certbot.service drop-in gives the timer's renewals the ACME server's CA", () => {
    expect(renderCertbotCaDropin()).toContain("[Service]\nEnvironment=REQUESTS_CA_BUNDLE=/etc/claude-bus/acme-ca.pem\n");
  });
});
