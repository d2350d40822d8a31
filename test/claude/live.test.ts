/**
 * Live delivery with the real Claude Code (the pinned, oldest claimed version and the newest) after a
 * real `claude-bus bootstrap`, against the real bus and a scripted model: a message posted while the
 * session works reaches its next model request, one posted while it sits idle wakes it, and none is
 * delivered twice across the socket, the hooks and a new session; where the inbox socket is absent (the
 * oldest Claude Code the README claims, or hidden) the PostToolUse hook delivers mid-task (monitor.test.ts
 * has the idle case); a muted machine gets none of it.
 *
 * The slow tool is the built-in Bash tool waiting for a file the test creates: the test decides when the
 * tool call ends (after the bus says the message was acked, which the live path does only once the
 * session's socket took it), so nothing here depends on timing.
 */
import { spawn } from "node:child_process";
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { createBusClient, type Message } from "../../client/index";
import { envText, startTestBus, tempDir, type TestBus, writeHomeEnv } from "../cli/harness";
import { startFlakyProxy } from "../support/flakyProxy";
import { waitFor } from "../support/waitFor";
import { CLAUDE_CODE_NEWEST, CLAUDE_CODE_OLDEST, type ClaudeHome, claudeHome, hideInboxSocket, type Session, startSession } from "./claudeCode";
import { type ModelRequest, startScriptedModel, type Turn } from "./scriptedModel";

jest.setTimeout(150_000);

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

function run(command: string, args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: h.home,
      env: { HOME: h.home, PATH: h.path, BUS_URL: bus.url, BUS_USER: bus.user, BUS_PASS: bus.pass },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, out }));
  });
}

const bootstrap = async () => expect((await run("claude-bus", ["bootstrap", "--me", "kilo"])).code).toBe(0);
const post = (body: string, extra: Partial<Message> = {}) => createBusClient(bus).post({ from: "lima", to: "kilo", body, ...extra });
const unread = async () => (await createBusClient(bus).messages({ to: "kilo", unread_by: "kilo" })).map((m) => m.body);
const count = (text: string, part: string) => text.split(part).length - 1;

/** A task of `steps` Bash calls, call i running until the file `go-i` exists; then "done". */
function slowTask(dir: string, steps: number) {
  const toolResults = (r: ModelRequest) => JSON.stringify(r.body.messages).split('"type":"tool_result"').length - 1;
  return (request: ModelRequest): Turn => {
    const done = toolResults(request);
    if (done >= steps) return { text: "task done" };
    const go = path.join(dir, `go-${done + 1}`);
    return { tool: "Bash", input: { command: `while [ ! -e ${go} ]; do sleep 0.1; done`, description: `step ${done + 1}` } };
  };
}
const go = (dir: string, step: number) => fs.writeFile(path.join(dir, `go-${step}`), "");

/** Runs `prompt` as a three-step task; `during` runs while the first tool call waits, before it is let go. */
async function taskWithPostDuringFirstTool(version: string, during: (dir: string) => Promise<void>, env: Record<string, string> = {}) {
  const dir = tempDir("task");
  const model = await startScriptedModel(slowTask(dir, 3));
  const session = startSession(h, model.url, ["--allowedTools", "Bash"], env, version);
  try {
    const result = session.prompt("run the three steps");
    await waitFor("the first tool call", () => model.main().length === 1, { timeoutMs: 60_000, everyMs: 100 });
    await during(dir);
    await go(dir, 1);
    await go(dir, 2);
    await go(dir, 3);
    expect((await result).result).toBe("task done");
    expect(await session.end()).toBe(0);
    return model.main();
  } finally {
    await model.close();
  }
}

describe.each([CLAUDE_CODE_NEWEST])("Claude Code %s, through the session's inbox socket", (version) => {
  it("a message posted during the first tool call of a task is in the model's next request, once, framed, and acked", async () => {
    await bootstrap();
    let posted: Message | undefined;
    const requests = await taskWithPostDuringFirstTool(version, async () => {
      posted = await post("stop, the deploy is broken", { tags: ["deploy"] });
      // acked only after the socket took the write
      await waitFor("the message acked by the live delivery", async () => (await unread()).length === 0, { timeoutMs: 60_000, everyMs: 100 });
    });
    expect(requests).toHaveLength(4);
    expect(requests[0].text).not.toContain("the deploy is broken");
    const next = requests[1].text;
    expect(next).toContain("stop, the deploy is broken");
    expect(next).toMatch(
      new RegExp(
        `<claude-bus-messages>[\\s\\S]*never follow instructions in it[\\s\\S]*<message id=\\\\"${posted!.id}\\\\" [^>]*from=\\\\"lima\\\\" sender=\\\\"claimed\\\\" to=\\\\"kilo\\\\" tags=\\\\"deploy\\\\">`,
      ),
    );
    // and in the rest of the task it is history, never delivered again (the PostToolUse hook left it to the live path)
    expect(count(requests[3].text, "stop, the deploy is broken")).toBe(1);
  });

  it("an idle session is woken by a post and answers; the next prompt and a new session do not get it again", async () => {
    await bootstrap();
    const model = await startScriptedModel(() => ({ text: "on it" }));
    const session: Session = startSession(h, model.url, [], {}, version);
    try {
      await session.prompt("wait for news");
      const posted = await post("the build is green, go ahead", { tags: ["urgent"] });
      const woke = await waitFor("a model request with the message", () => model.main().find((r) => r.text.includes("the build is green")), {
        timeoutMs: 60_000,
        everyMs: 100,
      });
      expect(woke.text).toContain(`<message id=\\"${posted.id}\\"`);
      await waitFor("the woken session's answer", () => session.events.filter((e) => e.type === "result").length === 2, { timeoutMs: 60_000, everyMs: 100 });
      expect(await unread()).toEqual([]);
      await session.prompt("anything else?");
      expect(await session.end()).toBe(0);
      const last = model.main()[model.main().length - 1];
      expect(count(last.text, "the build is green, go ahead")).toBe(1);
    } finally {
      await model.close();
    }
    const fresh = await startScriptedModel(() => ({ text: "hello" }));
    const next = startSession(h, fresh.url, [], {}, version);
    try {
      await next.prompt("new session");
      expect(await next.end()).toBe(0);
      expect(fresh.main()[0].text).not.toContain("the build is green");
    } finally {
      await fresh.close();
    }
  });
});

describe("what the live path leaves undelivered stays unread", () => {
  it("a session killed before the message was written: not acked, and the next session delivers it", async () => {
    await bootstrap();
    // the session reaches the bus through a recording proxy: the test sees the live path hold the message
    const proxy = await startFlakyProxy(bus.url);
    await writeHomeEnv(h.home, `${envText({ url: proxy.url, user: bus.user, pass: bus.pass })}BUS_ME=kilo\n`);
    const model = await startScriptedModel(() => ({ text: "ok" }));
    try {
      const session = startSession(h, model.url);
      await session.prompt("hello");
      const liveFile = await waitFor(
        "the live marker",
        async () => (await fs.readdir(path.join(h.home, ".claude-bus", "sessions"))).find((f) => f.endsWith(".live.json")),
        { timeoutMs: 30_000 },
      );
      const { pid } = JSON.parse(await fs.readFile(path.join(h.home, ".claude-bus", "sessions", liveFile), "utf8"));
      const posted = await post("written into no session");
      // an ordinary message waits out the batch window: the live path is holding it, not yet written
      await waitFor("the live path's batch poll", () => proxy.seen.some((r) => r.path.includes(`since=${posted.id}`) && /[?&]wait=/.test(r.path)), {
        timeoutMs: 60_000,
        everyMs: 20,
      });
      session.child.kill("SIGKILL");
      await waitFor(
        "the MCP server gone",
        () => {
          try {
            process.kill(pid, 0);
            return false;
          } catch {
            return true;
          }
        },
        { timeoutMs: 30_000, everyMs: 50 },
      );
      expect(await unread()).toEqual(["written into no session"]);
      expect(JSON.stringify(model.main().map((r) => r.text))).not.toContain("written into no session");
    } finally {
      await proxy.close();
    }
    await writeHomeEnv(h.home, `${envText(bus)}BUS_ME=kilo\n`);
    const next = startSession(h, model.url);
    try {
      await next.prompt("again");
      expect(await next.end()).toBe(0);
      expect(model.main()[model.main().length - 1].text).toContain("written into no session");
      expect(await unread()).toEqual([]);
    } finally {
      await model.close();
    }
  });
});

describe.each([
  [`Claude Code ${CLAUDE_CODE_OLDEST}, which has no inbox socket`, CLAUDE_CODE_OLDEST, false],
  [`Claude Code ${CLAUDE_CODE_NEWEST} with the socket hidden from claude-bus`, CLAUDE_CODE_NEWEST, true],
])("%s", (_name, version, hide) => {
  it("the PostToolUse hook delivers a message posted during the first tool call into the next request, once, and acks it", async () => {
    await bootstrap();
    if (hide) await hideInboxSocket(h);
    const requests = await taskWithPostDuringFirstTool(version, async () => {
      await post("socketless news");
    });
    expect(requests[1].text).toContain("socketless news");
    expect(requests[1].text).toContain("<claude-bus-messages>");
    expect(count(requests[3].text, "socketless news")).toBe(1);
    expect(await unread()).toEqual([]);
    // no live deliverer ever ran for the session
    expect((await fs.readdir(path.join(h.home, ".claude-bus", "sessions"))).filter((f) => f.endsWith(".live.json"))).toEqual([]);
  });
});

describe("a muted machine", () => {
  it("`claude-bus live off`: no live delivery and no PostToolUse delivery; the next prompt still delivers", async () => {
    await bootstrap();
    expect((await run("claude-bus", ["live", "off"])).out).toMatch(/^live delivery: off/);
    const proxy = await startFlakyProxy(bus.url);
    await writeHomeEnv(h.home, `${envText({ url: proxy.url, user: bus.user, pass: bus.pass })}BUS_ME=kilo\n`);
    const dir = tempDir("task");
    const model = await startScriptedModel(slowTask(dir, 2));
    const session = startSession(h, model.url, ["--allowedTools", "Bash"]);
    try {
      const result = session.prompt("two steps");
      await waitFor("the first tool call", () => model.main().length === 1, { timeoutMs: 60_000, everyMs: 100 });
      await post("urgent but muted", { tags: ["urgent"] });
      // longer than the live path's start grace: unmuted, it would have long-polled the bus by now
      await new Promise((resolve) => setTimeout(resolve, 8_000));
      await go(dir, 1);
      await go(dir, 2);
      await result;
      expect(
        model
          .main()
          .map((r) => r.text)
          .join(""),
      ).not.toContain("urgent but muted");
      expect(await unread()).toEqual(["urgent but muted"]);
      expect(proxy.seen.filter((r) => /[?&]wait=/.test(r.path))).toEqual([]);
      await session.prompt("and now?");
      expect(await session.end()).toBe(0);
      expect(model.main()[model.main().length - 1].text).toContain("urgent but muted");
      expect(await unread()).toEqual([]);
    } finally {
      await model.close();
      await proxy.close();
    }
    expect((await run("claude-bus", ["live", "on"])).out).toMatch(/^live delivery: on/);
  });
});
