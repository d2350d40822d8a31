/** `claude-bus bootstrap` in a temporary HOME against the real bus: idempotence, file modes, the plugin in settings, --check. */
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { createBusClient } from "../../client/index";
import { cliPerTest, envText, linkClaudeBus, modeOf, runCli, startTestBus, type TestBus, writeHomeEnv } from "./harness";

let cli: string;
let bus: TestBus;
let home: string;
/** PATH with `claude-bus` (this repo's bin/claude-bus) on it, as after `npm link`, and no `claude`. */
let linkedPath: string;
const REPO = path.resolve(__dirname, "../..");

const PUBKEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHVzZWQtb25seS1pbi10ZXN0cy1ub3QtYS1yZWFsLWtleQ alice@laptop";

cliPerTest({ envFile: false, startBus: () => startTestBus() }, (set) => ({ cli, bus, home } = set));
beforeEach(async () => {
  await fs.mkdir(path.join(home, ".ssh"), { mode: 0o700 });
  await fs.writeFile(path.join(home, ".ssh", "id_ed25519.pub"), `${PUBKEY}\n`);
  linkedPath = await linkClaudeBus(home);
});

const envFile = () => path.join(home, ".secrets", "claude-bus.env");
const settingsFile = () => path.join(home, ".claude", "settings.json");
const pollScript = () => path.join(home, ".claude", "claude-bus-poll.sh");
const PLUGIN_SETTINGS = {
  extraKnownMarketplaces: { "agent-bus": { source: { source: "directory", path: REPO } } },
  enabledPlugins: { "agent-bus@agent-bus": true },
};
const stackOutputs = (b: TestBus) =>
  JSON.stringify({ busUrl: b.url, fqdn: "claude-bus.example.com", ipv4: "192.0.2.10", busUser: b.user, busPassword: b.pass, clientEnv: envText(b) });
const bootstrap = (args: string[], extra: { env?: Record<string, string>; stdin?: string } = {}) =>
  runCli(cli, ["bootstrap", "--me", "kilo", ...args], { home, ...extra, env: { PATH: linkedPath, ...extra.env } });
const hellos = async () => (await createBusClient(bus).messages({ from: "kilo" })).filter((m) => m.tags.includes("hello"));

async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await fs.readdir(dir, { withFileTypes: true, recursive: true })) {
    const full = path.join(entry.parentPath ?? (entry as unknown as { path: string }).path, entry.name);
    const stat = await fs.stat(full);
    out[path.relative(dir, full)] = `${(stat.mode & 0o7777).toString(8)} ${stat.mtimeMs} ${entry.isFile() ? await fs.readFile(full, "utf8") : ""}`;
  }
  return out;
}

describe("bootstrap from the stack outputs piped on stdin", () => {
  it("sets the machine up, every item ✓, and a second run changes nothing", async () => {
    const first = await bootstrap(["--from-stack"], { stdin: stackOutputs(bus) });
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    expect(first.stdout).not.toContain("✗");
    expect(first.stdout).toMatch(/^✓ credentials file: wrote .*claude-bus\.env \(mode 0600, dir 0700\)$/m);
    expect(first.stdout).toMatch(/^✓ bus health: .* answers with \d+ messages stored$/m);
    expect(first.stdout).toMatch(new RegExp(`^✓ claude-bus command: ${home}/bin/claude-bus \\(the plugin's hooks and tools run it\\)$`, "m"));
    expect(first.stdout).toMatch(/^✓ Claude Code plugin: agent-bus@agent-bus installed into .*settings\.json \(no `claude` on PATH\); new sessions load it$/m);
    expect(first.stdout).toContain(`pulumi config set --path 'clientSshKeys[N]' '${PUBKEY}'`);
    expect(first.stdout).toMatch(/^✓ hello broadcast: posted #\d+ announcing kilo$/m);

    expect(await modeOf(envFile())).toBe(0o600);
    expect(await modeOf(path.dirname(envFile()))).toBe(0o700);
    expect(await fs.readFile(envFile(), "utf8")).toBe(`BUS_USER=${bus.user}\nBUS_PASS=${bus.pass}\nBUS_URL=${bus.url}\nBUS_ME=kilo\n`);
    const settings = JSON.parse(await fs.readFile(settingsFile(), "utf8"));
    expect(settings).toEqual(PLUGIN_SETTINGS);
    expect(await modeOf(settingsFile())).toBe(0o600);
    expect(await hellos()).toHaveLength(1);

    const before = await snapshot(home);
    const second = await bootstrap([]);
    expect(second.code).toBe(0);
    expect(second.stdout).not.toContain("✗");
    expect(second.stdout).toMatch(/^✓ credentials file: .* up to date/m);
    expect(second.stdout).toMatch(/^✓ hello broadcast: kilo already announced/m);
    expect(await snapshot(home)).toEqual(before);
    expect(await hellos()).toHaveLength(1);

    const check = await bootstrap(["--check"]);
    expect(check.code).toBe(0);
    expect(check.stdout).not.toContain("✗");
  });

  it("accepts busUrl/busUser/busPassword when there is no clientEnv output", async () => {
    const outputs = JSON.stringify({ busUrl: `${bus.url}/`, busUser: bus.user, busPassword: bus.pass });
    const result = await bootstrap(["--from-stack"], { stdin: outputs });
    expect(result.code).toBe(0);
    expect(await fs.readFile(envFile(), "utf8")).toContain(`BUS_URL=${bus.url}\n`);
  });

  it.each([
    ['{"busUrl":"https://x.example.com","clientEnv":"[secret]"}', /secrets hidden: add --show-secrets/],
    ["not json", /is not JSON: pipe `pulumi stack output --json --show-secrets`/],
    ['{"fqdn":"claude-bus.example.com"}', /neither clientEnv nor busUrl\/busUser\/busPassword/],
    ['{"clientEnv":"BUS_USER=claude\\nBUS_PASS=has space\\n"}', /stack output clientEnv:2: BUS_PASS: unquoted value/],
  ])("rejects stack outputs %s with a clear error and writes nothing", async (stdin, message) => {
    const result = await bootstrap(["--from-stack"], { stdin });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(message);
    await expect(fs.access(path.join(home, ".secrets"))).rejects.toThrow();
  });

  it("the stack's credential replaces an old one even with a stale BUS_PASS exported in the shell", async () => {
    await writeHomeEnv(home, `BUS_USER=${bus.user}\nBUS_PASS=OldRotatedAwayPassword12345\nBUS_URL=${bus.url}\n`);
    const result = await bootstrap(["--from-stack"], { stdin: stackOutputs(bus), env: { BUS_PASS: "OldRotatedAwayPassword12345" } });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^✓ credentials file: updated /m);
    expect(await fs.readFile(envFile(), "utf8")).toContain(`BUS_PASS=${bus.pass}\n`);
  });
});

describe("bootstrap from the environment", () => {
  it("writes the file from BUS_URL/BUS_USER/BUS_PASS and fixes a too-open ~/.secrets", async () => {
    await fs.mkdir(path.join(home, ".secrets"), { mode: 0o755 });
    await fs.chmod(path.join(home, ".secrets"), 0o755);
    const result = await bootstrap([], { env: { BUS_URL: bus.url, BUS_USER: bus.user, BUS_PASS: bus.pass } });
    expect(result.code).toBe(0);
    expect(await modeOf(path.dirname(envFile()))).toBe(0o700);
    expect(await modeOf(envFile())).toBe(0o600);
  });

  it("repairs a file whose mode was widened, without rewriting it", async () => {
    await writeHomeEnv(home, `BUS_USER=${bus.user}\nBUS_PASS=${bus.pass}\nBUS_URL=${bus.url}\nBUS_ME=kilo\n`);
    await fs.chmod(envFile(), 0o644);
    const check = await bootstrap(["--check"]);
    expect(check.code).toBe(1);
    expect(check.stdout).toMatch(/^✗ credentials file: .*claude-bus\.env has mode 0644, wants 0600: run without --check to fix$/m);
    expect(await modeOf(envFile())).toBe(0o644);
    const fix = await bootstrap([]);
    expect(fix.stdout).toMatch(/^✓ credentials file: .* unchanged; fixed .* mode 0644/m);
    expect(await modeOf(envFile())).toBe(0o600);
  });

  it("with no credential anywhere says how to get one and exits 1", async () => {
    const result = await bootstrap([]);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain("✗ credentials file:");
    expect(result.stdout).toContain("pulumi stack output --json --show-secrets | claude-bus bootstrap --from-stack");
    expect(result.stdout).toMatch(/^✗ bus health: not checked/m);
  });

  it("a rejected credential is ✗ bus health and exit 2", async () => {
    const result = await bootstrap([], { env: { BUS_URL: bus.url, BUS_USER: bus.user, BUS_PASS: "NotTheRightPassword1234567" } });
    expect(result.code).toBe(2);
    expect(result.stdout).toMatch(/^✗ bus health: .*401.*--from-stack/m);
    expect(result.stdout).toMatch(/^✗ hello broadcast: not checked/m);
  });
});

describe("~/.claude/settings.json merge", () => {
  const existing = {
    model: "opus",
    permissions: { allow: ["Bash(npm test)"] },
    hooks: {
      PreToolUse: [{ matcher: "Bash", hooks: [{ type: "command", command: "echo pre" }] }],
      SessionStart: [{ matcher: "startup", hooks: [{ type: "command", command: "cat ~/notes.md" }] }],
    },
  };

  it("keeps unrelated keys and hooks, adds ours once, keeps the file mode", async () => {
    await fs.mkdir(path.join(home, ".claude"));
    await fs.writeFile(settingsFile(), JSON.stringify(existing), { mode: 0o640 });
    await fs.chmod(settingsFile(), 0o640);
    const env = { BUS_URL: bus.url, BUS_USER: bus.user, BUS_PASS: bus.pass };
    expect((await bootstrap([], { env })).code).toBe(0);
    expect((await bootstrap([], { env })).code).toBe(0);
    const settings = JSON.parse(await fs.readFile(settingsFile(), "utf8"));
    expect(settings).toEqual({ ...existing, ...PLUGIN_SETTINGS });
    expect(await modeOf(settingsFile())).toBe(0o640);
  });

  it("keeps other marketplaces and plugins", async () => {
    await fs.mkdir(path.join(home, ".claude"));
    const other = { extraKnownMarketplaces: { tools: { source: { source: "github", repo: "acme/tools" } } }, enabledPlugins: { "lint@tools": true } };
    await fs.writeFile(settingsFile(), JSON.stringify(other));
    expect((await bootstrap([], { env: { BUS_URL: bus.url, BUS_USER: bus.user, BUS_PASS: bus.pass } })).code).toBe(0);
    const settings = JSON.parse(await fs.readFile(settingsFile(), "utf8"));
    expect(settings.extraKnownMarketplaces).toEqual({ ...other.extraKnownMarketplaces, ...PLUGIN_SETTINGS.extraKnownMarketplaces });
    expect(settings.enabledPlugins).toEqual({ "lint@tools": true, "agent-bus@agent-bus": true });
  });

  it("replaces the poll script and SessionStart hook that older versions installed, keeping other hooks", async () => {
    await fs.mkdir(path.join(home, ".claude"));
    const old = {
      hooks: {
        SessionStart: [
          {
            hooks: [
              { type: "command", command: "sh /old/place/claude-bus-poll.sh" },
              { type: "command", command: "date" },
            ],
          },
          { hooks: [{ type: "command", command: pollScript(), timeout: 30 }] },
        ],
        Stop: [{ hooks: [{ type: "command", command: "echo stop" }] }],
      },
    };
    await fs.writeFile(settingsFile(), JSON.stringify(old));
    await fs.writeFile(pollScript(), "#!/bin/sh\nexit 0\n", { mode: 0o700 });
    const env = { BUS_URL: bus.url, BUS_USER: bus.user, BUS_PASS: bus.pass };
    const check = await bootstrap(["--check"], { env });
    expect(check.stdout).toMatch(
      /^✗ Claude Code plugin: agent-bus@agent-bus not installed; the old SessionStart poll hook is still installed: run `claude-bus bootstrap`$/m,
    );
    const result = await bootstrap([], { env });
    expect(result.stdout).toMatch(/^✓ Claude Code plugin: agent-bus@agent-bus installed .*; removed the old SessionStart poll hook; new sessions load it$/m);
    const settings = JSON.parse(await fs.readFile(settingsFile(), "utf8"));
    expect(settings).toEqual({
      hooks: { SessionStart: [{ hooks: [{ type: "command", command: "date" }] }], Stop: old.hooks.Stop },
      ...PLUGIN_SETTINGS,
    });
    await expect(fs.access(pollScript())).rejects.toThrow();
    expect((await bootstrap(["--check"], { env })).stdout).toMatch(/^✓ Claude Code plugin: agent-bus@agent-bus enabled in /m);
  });

  it("a plugin already installed leaves only the old hook to remove", async () => {
    await fs.mkdir(path.join(home, ".claude"));
    await fs.writeFile(
      settingsFile(),
      JSON.stringify({ ...PLUGIN_SETTINGS, hooks: { SessionStart: [{ hooks: [{ type: "command", command: pollScript() }] }] } }),
    );
    const result = await bootstrap([], { env: { BUS_URL: bus.url, BUS_USER: bus.user, BUS_PASS: bus.pass } });
    expect(result.stdout).toMatch(/^✓ Claude Code plugin: agent-bus@agent-bus already enabled; removed the old SessionStart poll hook$/m);
    expect(JSON.parse(await fs.readFile(settingsFile(), "utf8"))).toEqual(PLUGIN_SETTINGS);
  });

  it("without claude-bus on PATH says how to put it there: the plugin runs it", async () => {
    const result = await bootstrap([], { env: { PATH: "/usr/bin:/bin", BUS_URL: bus.url, BUS_USER: bus.user, BUS_PASS: bus.pass } });
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^✗ claude-bus command: not on PATH, and the plugin's hooks and tools run it: `npm link` in the clone/m);
  });

  it("run through npx, does not count the PATH entries npm added: Claude Code will not have them", async () => {
    const npxBin = path.join(home, ".npm", "_npx", "0123abcd", "node_modules", ".bin");
    await fs.mkdir(npxBin, { recursive: true });
    await fs.symlink(path.join(REPO, "bin", "claude-bus"), path.join(npxBin, "claude-bus"));
    const env = { PATH: `${npxBin}:/usr/bin:/bin`, npm_command: "exec", BUS_URL: bus.url, BUS_USER: bus.user, BUS_PASS: bus.pass };
    const result = await bootstrap([], { env });
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(`✗ claude-bus command: only on the PATH npm or npx gave this run (${npxBin}/claude-bus), which Claude Code will not have`);
    // the same entry on a PATH npm did not make (no npm_command) is the user's own
    const { npm_command: _npm, ...userEnv } = env;
    const own = await bootstrap([], { env: userEnv });
    expect(own.stdout).toContain(`✓ claude-bus command: ${npxBin}/claude-bus`);
  });

  it("leaves a settings.json that is not valid JSON untouched and says so", async () => {
    await fs.mkdir(path.join(home, ".claude"));
    await fs.writeFile(settingsFile(), '{ "model": "opus", ');
    const result = await bootstrap([], { env: { BUS_URL: bus.url, BUS_USER: bus.user, BUS_PASS: bus.pass } });
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^✗ Claude Code plugin: .*settings\.json is not valid JSON .*fix it by hand/m);
    expect(await fs.readFile(settingsFile(), "utf8")).toBe('{ "model": "opus", ');
  });
});

describe("--check", () => {
  it("on a fresh machine reports ✗ items and creates nothing", async () => {
    const before = await snapshot(home);
    const result = await bootstrap(["--check"], { env: { BUS_URL: bus.url, BUS_USER: bus.user, BUS_PASS: bus.pass } });
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^✗ credentials file: .* missing: run `claude-bus bootstrap`/m);
    expect(result.stdout).toMatch(/^✓ bus health:/m);
    expect(result.stdout).toMatch(/^✗ Claude Code plugin: agent-bus@agent-bus not installed: run `claude-bus bootstrap`$/m);
    expect(result.stdout).toMatch(/^✗ hello broadcast: kilo not announced yet/m);
    expect(await snapshot(home)).toEqual(before);
    expect(await hellos()).toHaveLength(0);
  });

  it("without an SSH key says how to make one, as a warning: only the optional drop dir needs it", async () => {
    await fs.rm(path.join(home, ".ssh"), { recursive: true });
    const result = await bootstrap([], { env: { BUS_URL: bus.url, BUS_USER: bus.user, BUS_PASS: bus.pass } });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^! SSH key: none in .*only the shared drop dir needs one.*ssh-keygen -t ed25519/m);
    expect(result.stdout).not.toMatch(/^✗/m);
  });
});
