/**
 * The "done when", with the real Claude Code in its interactive UI (a terminal of its own): after
 * `claude-bus bootstrap`, a message another machine posts while the session sits idle reaches the model
 * with nobody typing anything. Without the session inbox socket (hidden from claude-bus here, as a Claude
 * Code older than the socket would have it) the plugin's monitor (`claude-bus watch --new-only --framed`) wakes the session, and the prompt
 * hook delivers the message whole and acks it; with the socket the live path delivers it and the monitor
 * stays quiet, so the model reads it once.
 */
import { spawn } from "node:child_process";
import { promises as fs } from "node:fs";
import { createBusClient } from "../../client/index";
import { envText, startTestBus, tempDir, type TestBus, writeHomeEnv } from "../cli/harness";
import { startFlakyProxy } from "../support/flakyProxy";
import { requireTool } from "../support/requireTool";
import { waitFor } from "../support/waitFor";
import { CLAUDE_CODE_NEWEST, type ClaudeHome, claudeHome, hideInboxSocket, startInteractive, type Terminal } from "./claudeCode";
import { startScriptedModel } from "./scriptedModel";

jest.setTimeout(120_000);

let bus: TestBus;
let h: ClaudeHome;

beforeAll(() => {
  requireTool("tmux");
});
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
      env: { HOME: h.home, PATH: h.path, BUS_URL: bus.url, BUS_USER: bus.user, BUS_PASS: bus.pass },
      stdio: "ignore",
    });
    child.on("error", reject);
    child.on("close", resolve);
  });
}

it("without the inbox socket: the monitor wakes the idle session, the hook delivers the message, it is acked", async () => {
  expect(await bootstrap()).toBe(0);
  await hideInboxSocket(h);
  // the session reaches the bus through a recording proxy: the test sees when the monitor's long-poll is in
  const proxy = await startFlakyProxy(bus.url);
  await writeHomeEnv(h.home, `${envText({ url: proxy.url, user: bus.user, pass: bus.pass })}BUS_ME=kilo\n`);
  const model = await startScriptedModel(() => ({ text: "seen it" }));
  let terminal: Terminal | undefined;
  try {
    terminal = await startInteractive(h, model.url);
    await waitFor("the session at its prompt with the plugin's monitor running", () => /1 monitor/.test(terminal!.screen()), {
      timeoutMs: 60_000,
      everyMs: 250,
    });
    await waitFor("the monitor's long-poll", () => proxy.seen.some((r) => r.method === "GET" && /[?&]wait=/.test(r.path) && /[?&]to=kilo/.test(r.path)), {
      timeoutMs: 30_000,
    });
    expect(model.main()).toEqual([]);

    const posted = await createBusClient(bus).post({ from: "lima", to: "kilo", body: "the deploy is done, your turn" });
    const woke = await waitFor("a model request with the message", () => model.main().find((r) => r.text.includes("the deploy is done, your turn")), {
      timeoutMs: 60_000,
      everyMs: 250,
    });
    // the monitor's line, the message in the frame on one line, and the hook's whole message in the delimited block
    // Claude Code escapes the event's markup itself and shows its first 500 characters: the line fits whole
    expect(woke.text).not.toMatch(/<event>[^<]*\(truncated\)<\/event>/);
    expect(woke.text).toMatch(
      new RegExp(
        `<task-notification>[\\s\\S]*id=\\\\"${posted.id}\\\\" [^>]* from=\\\\"lima\\\\" sender=\\\\"claimed\\\\" to=\\\\"kilo\\\\"(>|&gt;) the deploy is done, your turn`,
      ),
    );
    expect(woke.text).toContain(`<message id=\\"${posted.id}\\"`);
    await waitFor("the message acked", async () => (await createBusClient(bus).messages({ to: "kilo", unread_by: "kilo" })).length === 0, {
      timeoutMs: 30_000,
    });
    await waitFor("the answer on screen", () => terminal!.screen().includes("seen it"), { timeoutMs: 30_000 });
  } finally {
    await terminal?.close();
    await model.close();
    await proxy.close();
  }
});

it(`Claude Code ${CLAUDE_CODE_NEWEST}: the live path wakes the idle session with the message once, the monitor stays quiet, it is acked`, async () => {
  expect(await bootstrap()).toBe(0);
  const model = await startScriptedModel(() => ({ text: "seen it" }));
  let terminal: Terminal | undefined;
  try {
    terminal = await startInteractive(h, model.url, CLAUDE_CODE_NEWEST);
    await waitFor("the session at its prompt with the plugin's monitor running", () => /1 monitor/.test(terminal!.screen()), {
      timeoutMs: 60_000,
      everyMs: 250,
    });
    await waitFor("the live marker", async () => (await fs.readdir(`${h.home}/.claude-bus/sessions`).catch(() => [])).some((f) => f.endsWith(".live.json")), {
      timeoutMs: 30_000,
    });
    const posted = await createBusClient(bus).post({ from: "lima", to: "kilo", body: "interactive and live", tags: ["urgent"] });
    const woke = await waitFor("a model request with the message", () => model.main().find((r) => r.text.includes("interactive and live")), {
      timeoutMs: 60_000,
      everyMs: 250,
    });
    expect(woke.text).toContain(`<message id=\\"${posted.id}\\"`);
    expect(woke.text).not.toContain("<task-notification>");
    expect(woke.text.split("interactive and live")).toHaveLength(2);
    await waitFor("the message acked", async () => (await createBusClient(bus).messages({ to: "kilo", unread_by: "kilo" })).length === 0, {
      timeoutMs: 30_000,
    });
    await waitFor("the answer on screen", () => terminal!.screen().includes("seen it"), { timeoutMs: 30_000 });
  } finally {
    await terminal?.close();
    await model.close();
  }
});
