import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { PROVISION_EXIT, parseTarget, provisionCommand, remoteCommand, rotateOverSsh, sshArgs } from "../../provision/ssh";
import { freePort } from "./scratchNginx";
import { MINIMAL, cfgOf } from "./fixtures";

const PASS = "Stdin0Only0Password000000000";

describe("parseTarget", () => {
  it("reads user@host, defaults to root on port 22, and takes IPv6 in brackets", () => {
    expect(parseTarget("deploy@bus.example.com", { port: 2222, identityFile: "/k" })).toEqual({
      user: "deploy", host: "bus.example.com", port: 2222, identityFile: "/k", knownHostsFile: undefined,
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
    const literal = "literal: $HOME `id` \"q\" \\ it's";
    const script = ["set -euo pipefail", "read -r secret", "printf '%s\\n' \"len=${#secret}\" " + `'${literal.replace(/'/g, `'"'"'`)}'`].join("\n");
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

describe("claude-bus provision", () => {
  let dir: string;
  let stderr: string;
  let spy: jest.SpyInstance;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "claude-bus-provision-"));
    stderr = "";
    spy = jest.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
      stderr += chunk.toString();
      return true;
    });
    jest.spyOn(process.stdout, "write").mockImplementation(() => true);
  });
  afterEach(() => {
    jest.restoreAllMocks();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const configFile = (content: unknown) => {
    const file = path.join(dir, "host.json");
    fs.writeFileSync(file, typeof content === "string" ? content : JSON.stringify(content));
    return file;
  };

  it.each([
    [[], /--target is required/],
    [["--target", "root@h"], /--config is required/],
    [["--target", "root@h", "--config", "x", "--verbose", "1"], /unknown option --verbose/],
    [["--target", "root@h", "--config", "x", "--port", "abc"], /--port must be a number/],
    [["--target", "root@h", "--config"], /--config needs a value/],
  ])("answers usage errors for %j with exit 1", async (argv, message) => {
    expect(await provisionCommand(argv as string[], { BUS_PASS: PASS })).toBe(PROVISION_EXIT.usage);
    expect(stderr).toMatch(message);
    expect(stderr).toContain("usage: claude-bus provision");
    expect(spy).toHaveBeenCalled();
  });

  it("names the config file and the bad key", async () => {
    const file = configFile({ ...MINIMAL, servicePort: 22 });
    expect(await provisionCommand(["--target", "root@h", "--config", file], { BUS_PASS: PASS })).toBe(PROVISION_EXIT.usage);
    expect(stderr).toContain(`--config ${file}: invalid host config: servicePort:`);
    const broken = configFile("{not json");
    expect(await provisionCommand(["--target", "root@h", "--config", broken], { BUS_PASS: PASS })).toBe(PROVISION_EXIT.usage);
    expect(stderr).toMatch(/--config .*host\.json: .*JSON/);
  });

  it("refuses an unsafe password without printing it", async () => {
    const file = configFile(MINIMAL);
    expect(await provisionCommand(["--target", "root@h", "--config", file], { BUS_PASS: "short pass" })).toBe(PROVISION_EXIT.usage);
    expect(stderr).toContain("bus password: must be 12-128 characters");
    expect(stderr).not.toContain("short pass");
  });

  it("reports an unreachable host with exit 3 (real ssh to a closed loopback port)", async () => {
    const bundle = path.join(dir, "bundle.js");
    fs.writeFileSync(bundle, "console.log('bus')\n");
    const port = await freePort();
    const argv = ["--target", "root@127.0.0.1", "--port", String(port), "--config", configFile(MINIMAL), "--bundle", bundle, "--known-hosts", path.join(dir, "kh")];
    expect(await provisionCommand(argv, { BUS_PASS: PASS })).toBe(PROVISION_EXIT.unreachable);
    expect(stderr).toMatch(/upload-bundle: ssh could not reach the host[\s\S]*Connection refused/);
    expect(stderr).not.toContain(PASS);
  });

  it("reads the password from stdin when BUS_PASS is unset", () => {
    const bundle = path.join(dir, "bundle.js");
    fs.writeFileSync(bundle, "console.log('bus')\n");
    const code = `require("./provision/ssh").provisionCommand(process.argv.slice(1), {}).then((c) => process.exit(c))`;
    const run = (input: string) =>
      spawnSync(
        process.execPath,
        ["-r", "ts-node/register/transpile-only", "-e", code, "--", "--target", "root@127.0.0.1", "--port", "1", "--config", configFile(MINIMAL), "--bundle", bundle, "--known-hosts", path.join(dir, "kh")],
        { cwd: path.join(__dirname, "..", ".."), input, encoding: "utf8", env: { PATH: process.env.PATH } },
      );
    const withPassword = run(`${PASS}\n`);
    expect(withPassword.stderr).toContain("ssh could not reach the host");
    expect(withPassword.status).toBe(PROVISION_EXIT.unreachable);
    const without = run("");
    expect(without.stderr).toContain("bus password: must be 12-128 characters");
    expect(without.status).toBe(PROVISION_EXIT.usage);
  });
});

describe("rotateOverSsh", () => {
  it("checks the new password before contacting the host", async () => {
    await expect(rotateOverSsh("root@127.0.0.1", cfgOf(), "bad pass")).rejects.toThrow(/new bus password: must be/);
  });
});
