/** `claude-bus claim | release | claims` and `post --wait-read` as child processes against the real bus. */
import { promises as fs } from "node:fs";
import { EXIT_CODES } from "../../cli/exitCodes";
import { postJson, request } from "../support/http";
import { buildCli, envText, runCli, startTestBus, tempDir, type TestBus, writeHomeEnv } from "./harness";

let cli: string;
let bus: TestBus;
let home: string;

beforeAll(async () => {
  cli = await buildCli();
});
beforeEach(async () => {
  [bus, home] = await Promise.all([startTestBus(), tempDir("home")]);
  await writeHomeEnv(home, envText(bus));
});
afterEach(async () => {
  await bus.close();
  await fs.rm(home, { recursive: true, force: true });
});

const run = (args: string[], env: Record<string, string> = {}) => runCli(cli, args, { home, env });
const auth: [string, string] = ["claude", "InitialPassw0rdInitialPassw0"];

describe("claim, release, claims", () => {
  it("claim prints the token; another machine is refused with exit 5 naming the holder and the note, made visible", async () => {
    const first = await run(["claim", "repo:infra/volume.ts", "--me", "alpha", "--ttl", "30m", "--note", "resizing \x1b]0;pwned\x07 it"]);
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^claimed repo:infra\/volume\.ts as alpha: token \d+, until \d{4}-.+Z\n$/);
    const token = Number(/token (\d+)/.exec(first.stdout)![1]);

    const other = await run(["claim", "repo:infra/volume.ts", "--me", "beta"]);
    expect(other.code).toBe(EXIT_CODES.notYet.code);
    expect(other.stdout).toBe("");
    expect(other.stderr).toContain(`not claimed: repo:infra/volume.ts  held by alpha  token ${token}  until `);
    expect(other.stderr).toContain("note: resizing \\x1b]0;pwned\\x07 it");
    expect(other.stderr).not.toContain("\x1b");

    const renewed = await run(["claim", "repo:infra/volume.ts", "--me", "alpha", "--ttl", "1h", "--json"]);
    expect(JSON.parse(renewed.stdout)).toMatchObject({ holder: "alpha", token, note: "resizing \x1b]0;pwned\x07 it" });
  });

  it("claim --wait takes the resource once its holder releases it", async () => {
    expect((await run(["claim", "task:deploy", "--me", "alpha"])).code).toBe(0);
    const waiting = run(["claim", "task:deploy", "--me", "beta", "--wait", "30s", "--json"]);
    // The holder lets go (whether or not beta's wait has begun, beta ends up with it).
    for (let i = 0; i < 3; i++) await request(bus.url, "/health", { auth });
    expect((await run(["release", "task:deploy", "--me", "alpha"])).stdout).toMatch(/^released task:deploy \(token \d+\)\n$/);
    const taken = await waiting;
    expect(taken.code).toBe(0);
    expect(JSON.parse(taken.stdout)).toMatchObject({ resource: "task:deploy", holder: "beta" });
  });

  it("release by another is the bus's 403; --force breaks it (team credential); a free resource says so", async () => {
    await run(["claim", "task:x", "--me", "alpha"]);
    const refused = await run(["release", "task:x", "--me", "beta"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('claimed by "alpha", not "beta"');
    const broke = await run(["release", "task:x", "--me", "beta", "--force"]);
    expect(broke.code).toBe(0);
    expect(broke.stdout).toMatch(/^broke task:x \(token \d+, held by alpha\)\n$/);
    expect((await run(["release", "task:x", "--me", "alpha"])).stdout).toBe("task:x was not claimed: nothing to release\n");
    expect((await run(["release", "task:x", "--token", "x1"])).code).toBe(1);
  });

  it("claims lists live claims, all, mine, or under a prefix", async () => {
    await run(["claim", "repo:a.ts", "--me", "alpha"]);
    await run(["claim", "repo:b.ts", "--me", "beta", "--note", "b"]);
    await run(["claim", "task:c", "--me", "alpha"]);
    const all = await run(["claims"]);
    expect(
      all.stdout
        .trim()
        .split("\n")
        .map((l) => l.split("  ").slice(0, 2).join(" ")),
    ).toEqual(["repo:a.ts held by alpha", "repo:b.ts held by beta", "task:c held by alpha"]);
    expect(all.stdout).toContain("note: b");
    expect(JSON.parse((await run(["claims", "--mine", "--json"], { BUS_ME: "alpha" })).stdout).map((c: { resource: string }) => c.resource)).toEqual([
      "repo:a.ts",
      "task:c",
    ]);
    expect(JSON.parse((await run(["claims", "--prefix", "repo:", "--json"])).stdout).map((c: { resource: string }) => c.resource)).toEqual([
      "repo:a.ts",
      "repo:b.ts",
    ]);
    expect((await run(["claims", "--holder", "nobody"])).stderr).toBe("no live claims\n");
    expect((await run(["claim"])).code).toBe(1);
  });
});

describe("post --wait-read", () => {
  it("waits until the reader acks the message, then says when", async () => {
    const posting = run(["post", "--me", "alpha", "--to", "bravo", "--wait-read", "bravo", "--json", "please review"]);
    let id: string | undefined;
    while (id === undefined) id = (await request(bus.url, "/messages?from=alpha", { auth })).json.messages[0]?.id;
    expect((await postJson(bus.url, `/ack/${id}`, { reader: "bravo" }, { auth })).status).toBe(200);
    const done = await posting;
    expect(done.code).toBe(0);
    expect(JSON.parse(done.stdout).id).toBe(id);
    expect(done.stderr).toMatch(new RegExp(`^#${id} read by bravo at \\d{4}-.+Z\\n$`));
  });

  it("exits 5 when nobody reads it in time", async () => {
    const done = await run(["post", "--me", "alpha", "--to", "bravo", "--wait-read", "bravo", "--wait-read-for", "1s", "hello"]);
    expect(done.code).toBe(EXIT_CODES.notYet.code);
    expect(done.stderr).toMatch(/^#\d+ not read by bravo within 1 s\n$/);
    expect((await run(["post", "--wait-read-for", "1s", "x"])).code).toBe(1);
  });
});
