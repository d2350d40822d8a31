/** The plugin and its marketplace as files: what the real Claude Code CLI says of them, and what they run. */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { COMMANDS } from "../../cli/usage";
import { tempDir } from "../cli/harness";
import { claudeHome, runClaudeCli } from "./claudeCode";

const REPO = path.resolve(__dirname, "../..");
const json = (file: string) => JSON.parse(readFileSync(path.join(REPO, file), "utf8"));

it.each(["plugin", "."])("`claude plugin validate %s` passes", async (dir) => {
  const h = await claudeHome(tempDir("claude-home"));
  const result = await runClaudeCli(h, ["plugin", "validate", path.join(REPO, dir)]);
  expect(result.out).toContain("✔ Validation passed");
  expect(result.code).toBe(0);
});

it("the plugin's version is the package's, and the marketplace lists the plugin folder", () => {
  expect(json("plugin/.claude-plugin/plugin.json").version).toBe(json("package.json").version);
  const [entry] = json(".claude-plugin/marketplace.json").plugins;
  expect(entry).toMatchObject({ name: json("plugin/.claude-plugin/plugin.json").name, source: "./plugin" });
});

it("every hook and server runs a claude-bus command in exec form (no shell), and the monitor one with no shell syntax", () => {
  const hooks = Object.values(json("plugin/hooks/hooks.json").hooks as Record<string, Array<{ hooks: Array<Record<string, unknown>> }>>).flatMap((groups) =>
    groups.flatMap((g) => g.hooks),
  );
  const servers = Object.values(json("plugin/.mcp.json").mcpServers as Record<string, Record<string, unknown>>);
  expect(hooks.length).toBe(3);
  for (const run of [...hooks, ...servers]) {
    expect(run.command).toBe("claude-bus");
    expect(Array.isArray(run.args)).toBe(true);
    expect(Object.keys(COMMANDS)).toContain((run.args as string[])[0]);
  }
  for (const monitor of json("plugin/monitors/monitors.json") as Array<{ command: string }>) {
    expect(monitor.command).toMatch(/^claude-bus [a-z -]+$/);
    expect(Object.keys(COMMANDS)).toContain(monitor.command.split(" ")[1]);
  }
});
