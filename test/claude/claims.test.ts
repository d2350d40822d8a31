/**
 * Claims in a real Claude Code session (pinned CLI, scripted model, after a real bootstrap): the session's
 * start shows the model what another machine holds, and the model claims, is refused and lists claims
 * through the plugin's MCP tools.
 */
import { promises as fs } from "node:fs";
import { spawn } from "node:child_process";
import { createBusClient } from "../../client/index";
import { startTestBus, tempDir, type TestBus } from "../cli/harness";
import { type ClaudeHome, claudeHome, startSession } from "./claudeCode";
import { lastToolResult, startScriptedModel, type Turn } from "./scriptedModel";

jest.setTimeout(120_000);

let bus: TestBus;
let h: ClaudeHome;

beforeEach(async () => {
  bus = await startTestBus();
  h = await claudeHome(tempDir("claude-home"));
});
afterEach(async () => {
  await bus.close();
  await fs.rm(h.home, { recursive: true, force: true });
});

function bootstrap(): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn("claude-bus", ["bootstrap", "--me", "kilo"], {
      cwd: h.home,
      env: { HOME: h.home, PATH: h.path, BUS_URL: bus.url, BUS_USER: bus.user, BUS_PASS: bus.pass },
      stdio: "ignore",
    });
    child.on("error", reject);
    child.on("close", resolve);
  });
}

const TOOL = (name: string) => `mcp__plugin_agent-bus_bus__${name}`;

it("the session starts knowing what lima holds; the model claims its task, is refused lima's file, and lists the claims", async () => {
  expect(await bootstrap()).toBe(0);
  const lima = createBusClient(bus);
  const held = await lima.claim({ resource: "repo:infra/volume.ts", ttl: 600, holder: "lima", note: "resizing the volume" });
  const results: string[] = [];
  const model = await startScriptedModel((request, index): Turn => {
    if (index > 0) results.push(lastToolResult(request));
    if (index === 0) return { tool: TOOL("claim"), input: { resource: "task:deploy-staging", ttl_seconds: 600, note: "deploying" } };
    if (index === 1) return { tool: TOOL("claim"), input: { resource: "repo:infra/volume.ts" } };
    if (index === 2) return { tool: TOOL("claims"), input: {} };
    return { text: "done" };
  });
  const session = startSession(h, model.url, ["--allowedTools", ["claim", "claims"].map(TOOL).join(" ")]);
  try {
    expect((await session.prompt("deploy staging, and touch infra/volume.ts if you can")).is_error).toBe(false);
    expect(await session.end()).toBe(0);
  } finally {
    await model.close();
  }
  const first = model.main()[0].text;
  expect(first).toContain("<claude-bus-claims>");
  expect(first).toContain(`repo:infra/volume.ts held by lima (token ${held.token}) until ${held.expires}: resizing the volume`);
  expect(results[0]).toMatch(/^claimed task:deploy-staging as kilo: token \d+, until .+Z\. Release it with the release tool when done\.$/);
  const mine = await lima.claims({ holder: "kilo" });
  expect(mine).toEqual([expect.objectContaining({ resource: "task:deploy-staging", note: "deploying" })]);
  expect(mine[0].token).toBeGreaterThan(held.token);
  expect(results[1]).toContain("Not claimed: another machine holds it.");
  expect(results[1]).toContain(`repo:infra/volume.ts held by lima (token ${held.token})`);
  expect(results[2]).toContain(`task:deploy-staging held by kilo (token ${mine[0].token})`);
  expect(results[2]).toContain("repo:infra/volume.ts held by lima");
  for (const text of results) expect(text).not.toContain(bus.pass);
});
