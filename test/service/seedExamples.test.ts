import { execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { startBus, type TestBus } from "../support/bus";
import { PASS, postJson, request, USER } from "../support/http";
import { tempDir } from "../support/tempDir";

/**
 * The seed page's own snippets, copied verbatim into ./seed/ (bash-usage.sh, session-start.sh,
 * cheatsheet.sh, share-link.sh, python-usage.py), run against the real bus. Only the
 * credentials file (~/.secrets/claude-bus.env under a temp HOME) points them at it, and the
 * seed's `<id>` placeholder is replaced by a real id. share-link.sh follows a `source` of the
 * env file in the seed's page, so it runs after one here too.
 * Needs bash, curl, jq, hostname, and python3 with requests and python-dotenv.
 */
const seed = (name: string) => fs.readFileSync(path.join(__dirname, "seed", name), "utf8");
const ME = execFileSync("hostname", ["-s"], { encoding: "utf8" }).trim();

/** The machine's own credential, enrolled by invite as `hostname -s` (the name the seed's lines post as). */
async function enrollAs(bus: TestBus, name: string): Promise<[string, string]> {
  const { code } = (await postJson(bus.url, "/invites", { name })).json;
  const { user, pass } = (await postJson(bus.url, "/enroll", { code }, { auth: null })).json;
  return [user, pass];
}

describe.each(["team", "machine"] as const)("the seed's examples work verbatim with the %s credential", (kind) => {
  let bus: TestBus;
  let home: string;
  beforeEach(async () => {
    bus = await startBus();
    home = tempDir("claude-bus-home-");
    fs.mkdirSync(path.join(home, ".secrets"), { mode: 0o700 });
    const [user, pass] = kind === "team" ? [USER, PASS] : await enrollAs(bus, ME);
    fs.writeFileSync(path.join(home, ".secrets", "claude-bus.env"), `BUS_USER=${user}\nBUS_PASS=${pass}\nBUS_URL=${bus.url}\n`, { mode: 0o600 });
  });
  afterEach(async () => {
    await bus.close();
  });

  const env = () => ({ PATH: process.env.PATH, HOME: home });
  // Asynchronous on purpose: the bus runs in this process, a spawnSync would block it.
  const run = (cmd: string, args: string[]) =>
    new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn(cmd, args, { env: env() });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      child.on("error", reject);
      child.on("close", (status) => resolve({ status, stdout, stderr }));
    });
  const bash = async (script: string) => {
    const result = await run("bash", ["-c", script]);
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    return result.stdout;
  };
  const list = async (q: string) => (await request(bus.url, `/messages${q}`)).json.messages;

  test("Bash usage: post to a machine, pull my unread, mark one read", async () => {
    const incoming = await postJson(bus.url, "/post", { from: "ccwhitebee", to: ME, body: "for you" });
    const out = await bash(seed("bash-usage.sh").replace("<id>", incoming.json.id));

    const [posted] = await list(`?to=ccwhitebee&from=${ME}`);
    expect(posted).toMatchObject({ from: ME, to: "ccwhitebee", body: "Build finished, see /opt/foo", tags: ["build"] });
    expect(out).toContain(JSON.stringify(posted)); // the POST's compact response
    expect(out).toContain('"body": "for you"'); // jq's pretty listing of my unread
    expect(out).toContain(`{"ok":true,"id":"${incoming.json.id}","reader":"${ME}","already":false}`);
    expect(await list(`?to=${ME}&unread_by=${ME}`)).toEqual([]);
  });

  test("session-start poll prints [ts] from: body for each unread message", async () => {
    const a = (await postJson(bus.url, "/post", { from: "ccwhitebee", to: ME, body: "direct note" })).json;
    const b = (await postJson(bus.url, "/post", { from: "other", body: "broadcast note" })).json;
    await postJson(bus.url, "/post", { from: "other", to: "someone-else", body: "not for me" });
    await postJson(bus.url, "/post", { from: ME, body: "my own broadcast" });
    const out = await bash(seed("session-start.sh"));
    expect(out).toBe(`[${a.ts}] ccwhitebee: direct note\n[${b.ts}] other: broadcast note\n`);
  });

  test("the quick cheatsheet: post, pull unread, ack, health", async () => {
    const incoming = (await postJson(bus.url, "/post", { from: "ccwhitebee", to: ME, body: "ping" })).json;
    const out = await bash(seed("cheatsheet.sh").replace("<id>", incoming.id));
    const lines = out
      .split(/(?<=\})(?=\{)|\n/)
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    expect(lines[0]).toMatchObject({ id: "2", from: ME, to: "ccwhitebee", body: "hi", tags: [] });
    expect(lines[1]).toEqual({ messages: [expect.objectContaining({ id: incoming.id, body: "ping" })] });
    expect(lines[2]).toEqual({ ok: true, id: incoming.id, reader: ME, already: false });
    expect(lines[3]).toEqual({ ok: true, count: 2, now: expect.any(String), oldest: "1", bytes: expect.any(Number) });
  });

  test("sharing a link: the single-quoted JSON post", async () => {
    if (kind === "machine" && ME !== "ccwhitebee") {
      // The line posts as ccwhitebee, written on that machine: a machine credential posts only as itself.
      const refused = await run("bash", ["-c", `source ~/.secrets/claude-bus.env\n${seed("share-link.sh")}`]);
      expect(JSON.parse(refused.stdout).error).toMatch(/^from: "ccwhitebee" is not this credential's machine/);
      const [user, pass] = await enrollAs(bus, "ccwhitebee");
      fs.writeFileSync(path.join(home, ".secrets", "claude-bus.env"), `BUS_USER=${user}\nBUS_PASS=${pass}\nBUS_URL=${bus.url}\n`, { mode: 0o600 });
    }
    const out = await bash(`source ~/.secrets/claude-bus.env\n${seed("share-link.sh")}`);
    expect(JSON.parse(out)).toMatchObject({
      id: "1",
      from: "ccwhitebee",
      to: "ccmidm1mac",
      body: "Build dropped at gdrive:claude-handoffs/build-2026-05-25.zip",
    });
  });

  test("Python usage (requests + python-dotenv): post, pull unread, print, ack each", async () => {
    const incoming = (await postJson(bus.url, "/post", { from: "ccwhitebee", to: ME, body: "from python land" })).json;
    const python = await run("python3", ["-c", seed("python-usage.py")]);
    expect(python.stderr).toBe("");
    expect(python.status).toBe(0);
    expect(python.stdout).toBe(`${incoming.ts} ccwhitebee -> from python land\n`);
    const [posted] = await list(`?to=ccwhitebee&from=${ME}`);
    expect(posted).toMatchObject({ body: "Patch deployed, smoke tests green.", tags: ["deploy", "green"] });
    expect(await list(`?to=${ME}&unread_by=${ME}`)).toEqual([]);
    expect((await list(""))[0].read_by).toEqual(["ccwhitebee", ME]);
  });
});
