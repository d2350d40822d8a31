/**
 * A credential per machine, used as the README says: `claude-bus invite` with the team credential on one
 * machine, `claude-bus bootstrap --invite CODE --url URL` on another (its own temp HOME), then posting,
 * listing, revoking, rotating and backing up, every step the real CLI against the real bus.
 */
import { execFileSync, spawn } from "node:child_process";
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { AuthError, createBusClient, enroll } from "../../client/index";
import { cliPerTest, linkClaudeBus, modeOf, runCli, startTestBus, tempDir, type TestBus } from "./harness";
import { startBus } from "../support/bus";
import { waitFor } from "../support/waitFor";

let cli: string;
let bus: TestBus;
let adminHome: string;
const homes: string[] = [];

cliPerTest({ me: "admin", home: "admin", startBus: () => startTestBus() }, (set) => ({ cli, bus, home: adminHome } = set));
afterEach(async () => {
  await Promise.all(homes.splice(0).map((home) => fs.rm(home, { recursive: true, force: true })));
});

const admin = (args: string[]) => runCli(cli, args, { home: adminHome });

/** A new machine: an empty HOME with `claude-bus` on PATH (as after `npm link`) and no `claude`. */
async function newMachine(): Promise<{ home: string; run: (args: string[]) => ReturnType<typeof runCli>; envFile: string }> {
  const home = await tempDir("machine");
  homes.push(home);
  const env = { PATH: await linkClaudeBus(home) };
  return { home, run: (args) => runCli(cli, args, { home, env }), envFile: path.join(home, ".secrets", "claude-bus.env") };
}

/** `claude-bus invite NAME` as printed, and the bootstrap line it tells the new machine to run. */
async function invite(name: string): Promise<string[]> {
  const result = await admin(["invite", name]);
  expect(result).toMatchObject({ code: 0, stderr: "" });
  const line = /^ {2}claude-bus bootstrap --invite (\S+) --url (\S+)$/m.exec(result.stdout);
  expect(line?.[2]).toBe(bus.url);
  return ["bootstrap", "--invite", line![1], "--url", line![2]];
}

async function enrolled(name: string) {
  const machine = await newMachine();
  const result = await machine.run(await invite(name));
  expect(result.stdout).toContain(`✓ invite: enrolled at ${bus.url} as ${name}, with a credential of its own`);
  expect(result.code).toBe(0);
  return machine;
}

const envValue = async (file: string, key: string) => new RegExp(`^${key}=(.*)$`, "m").exec(await fs.readFile(file, "utf8"))?.[1];

async function status(user: string, pass: string): Promise<number> {
  try {
    await createBusClient({ url: bus.url, user, pass }).health();
    return 200;
  } catch (err) {
    if (err instanceof AuthError) return 401;
    throw err;
  }
}

describe("invite, bootstrap --invite, revoke", () => {
  it("enrolls a machine that posts as itself only, lists it, and revoking it leaves every other machine working", async () => {
    const bravo = await newMachine();
    const bootstrapLine = await invite("bravo");
    const first = await bravo.run(bootstrapLine);
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^✓ machine name: bravo \(the name it was invited as\)$/m);
    expect(first.stdout).toMatch(/^✓ credentials file: wrote .*claude-bus\.env \(mode 0600, dir 0700\)$/m);
    expect(first.stdout).toMatch(/^✓ hello broadcast: posted #\d+ announcing bravo$/m);
    const pass = (await envValue(bravo.envFile, "BUS_PASS"))!;
    expect(await fs.readFile(bravo.envFile, "utf8")).toBe(`BUS_USER=bravo\nBUS_PASS=${pass}\nBUS_URL=${bus.url}\nBUS_ME=bravo\n`);
    expect(await modeOf(bravo.envFile)).toBe(0o600);
    expect(pass).not.toBe(bus.pass);

    // the code worked once; the machine's later runs need none
    const again = await bravo.run(bootstrapLine);
    expect(again.code).toBe(1);
    expect(again.stdout).toContain("✗ invite: the bus answered 403: the invite code is unknown or was used already; a code works once");
    expect(await envValue(bravo.envFile, "BUS_PASS")).toBe(pass);
    const plain = await bravo.run(["bootstrap"]);
    expect(plain.stdout).toMatch(/^✓ credentials file: .* up to date/m);
    expect(plain.code).toBe(0);

    expect(await bravo.run(["post", "--to", "admin", "hello from bravo"])).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(/^posted #\d+ from bravo to admin$/m),
    });
    const forged = await bravo.run(["post", "--me", "admin", "not really admin"]);
    expect(forged.code).toBe(1);
    expect(forged.stderr).toContain('403: from: "admin" is not this credential\'s machine "bravo"');

    const charlie = await enrolled("charlie");
    await invite("delta"); // invited, not yet enrolled
    const table = (await admin(["machines"])).stdout.split("\n");
    expect(table[0]).toMatch(/^NAME +CREDENTIAL +ISSUED +ROTATED +LAST USED +LAST SEEN +UNREAD$/);
    expect(table.find((row) => row.startsWith("bravo "))).toMatch(/^bravo +own +\d{4}-\d\d-\d\dT\S+Z +- +\d{4}-\S+Z +\d{4}-\S+Z +\d+$/);
    expect(table.find((row) => row.startsWith("delta "))).toMatch(/^delta +invited, until \d{4}-\S+Z +- +- +- +- +-$/);
    const roster = JSON.parse((await admin(["machines", "--json"])).stdout);
    expect(roster.machines.map((m: { name: string }) => m.name)).toEqual(expect.arrayContaining(["admin", "bravo", "charlie"]));
    expect(roster.invites.map((i: { name: string }) => i.name)).toEqual(["delta"]);

    // only the team credential administers
    const refused = await bravo.run(["invite", "echo"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("403: only the team credential or an admin person may invite");

    const revoked = await admin(["revoke", "bravo"]);
    expect(revoked.stdout).toMatch(/^revoked bravo: its credential stopped working at \S+; every other machine is untouched$/m);
    expect(revoked.code).toBe(0);
    expect((await bravo.run(["health"])).code).toBe(2);
    expect(await status("bravo", pass)).toBe(401);
    expect((await charlie.run(["post", "still here"])).code).toBe(0);
    expect((await admin(["revoke", "bravo"])).stdout).toMatch(/^bravo was revoked already/m);
    expect((await admin(["machines"])).stdout).toMatch(/^bravo +revoked \d{4}-\S+Z/m);
  });

  it("refuses --invite with --check, --from-stack or --user, and without a URL, writing nothing", async () => {
    const machine = await newMachine();
    for (const extra of [["--check"], ["--from-stack"], ["--user", "x"]]) {
      const result = await machine.run(["bootstrap", "--invite", "some-code", "--url", bus.url, ...extra]);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/--invite/);
    }
    const noUrl = await machine.run(["bootstrap", "--invite", "some-code"]);
    expect(noUrl.stdout).toContain("✗ invite: no bus URL to enroll with: pass --url URL");
    expect(noUrl.code).toBe(1);
    await expect(fs.access(machine.envFile)).rejects.toThrow();
  });

  it("asks for nothing while the env file's directory cannot be written: the code stays unused", async () => {
    const machine = await newMachine();
    const line = await invite("kilo");
    await fs.writeFile(path.join(machine.home, ".secrets"), "a file where the directory should be");
    const refused = await machine.run(line);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toContain(`✗ invite: ${path.join(machine.home, ".secrets")} cannot be written (EEXIST): fix that first; the code is still unused`);
    await fs.rm(path.join(machine.home, ".secrets"));
    const enrolled = await machine.run(line);
    expect(enrolled.stdout).toContain("✓ invite: enrolled");
    expect(enrolled.code).toBe(0);
  });

  it("warns when BUS_USER or BUS_PASS in the shell would override the new env file", async () => {
    const machine = await newMachine();
    const result = await runCli(cli, await invite("lima"), {
      home: machine.home,
      env: { PATH: `${path.join(machine.home, "bin")}:/usr/bin:/bin`, BUS_USER: bus.user, BUS_PASS: bus.pass },
    });
    expect(result.stdout).toMatch(/^! environment: BUS_USER, BUS_PASS set in this shell override .*claude-bus\.env for every command: unset them$/m);
    expect(await envValue(machine.envFile, "BUS_USER")).toBe("lima");
  });

  it("keeps the invited name when --me asks for another, and says so", async () => {
    const machine = await newMachine();
    const result = await machine.run([...(await invite("foxtrot")), "--me", "golf"]);
    expect(result.stdout).toMatch(/^! machine name: foxtrot \(the name it was invited as; the bus knows it by its invite, not as golf\)$/m);
    expect(await envValue(machine.envFile, "BUS_ME")).toBe("foxtrot");
  });
});

describe("invite --person", () => {
  it("prints the browser link that redeems the code, for a person or an admin person; --admin alone is refused", async () => {
    for (const [name, flags] of [
      ["ada", ["--person"]],
      ["grace", ["--person", "--admin"]],
    ] as const) {
      const result = await admin(["invite", name, ...flags]);
      expect(result).toMatchObject({ code: 0, stderr: "" });
      const link = result.stdout.split("\n").find((line) => line.startsWith(`  ${bus.url}/#join=`));
      expect(link).toBeDefined();
      expect(result.stdout).not.toContain("claude-bus bootstrap");
      expect((await enroll({ url: bus.url, code: link!.split("#join=")[1] })).user).toBe(name);
    }
    const { machines } = await createBusClient({ url: bus.url, user: bus.user, pass: bus.pass }).roster();
    expect(machines.filter((m) => m.kind === "person").map((m) => [m.name, m.admin])).toEqual([
      ["ada", false],
      ["grace", true],
    ]);
    const table = (await admin(["machines"])).stdout;
    expect(table).toMatch(/^ada +own \(person\) /m);
    expect(table).toMatch(/^grace +own \(admin person\) /m);
    const refused = await admin(["invite", "bob", "--admin"]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain("--admin is for a person: add --person");
  });
});

describe("notify", () => {
  it("sets this credential's ntfy topic with a token from a file, shows it without the token, and turns it off", async () => {
    const tokenFile = path.join(adminHome, "ntfy-token");
    await fs.writeFile(tokenFile, "tk_fromafile123\n", { mode: 0o600 });
    const set = await admin(["notify", "set", "https://ntfy.example/my-topic", "--token-file", tokenFile, "--mode", "first-line"]);
    expect(set).toMatchObject({ code: 0, stderr: "" });
    expect(set.stdout.trim()).toBe("notifications: sender and first line to https://ntfy.example/my-topic (with an access token)");
    const shown = await admin(["notify", "show", "--json"]);
    expect(JSON.parse(shown.stdout)).toEqual({ url: "https://ntfy.example/my-topic", mode: "first-line", token_set: true });
    expect(shown.stdout + set.stdout).not.toContain("tk_fromafile123");
    expect((await admin(["notify", "off"])).stdout.trim()).toBe("notifications: off now");
    expect((await admin(["notify", "show"])).stdout.trim()).toBe("notifications: off");
    const bad = await admin(["notify", "set", "https://ntfy.example/t", "--mode", "loud"]);
    expect([bad.code, bad.stderr]).toEqual([1, expect.stringContaining("--mode must be ping or first-line")]);
  });
});

describe("rotate with a machine's own credential", () => {
  it("gets the new secret from the bus, verifies it, rewrites the env file; nothing on the bus, nobody else touched", async () => {
    const hotel = await enrolled("hotel");
    const india = await enrolled("india");
    const old = (await envValue(hotel.envFile, "BUS_PASS"))!;
    const result = await hotel.run(["rotate"]);
    expect(result.stderr).toContain("rotating hotel's own secret through the bus (POST /machines/hotel/rotate)");
    expect(result.stdout).toContain("only hotel's credential changed: every other machine keeps its own");
    expect(result.code).toBe(0);
    const fresh = (await envValue(hotel.envFile, "BUS_PASS"))!;
    expect(fresh).not.toBe(old);
    expect(await modeOf(hotel.envFile)).toBe(0o600);
    await expect(fs.access(`${hotel.envFile}.rotating`)).rejects.toThrow();
    expect([await status("hotel", fresh), await status("hotel", old)]).toEqual([200, 401]);
    expect((await india.run(["health"])).code).toBe(0);
    const everything = JSON.stringify(await createBusClient(bus).messages({}));
    expect(everything).not.toContain(fresh);
    expect(everything).not.toContain("rotation");
    expect((await admin(["machines"])).stdout).toMatch(/^hotel +own +\S+Z +\d{4}-\S+Z /m);
  });

  it("a watch running on that machine goes on with the new secret", async () => {
    const november = await enrolled("november");
    const watcher = spawn(process.execPath, ["--", cli, "watch", "--new-only"], {
      env: { PATH: "/usr/bin:/bin", HOME: november.home },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    watcher.stdout!.on("data", (d) => (out += d));
    watcher.stderr!.on("data", (d) => (err += d));
    try {
      const post = (body: string) => createBusClient(bus).post({ from: "admin", to: "november", body });
      await waitFor("watch's long-poll", () => bus.waiting() > 0, { timeoutMs: 20_000 });
      await post("before");
      await waitFor("the first line", () => out.includes(": before"), { timeoutMs: 20_000 });
      expect((await november.run(["rotate"])).code).toBe(0);
      // A long-poll held since before the rotation may bring this one; the next request meets the old secret's 401.
      await post("after the rotation");
      await waitFor("the line after the rotation", () => out.includes(": after the rotation"), { timeoutMs: 20_000 });
      await waitFor(
        "the watch taking up the new secret",
        () => err.includes(`claude-bus watch: the credential changed in ${november.envFile}; going on with it`),
        {
          timeoutMs: 20_000,
        },
      );
      await post("with the new secret");
      await waitFor("a line read with the new secret", () => out.includes(": with the new secret"), { timeoutMs: 20_000 });
      expect(watcher.exitCode).toBeNull();
    } finally {
      watcher.kill("SIGKILL");
    }
  });

  it("refuses the deployment's flags, which are for the team password", async () => {
    const juliet = await enrolled("juliet");
    const before = await fs.readFile(juliet.envFile, "utf8");
    const result = await juliet.run(["rotate", "--stack", "dev"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("juliet signs in with its own credential, which rotates on the bus: --stack are for the team password");
    expect(await fs.readFile(juliet.envFile, "utf8")).toBe(before);
  });
});

describe("backup", () => {
  it("downloads the whole store with the credential, refuses to overwrite without --force, and restores into a bus with the same messages", async () => {
    const kilo = await enrolled("kilo");
    await kilo.run(["post", "--to", "admin", "worth keeping"]);
    const dir = await tempDir("backup");
    homes.push(dir);
    const file = path.join(dir, "bus.tar.gz");
    const result = await admin(["backup", "--out", file]);
    expect(result.stdout).toMatch(new RegExp(`^✓ backup of ${bus.url} written to ${file} \\(\\d+ bytes\\)$`, "m"));
    expect(result.code).toBe(0);
    expect(await modeOf(file)).toBe(0o600);
    expect(execFileSync("tar", ["tzf", file], { encoding: "utf8" }).split("\n")).toEqual(expect.arrayContaining(["bus.jsonl", "acks.jsonl", "machines.jsonl"]));

    // a .part left by a killed run, readable by all, does not lend the next backup its mode
    await fs.writeFile(`${file}.part`, "left over", { mode: 0o644 });
    expect((await admin(["backup", "--out", file, "--force"])).code).toBe(0);
    expect(await modeOf(file)).toBe(0o600);

    const bytes = await fs.readFile(file);
    const refused = await admin(["backup", "--out", file]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`${file} exists: pass --force to replace it`);
    expect(await fs.readFile(file)).toEqual(bytes);
    expect((await admin(["backup", "--out", file, "--force"])).code).toBe(0);

    const dataDir = path.join(dir, "restored");
    expect((await admin(["restore", file, "--data", dataDir])).code).toBe(0);
    const restored = await startBus({ dataDir, user: bus.user, pass: bus.pass });
    try {
      const bodies = (await createBusClient(restored).messages({})).map((m) => m.body);
      expect(bodies).toEqual((await createBusClient(bus).messages({})).map((m) => m.body));
      expect(bodies).toContain("worth keeping");
      expect(await createBusClient({ url: restored.url, user: "kilo", pass: (await envValue(kilo.envFile, "BUS_PASS"))! }).health()).toMatchObject({
        ok: true,
      });
    } finally {
      await restored.close();
    }
  });

  it("names its file by the time when --out is not given, and a machine's own credential may not take one", async () => {
    const result = await admin(["backup"]);
    expect(result.code).toBe(0);
    const [name] = (await fs.readdir(adminHome)).filter((entry) => entry.endsWith(".tar.gz"));
    expect(name).toMatch(/^claude-bus-backup-\d{8}T\d{6}Z\.tar\.gz$/);
    const lima = await enrolled("lima");
    const refused = await lima.run(["backup"]);
    expect(refused.stderr).toContain("403: only the team credential may take a backup");
    expect(refused.code).toBe(1);
    expect((await fs.readdir(lima.home)).filter((entry) => entry.includes("backup"))).toEqual([]);
  });
});
