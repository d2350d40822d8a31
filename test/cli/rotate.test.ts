/**
 * `claude-bus rotate` against the real bus (run as `claude-bus serve`), with a fake `pulumi` / `ssh`
 * in PATH standing in for the Pulumi engine and the remote host (see fakeRemote.ts). Verification is
 * real: the bus's own credential changes, and the CLI must see new → 200 and old → 401 before it
 * touches the env file.
 */
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { AuthError, createBusClient, enroll } from "../../client/index";
import { parseHostConfig } from "../../provision/config";
import { credentialsEnv } from "../../provision/credentials";
import { spawnSync } from "node:child_process";
import { type FakeMode, type FakeRemote, installFakeRemote, NOTHING_PENDING, previewStep } from "./fakeRemote";
import { cliPerTest, modeOf, runCli, type ServedBus, startServedBus, tempDir, writeHomeEnv } from "./harness";

let cli: string;
let bus: ServedBus;
let home: string;
let envFile: string;

cliPerTest({ me: "papa", startBus: startServedBus }, (set) => ({ cli, bus, home, envFile } = set));

async function fake(mode: FakeMode, preview?: ReturnType<typeof previewStep>[]): Promise<FakeRemote> {
  return installFakeRemote(path.join(home, "fake"), { credentialsFile: bus.credentialsFile, busPid: bus.pid, mode, preview });
}

const rotate = (remote: FakeRemote, args: string[]) => runCli(cli, ["rotate", ...args], { home, env: remote.env });

async function status(pass: string): Promise<number> {
  try {
    await createBusClient({ ...bus, pass }).health();
    return 200;
  } catch (err) {
    if (err instanceof AuthError) return 401;
    throw err;
  }
}

/** Everything that reached the bus's disk: the password must be in none of it. */
async function busFiles(): Promise<string> {
  const names = (await fs.readdir(bus.dataDir)).filter((name) => name !== "credentials.env");
  return (await Promise.all(names.map((name) => fs.readFile(path.join(bus.dataDir, name), "utf8")))).join("\n");
}

describe("rotate through the Pulumi stack", () => {
  it("sets the secret on stdin, runs pulumi up, verifies, rewrites the env file and names the other machines", async () => {
    const client = createBusClient(bus);
    await client.post({ from: "quebec", to: "any", body: "hello from quebec", tags: ["hello"] });
    await client.post({ from: "romeo", to: "papa", body: "ping" });
    const sierra = await enroll({ url: bus.url, code: (await client.invite("sierra")).code });
    await createBusClient({ url: bus.url, user: sierra.user, pass: sierra.pass }).post({ from: "sierra", to: "any", body: "hello from sierra" });
    const project = await tempDir("stack");
    const remote = await fake("apply");

    const result = await rotate(remote, ["--stack", "dev", "--cwd", project]);
    expect(result.stderr).toContain("verifying");
    expect(result.code).toBe(0);

    const env = await fs.readFile(envFile, "utf8");
    const newPass = /^BUS_PASS=(.*)$/m.exec(env)![1];
    expect(newPass).toMatch(/^[A-Za-z0-9]{28}$/);
    expect(newPass).not.toBe(bus.pass);
    expect(env).toBe(`BUS_USER=${bus.user}\nBUS_PASS=${newPass}\nBUS_URL=${bus.url}\nBUS_ME=papa\n`);
    expect(await modeOf(envFile)).toBe(0o600);
    await expect(fs.access(`${envFile}.rotating`)).rejects.toThrow();

    // the bus really switched, and the CLI waited out the second in which both were accepted
    expect(await status(newPass)).toBe(200);
    expect(await status(bus.pass)).toBe(401);
    await remote.settled();

    // pulumi got the password on stdin only, in the stack's directory, and `up` changed only the
    // password's resources, by the URNs the preview named: not the droplet, not the nginx step
    const calls = await remote.calls();
    const targets = ["claude-bus-dev", "claude-bus", "claude-bus-password", "claude-bus-credentials", "claude-bus-health"].map(
      (name) => NOTHING_PENDING.find((step) => step.urn.endsWith(`::${name}`))!.urn,
    );
    expect(calls.map((c) => c.argv)).toEqual([
      ["preview", "--json", "--non-interactive", "--stack", "dev"],
      ["config", "set", "--secret", "--stack", "dev", "busPassword"],
      ["up", "--yes", "--non-interactive", "--stack", "dev", ...targets.flatMap((urn) => ["--target", urn])],
    ]);
    expect(calls[1].stdin).toBe(newPass);
    expect(calls.every((c) => c.cwd === project)).toBe(true);
    for (const call of calls) expect(call.argv.join(" ")).not.toContain(newPass);

    expect(result.stdout).toContain(`✓ rotated: the bus at ${bus.url} accepts only the new password`);
    expect(result.stdout).toMatch(/re-run bootstrap with the new credential on: quebec, romeo /);
    expect(result.stdout).toContain("untouched, and to be left on their own credentials: sierra\n");
    expect(await createBusClient({ url: bus.url, user: sierra.user, pass: sierra.pass }).health()).toMatchObject({ ok: true });
    // a notice went out, the password did not
    const notices = (await createBusClient({ ...bus, pass: newPass }).messages({ from: "papa" })).filter((m) => m.tags.includes("rotation"));
    expect(notices).toHaveLength(1);
    const stored = await busFiles();
    expect(stored).toContain("team password was rotated by papa");
    expect(stored).not.toContain(newPass);
    expect(stored).not.toContain(bus.pass);
    expect(result.stdout + result.stderr).not.toContain(newPass);
    await fs.rm(project, { recursive: true });
  });

  it("finds pulumi through --pulumi PATH as well", async () => {
    const remote = await fake("apply");
    const result = await runCli(cli, ["rotate", "--pulumi", path.join(remote.binDir, "pulumi")], {
      home,
      env: { ...remote.env, PATH: process.env.PATH! },
    });
    expect(result.code).toBe(0);
    expect((await remote.calls()).map((c) => c.argv[0])).toEqual(["preview", "config", "up"]);
    await remote.settled();
  });

  it("a verification that fails leaves the old env file intact and exits 1", async () => {
    const before = await fs.readFile(envFile, "utf8");
    const remote = await fake("noop"); // the engine "succeeds" but the host never changes
    const result = await rotate(remote, ["--timeout", "2"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/verification failed: after 2 s the new password gets 401 and the old one 200/);
    expect(result.stderr).toContain(`${envFile} still holds the old password`);
    expect(await fs.readFile(envFile, "utf8")).toBe(before);
    // the new password is not lost: it waits, private, beside the env file
    const pending = await fs.readFile(`${envFile}.rotating`, "utf8");
    expect(await modeOf(`${envFile}.rotating`)).toBe(0o600);
    expect(pending).toMatch(/^BUS_PASS=[A-Za-z0-9]{28}$/m);
    expect((await remote.calls())[1].stdin).toBe(/^BUS_PASS=(.*)$/m.exec(pending)![1]);
    expect(await status(bus.pass)).toBe(200);
    expect(await createBusClient(bus).messages({ from: "papa" })).toEqual([]);
  });

  it("a failing pulumi leaves the env file intact and says which command failed", async () => {
    const before = await fs.readFile(envFile, "utf8");
    const remote = await fake("fail");
    const result = await rotate(remote, []);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("the fake engine was told to fail");
    expect(result.stderr).toContain("`pulumi preview --json --non-interactive` failed (exit 1)");
    expect(await fs.readFile(envFile, "utf8")).toBe(before);
  });

  it("leaves other pending changes (a droplet replacement) alone: up targets only the password's resources, and says what is left", async () => {
    const pending = [
      previewStep("same", "pulumi:pulumi:Stack", "claude-bus-dev"),
      previewStep("replace", "digitalocean:index/droplet:Droplet", "claude-bus-droplet"),
      previewStep("update", "command:remote:Command", "claude-bus-credentials"),
      previewStep("replace", "command:remote:Command", "claude-bus-nginx"),
      previewStep("update", "command:remote:Command", "claude-bus-health"),
    ];
    const remote = await fake("apply", pending);
    const result = await rotate(remote, ["--stack", "dev"]);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(
      "left for a later pulumi up (this rotation changes only the password's resources):\n" +
        "  replace claude-bus-droplet (digitalocean:index/droplet:Droplet)\n  replace claude-bus-nginx (command:remote:Command)\n",
    );
    const up = (await remote.calls()).find((c) => c.argv[0] === "up")!;
    const targets = up.argv.filter((_arg, i) => up.argv[i - 1] === "--target");
    expect(targets).toEqual([pending[0], pending[2], pending[4]].map((step) => step.urn));
    await remote.settled();
  });

  it("refuses, changing nothing, when the stack has no credentials or health step to target", async () => {
    const before = await fs.readFile(envFile, "utf8");
    const remote = await fake("apply", [
      previewStep("same", "pulumi:pulumi:Stack", "claude-bus-dev"),
      previewStep("same", "command:remote:Command", "claude-bus-credentials"),
    ]);
    const result = await rotate(remote, ["--stack", "dev"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("the stack has no health step to put a new password into effect: deploy it with pulumi up first; nothing was changed");
    expect((await remote.calls()).map((c) => c.argv[0])).toEqual(["preview"]);
    expect(await fs.readFile(envFile, "utf8")).toBe(before);
    expect(await status(bus.pass)).toBe(200);
  });

  it("has a stand-in pulumi that refuses what the real CLI refuses, so a wrong call fails the tests above", async () => {
    const remote = await fake("apply");
    const pulumi = (args: string[]) => spawnSync(path.join(remote.binDir, "pulumi"), args, { input: "", encoding: "utf8" });
    const credentials = NOTHING_PENDING.find((step) => step.urn.endsWith("::claude-bus-credentials"))!.urn;
    expect(pulumi(["up", "--non-interactive", "--target", credentials])).toMatchObject({
      status: 255,
      stderr: expect.stringContaining("--yes or --skip-preview"),
    });
    expect(pulumi(["up", "--yes", "--target", `${credentials}-nope`])).toMatchObject({ status: 255, stderr: expect.stringContaining("no resource named") });
    expect(pulumi(["up", "--yes", "--targets", credentials])).toMatchObject({ status: 255, stderr: "error: unknown flag: --targets\n" });
    expect(pulumi(["up", "--yes", "--target"])).toMatchObject({ status: 255, stderr: "error: flag needs an argument: --target\n" });
    expect(pulumi(["config", "set", "--secret"])).toMatchObject({ status: 255 });
    // A targeted up that leaves out the credentials step changes nothing on the host.
    expect(pulumi(["up", "--yes", "--target", NOTHING_PENDING[0].urn]).status).toBe(0);
    expect(await status(bus.pass)).toBe(200);
  });

  it("goes ahead when only the password's own resources would change (a generated password replaced by the set one)", async () => {
    const remote = await fake("apply", [
      previewStep("update", "pulumi:pulumi:Stack", "claude-bus-dev"),
      previewStep("delete", "random:index/randomPassword:RandomPassword", "claude-bus-password"),
      previewStep("update", "command:remote:Command", "claude-bus-credentials"),
      previewStep("update", "command:remote:Command", "claude-bus-health"),
    ]);
    const result = await rotate(remote, ["--stack", "dev"]);
    expect(result.code).toBe(0);
    await remote.settled();
  });

  it("says what to set when the stack's secrets need a passphrase", async () => {
    const remote = await fake("passphrase");
    const result = await rotate(remote, ["--stack", "dev"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /the stack's secrets are encrypted with a passphrase; set PULUMI_CONFIG_PASSPHRASE_FILE .* or PULUMI_CONFIG_PASSPHRASE in this shell/,
    );
  });

  it("a missing pulumi binary is a clear error", async () => {
    const remote = await fake("apply");
    const result = await rotate(remote, ["--pulumi", path.join(home, "no-such-pulumi")]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/cannot run .*no-such-pulumi: spawn .* ENOENT \(install the Pulumi CLI or pass --pulumi PATH\)/);
  });

  it("refuses to start when the current credential is already rejected", async () => {
    await writeHomeEnv(home, `BUS_USER=${bus.user}\nBUS_PASS=SomethingOutOfDate123456789\nBUS_URL=${bus.url}\n`);
    const remote = await fake("apply");
    const result = await rotate(remote, []);
    expect(result.code).toBe(2);
    expect(await remote.calls()).toEqual([]);
  });
});

describe("rotate over SSH with provision's rotation step", () => {
  it("sends the password on ssh's stdin, never in its arguments, and verifies", async () => {
    const hostConfig = path.join(home, "host.json");
    await fs.writeFile(hostConfig, JSON.stringify({ domain: "example.com", acmeEmail: "ops@example.com" }));
    const remote = await fake("apply");
    const result = await rotate(remote, ["--ssh", "--target", "admin@bus.example.com", "--config", hostConfig, "--port", "2222"]);
    // One rotation procedure: the credentials and health steps Pulumi runs, in that order.
    expect(result.stderr).toMatch(/==> credentials: [\s\S]*==> health: /);
    expect(result.code).toBe(0);

    const newPass = /^BUS_PASS=(.*)$/m.exec(await fs.readFile(envFile, "utf8"))![1];
    const calls = await remote.calls();
    expect(calls).toHaveLength(2);
    for (const call of calls) {
      expect(call.tool).toBe("ssh");
      expect(call.argv).toEqual(expect.arrayContaining(["-p", "2222", "-l", "admin", "bus.example.com"]));
      expect(call.argv[call.argv.length - 1]).toMatch(/^sudo -n bash -c /);
      expect(call.argv.join(" ")).not.toContain(newPass);
      expect(call.stdin).toBe(credentialsEnv(parseHostConfig({ domain: "example.com", acmeEmail: "ops@example.com" }), newPass));
    }
    expect(await status(newPass)).toBe(200);
    expect(await status(bus.pass)).toBe(401);
    await remote.settled();
  });

  it.each([
    [["--ssh"], /--ssh needs --target/],
    [["--ssh", "--target", "x", "--config", "/nonexistent.json"], /--config \/nonexistent\.json: ENOENT/],
    [["--target", "root@host"], /--target need --ssh/],
    [["--ssh", "--stack", "dev"], /--ssh does not take --stack/],
    [["--timeout", "soon"], /--timeout must be a whole number/],
  ])("usage error %j", async (args, message) => {
    const remote = await fake("apply");
    const result = await rotate(remote, args);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(message);
    expect(await remote.calls()).toEqual([]);
  });
});
