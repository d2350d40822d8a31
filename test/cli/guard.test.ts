/** `claude-bus guard`: the pre-commit hook in a scratch git repository, against the real bus. */
import { execFile } from "node:child_process";
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { covers } from "../../cli/commands/guard";
import { createBusClient } from "../../client/index";
import { requireTool } from "../support/requireTool";
import { buildCli, envText, runCli, startTestBus, tempDir, type TestBus, writeHomeEnv } from "./harness";

let cli: string;
let bus: TestBus;
let home: string;
let repo: string;

beforeAll(async () => {
  requireTool("git");
  cli = await buildCli();
});
beforeEach(async () => {
  [bus, home, repo] = await Promise.all([startTestBus(), tempDir("home"), tempDir("repo")]);
  await writeHomeEnv(home, `${envText(bus)}BUS_ME=kilo\n`);
  await git(["init", "-q", "-b", "main"]);
  await fs.mkdir(path.join(repo, "infra"));
  await fs.writeFile(path.join(repo, "infra", "volume.ts"), "v1\n");
  await fs.writeFile(path.join(repo, "README.md"), "r1\n");
});
afterEach(async () => {
  await bus.close();
});

function git(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) =>
    execFile(
      "git",
      ["-c", "user.name=t", "-c", "user.email=t@example.com", ...args],
      { cwd: repo, env: { PATH: process.env.PATH, HOME: home, GIT_CONFIG_NOSYSTEM: "1", ...env } },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    ),
  );
}
const commit = async (file: string, env: Record<string, string> = {}, extra: string[] = []) => {
  await fs.appendFile(path.join(repo, file), "change\n");
  await git(["add", file]);
  return git(["commit", "-q", "-m", `change ${file}`, ...extra], env);
};

describe("guard", () => {
  it("refuses to commit a path another machine claimed, naming holder and note; other paths, own claims, --no-verify and CLAUDE_BUS_GUARD=off go through", async () => {
    const installed = await runCli(cli, ["guard", "install"], { home, cwd: repo });
    expect(installed.code).toBe(0);
    expect(installed.stdout).toContain(path.join(repo, ".git", "hooks", "pre-commit"));
    expect((await commit("README.md")).code).toBe(0); // nothing claimed yet

    const other = createBusClient(bus);
    const held = await other.claim({ resource: "repo:infra/", ttl: 600, holder: "lima", note: "resizing \x1b[2Jthe volume" });
    const refused = await commit("infra/volume.ts");
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain(
      `claude-bus guard: infra/volume.ts is claimed: repo:infra/  held by lima  token ${held.token}  until ${held.expires}  note: resizing \\x1b[2Jthe volume`,
    );
    expect(refused.stderr).not.toContain("\x1b");
    expect(refused.stderr).toContain("git commit --no-verify (or CLAUDE_BUS_GUARD=off git commit ...)");
    expect((await git(["log", "--oneline"])).stdout.trim().split("\n")).toHaveLength(1);

    // Still staged, the claimed file would ride along with any commit: unstaged, the rest goes through.
    expect((await commit("README.md")).code).not.toBe(0);
    await git(["reset", "-q", "infra/volume.ts"]);
    expect((await commit("README.md")).code).toBe(0);
    expect((await commit("infra/volume.ts", { CLAUDE_BUS_GUARD: "off" })).code).toBe(0);
    expect((await commit("infra/volume.ts", {}, ["--no-verify"])).code).toBe(0);
    await other.release({ resource: "repo:infra/", holder: "lima" });
    await other.claim({ resource: "repo:infra/volume.ts", ttl: 600, holder: "kilo" });
    expect((await commit("infra/volume.ts")).code).toBe(0); // my own claim
    expect((await git(["log", "--oneline"])).stdout.trim().split("\n")).toHaveLength(5);
  });

  it("lets a commit through with a warning when the bus cannot be reached", async () => {
    await runCli(cli, ["guard", "install"], { home, cwd: repo });
    await createBusClient(bus).claim({ resource: "repo:README.md", ttl: 600, holder: "lima" });
    await bus.close();
    const result = await commit("README.md");
    expect(result.code).toBe(0);
    expect(result.stderr).toContain("claude-bus guard: claims not checked (cannot reach the bus");
    bus = await startTestBus(); // afterEach closes one
  });

  it("install leaves a pre-commit hook that is not its own, unless --force; installing again replaces its own", async () => {
    const hook = path.join(repo, ".git", "hooks", "pre-commit");
    await fs.writeFile(hook, "#!/bin/sh\nexit 0\n", { mode: 0o755 });
    const refused = await runCli(cli, ["guard", "install", "--repo", repo], { home });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("exists and is not the guard's");
    expect(await fs.readFile(hook, "utf8")).toBe("#!/bin/sh\nexit 0\n");
    expect((await runCli(cli, ["guard", "install", "--repo", repo, "--force"], { home })).code).toBe(0);
    expect((await runCli(cli, ["guard", "install", "--repo", repo], { home })).code).toBe(0);
    expect(await fs.readFile(hook, "utf8")).toContain("guard check");
  });

  it("a claim covers its file, or its directory and everything under it", () => {
    expect(covers("repo:infra/volume.ts", "infra/volume.ts")).toBe(true);
    expect(covers("repo:infra/volume.ts", "infra/volume.ts.bak")).toBe(false);
    expect(covers("repo:infra", "infra/volume.ts")).toBe(true);
    expect(covers("repo:infra/", "infra/a/b.ts")).toBe(true);
    expect(covers("repo:infra", "infrastructure.md")).toBe(false);
    expect(covers("repo:./infra", "infra/x")).toBe(true);
    expect(covers("repo:", "anything")).toBe(true);
    expect(covers("task:infra", "infra/x")).toBe(false);
  });
});
