import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { credentialsEnv } from "../../provision/credentials";
import { provisionHost, rotateOverSsh } from "../../provision/ssh/runner";
import { parseTarget, pinHostKey, remoteCommand, sshArgs, sshEnv } from "../../provision/ssh/transport";
import { bundleUploadScript, hostSteps, rotationSteps } from "../../provision/steps";
import { tempDir } from "../support/tempDir";
import { cfgOf } from "./fixtures";

const PASS = "Stdin0Only0Password000000000";

describe("pinHostKey", () => {
  const OLD = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOldOldOldOldOldOldOldOldOldOldOldOldOldOld";
  const NEW = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINewNewNewNewNewNewNewNewNewNewNewNewNewNew";
  const OTHER = "other.example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOtherOtherOtherOtherOtherOtherOtherOth";
  it("makes the key a host gave back (from its volume) its one known key, keeps other hosts' lines, and changes nothing when it is known", () => {
    const file = path.join(tempDir("known-hosts"), "known_hosts");
    fs.writeFileSync(file, `${OTHER}\n[127.0.0.1]:2222 ${OLD}\n`);
    const target = { user: "root", host: "127.0.0.1", port: 2222, knownHostsFile: file };
    pinHostKey(target, NEW);
    const lines = fs
      .readFileSync(file, "utf8")
      .split("\n")
      .filter((l) => l && !l.startsWith("#"));
    expect(lines).toEqual([OTHER, `[127.0.0.1]:2222 ${NEW}`]);
    const before = fs.statSync(file).mtimeMs;
    pinHostKey(target, NEW);
    expect(fs.statSync(file).mtimeMs).toBe(before);
  });
});

describe("parseTarget", () => {
  it("reads user@host, defaults to root on port 22, and takes IPv6 in brackets", () => {
    expect(parseTarget("deploy@bus.example.com", { port: 2222, identityFile: "/k" })).toEqual({
      user: "deploy",
      host: "bus.example.com",
      port: 2222,
      identityFile: "/k",
      knownHostsFile: undefined,
    });
    expect(parseTarget("203.0.113.7")).toMatchObject({ user: "root", host: "203.0.113.7", port: 22 });
    expect(parseTarget("root@[2001:db8::1]").host).toBe("2001:db8::1");
  });
  it.each([
    ["root@-oProxyCommand=x", /not a host name/, undefined],
    ["Bad User@host", /not a user name/, undefined],
    ["root@host", /not a TCP port/, 70000],
  ])("refuses %s", (spec, message, port) => {
    expect(() => parseTarget(spec, { port })).toThrow(message);
  });
});

describe("the remote command", () => {
  const target = parseTarget("root@203.0.113.7", { port: 2222, identityFile: "/keys/id", knownHostsFile: "/kh" });

  it("is the script run by bash, surviving the remote shell's own parsing (sshd runs $SHELL -c <command>)", () => {
    // Every kind of shell quoting at once: $, backticks, double quotes, a backslash and a single quote.
    const literal = 'literal: $HOME `id` "q" \\ it\'s';
    const script = ["set -euo pipefail", "read -r secret", `printf '%s\\n' "len=\${#secret}" '${literal.replace(/'/g, `'"'"'`)}'`].join("\n");
    const r = spawnSync("sh", ["-c", remoteCommand(target, script)], { input: `${PASS}\n`, encoding: "utf8" });
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe(`len=28\n${literal}\n`);
  });

  it("goes through sudo -n for a user other than root", () => {
    expect(remoteCommand(parseTarget("deploy@h"), "true")).toBe("sudo -n bash -c 'true'");
    expect(remoteCommand(target, "true")).toBe("bash -c 'true'");
  });

  it("runs ssh non-interactively with the target's port, key and known_hosts, host after --", () => {
    const args = sshArgs(target, "CMD");
    expect(args.slice(-3)).toEqual(["--", "203.0.113.7", "CMD"]);
    expect(args.join(" ")).toContain("-o BatchMode=yes");
    expect(args.join(" ")).toContain("-o StrictHostKeyChecking=accept-new");
    expect(args.join(" ")).toContain("-o UserKnownHostsFile=/kh");
    expect(args.join(" ")).toContain("-i /keys/id -o IdentitiesOnly=yes");
    expect(args.join(" ")).toContain("-p 2222 -l root");
  });
});

describe("rotateOverSsh", () => {
  it("checks the new password before contacting the host", async () => {
    await expect(rotateOverSsh("root@127.0.0.1", cfgOf(), "bad pass")).rejects.toThrow(/new bus password: must be/);
  });
});

describe("ssh's environment", () => {
  it("is only what ssh needs: never BUS_PASS or anything else of ours", () => {
    const env = { PATH: "/bin", HOME: "/root", USER: "root", LOGNAME: "root", SSH_AUTH_SOCK: "/run/agent", BUS_PASS: "x", PULUMI_ACCESS_TOKEN: "y", LANG: "C" };
    expect(sshEnv(env)).toEqual({ PATH: "/bin", HOME: "/root", USER: "root", LOGNAME: "root", SSH_AUTH_SOCK: "/run/agent" });
    expect(sshEnv({ PATH: "/bin" })).toEqual({ PATH: "/bin" });
  });
});

/**
 * An ssh stand-in first on PATH: each call records its arguments (NUL-separated), environment and stdin as numbered
 * files in `calls`, prints one change and exits 0. The real ssh, host and steps are the host test's.
 */
describe("the runner, over an ssh stand-in", () => {
  const PASSWORD = "Runner0Password0000000000000";
  let calls: string;
  let saved: NodeJS.ProcessEnv;
  beforeEach(() => {
    const dir = tempDir("fake-ssh");
    calls = path.join(dir, "calls");
    fs.mkdirSync(calls);
    fs.writeFileSync(
      path.join(dir, "ssh"),
      `#!/bin/bash\nn=$(ls ${calls} | wc -l)\nn=$(printf '%03d' $((n / 3)))\nenv > ${calls}/$n.env\nprintf '%s\\0' "$@" > ${calls}/$n.args\ncat > ${calls}/$n.stdin\necho "changed: something"\n`,
      { mode: 0o755 },
    );
    saved = { ...process.env };
    process.env.PATH = `${dir}:${process.env.PATH}`;
    process.env.BUS_PASS = PASSWORD;
    process.env.SOME_TOKEN = "not-for-ssh";
  });
  afterEach(() => {
    process.env = saved;
  });
  const recorded = () =>
    fs
      .readdirSync(calls)
      .filter((f) => f.endsWith(".args"))
      .sort()
      .map((f) => {
        const n = f.slice(0, -".args".length);
        const read = (ext: string) => fs.readFileSync(path.join(calls, `${n}.${ext}`), "utf8");
        return { command: read("args").split("\0").slice(-2)[0], stdin: read("stdin"), env: read("env") };
      });

  it("uploads the bundle, then gives each step its script, and the credentials env text only to the steps that read it", async () => {
    const cfg = cfgOf();
    const bundle = path.join(tempDir("bundle"), "claude-bus.js");
    fs.writeFileSync(bundle, "console.log('bus')\n");
    const target = parseTarget("root@203.0.113.7");
    const results = await provisionHost(target, cfg, { busPassword: PASSWORD, bundle: { file: bundle, sha256: "ab".repeat(32) } });
    const steps = hostSteps(cfg, { sha256: "ab".repeat(32) });
    expect(results.map((r) => [r.name, r.changes])).toEqual(steps.map((s) => [s.name, ["something"]]));
    const sent = recorded();
    expect(sent.map((c) => c.command)).toEqual([bundleUploadScript(), ...steps.map((s) => s.script)].map((script) => remoteCommand(target, script)));
    expect(sent.map((c) => c.stdin)).toEqual(["console.log('bus')\n", ...steps.map((s) => (s.stdin === "credentials" ? credentialsEnv(cfg, PASSWORD) : ""))]);
    for (const { env } of sent) {
      expect(env).not.toContain(PASSWORD);
      expect(env).not.toContain("SOME_TOKEN");
    }
  });

  it("rotates by running the credentials and health steps with the new password's env text", async () => {
    const cfg = cfgOf();
    const next = "Next0Password000000000000000";
    const results = await rotateOverSsh("root@203.0.113.7", cfg, next);
    expect(results.map((r) => r.name)).toEqual(["credentials", "health"]);
    const sent = recorded();
    expect(sent.map((c) => c.command)).toEqual(rotationSteps(cfg).map((s) => remoteCommand(parseTarget("root@203.0.113.7"), s.script)));
    expect(sent.map((c) => c.stdin)).toEqual([credentialsEnv(cfg, next), credentialsEnv(cfg, next)]);
    for (const { env } of sent) expect(env).not.toContain(PASSWORD);
  });
});
