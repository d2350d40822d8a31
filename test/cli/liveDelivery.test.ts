/**
 * The live delivery loop (cli/delivery/live.ts) against the real bus and a real unix socket standing in
 * for a Claude Code session's inbox (the protocol as measured: an auth line, then user lines): what is
 * written, in which frame, when it is acked, how ordinary messages batch and urgent ones do not, the
 * cursor it shares with the hooks, a refused write, a muted machine and the PostToolUse hook's fallback
 * rule. test/claude/live.test.ts does the same with the real Claude Code.
 */
import { promises as fs } from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { createBusClient, type Message } from "../../client/index";
import { deliverLive, type LiveEnd, type LiveOptions } from "../../cli/delivery/live";
import { liveMuted, setLive } from "../../cli/delivery/liveSwitch";
import { inboxLines, type SessionSocket } from "../../cli/delivery/sessionSocket";
import { SessionStore } from "../../cli/delivery/sessionState";
import { waitFor } from "../support/waitFor";
import { buildCli, envText, runCli, startTestBus, tempDir, type TestBus, writeHomeEnv } from "./harness";

jest.setTimeout(60_000);

const SESSION = "0b7d3f5e-1c2a-4e8f-9a6b-5d4c3b2a1f0e";
let bus: TestBus;
let dir: string;

beforeEach(async () => {
  [bus, dir] = await Promise.all([startTestBus(), tempDir("live")]);
});
afterEach(async () => {
  await bus.close();
  await fs.rm(dir, { recursive: true, force: true });
});

/** A session's inbox: every connection's lines, parsed, in order. */
async function inbox(token?: string) {
  const socketPath = path.join(dir, "inbox.sock");
  const writes: Array<Array<Record<string, any>>> = [];
  const server = net.createServer((conn) => {
    let text = "";
    conn.on("data", (d) => (text += d));
    conn.on("end", () =>
      writes.push(
        text
          .trim()
          .split("\n")
          .map((l) => JSON.parse(l)),
      ),
    );
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  const socket: SessionSocket = { path: socketPath, token };
  return { socket, writes, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

const client = () => createBusClient(bus);
const post = (body: string, extra: Partial<Message> = {}) => client().post({ from: "lima", to: "kilo", body, ...extra });
const unread = async () => (await client().messages({ to: "kilo", unread_by: "kilo" })).map((m) => m.body);

function run(socket: SessionSocket, extra: Partial<LiveOptions> = {}) {
  const controller = new AbortController();
  const store = new SessionStore(path.join(dir, "sessions"));
  const ended: Promise<LiveEnd> = deliverLive({
    sessionId: SESSION,
    socket,
    store,
    connect: async () => ({
      cfg: { url: bus.url, user: bus.user, pass: bus.pass, me: "kilo", envFile: "" },
      client: createBusClient({ ...bus, retry: { retries: 0, baseDelayMs: 0, maxDelayMs: 0 } }),
    }),
    muted: async () => false,
    held: () => false,
    signal: controller.signal,
    graceMs: 0,
    batchMs: 1_500,
    ...extra,
  });
  return { store, ended, stop: () => controller.abort() };
}

it("writes the auth line, then the messages as one user message in the hooks' frame; acks them after the write; moves the shared cursor", async () => {
  const session = await inbox("tok-123");
  const live = run(session.socket);
  try {
    const first = await post("first of a burst");
    const second = await post("second of a burst");
    await waitFor("one write", () => session.writes.length === 1, { timeoutMs: 20_000 });
    const [auth, user] = session.writes[0];
    expect(auth).toEqual({ type: "auth", token: "tok-123" });
    expect(user.type).toBe("user");
    expect(user.message.role).toBe("user");
    const text: string = user.message.content;
    expect(text).toMatch(/^<claude-bus-messages>\nWhat follows comes from other machines on the claude bus, not from the user/);
    expect(text).toContain(`<message id="${first.id}"`);
    expect(text).toContain(`<message id="${second.id}"`);
    await waitFor("both acked", async () => (await unread()).length === 0);
    expect((await live.store.load(SESSION)).cursor).toBe(second.id);
  } finally {
    live.stop();
    expect(await live.ended).toBe("closed");
    await session.close();
  }
});

it("an urgent message is written at once, without waiting for the batch window", async () => {
  const session = await inbox();
  // a window far longer than the test waits: only an urgent message can be written in time
  const live = run(session.socket, { batchMs: 600_000 });
  try {
    await post("urgent: stop the deploy", { tags: ["urgent"] });
    await waitFor("the urgent write", () => session.writes.length === 1, { timeoutMs: 20_000 });
    expect(session.writes[0]).toHaveLength(1); // no token: no auth line
    expect(session.writes[0][0].message.content).toContain("urgent: stop the deploy");
  } finally {
    live.stop();
    await live.ended;
    await session.close();
  }
});

it("what a hook delivered (the cursor moved past it) is not written again", async () => {
  const session = await inbox();
  const store = new SessionStore(path.join(dir, "sessions"));
  const taken = await post("taken by a hook");
  await store.save(SESSION, { cursor: taken.id });
  const live = run(session.socket);
  try {
    await post("after it", { tags: ["urgent"] });
    await waitFor("a write", () => session.writes.length === 1, { timeoutMs: 20_000 });
    expect(session.writes[0][0].message.content).not.toContain("taken by a hook");
    // the ack follows the write: what was written is acked, what the hook took is left as the hook left it
    await waitFor("the ack of what was written", async () => !(await unread()).includes("after it"), { timeoutMs: 20_000 });
    expect(await unread()).toEqual(["taken by a hook"]);
  } finally {
    live.stop();
    await live.ended;
    await session.close();
  }
});

it("a socket that refuses the write: nothing acked, the cursor unmoved, and the loop ends so the hooks take over", async () => {
  const live = run({ path: path.join(dir, "no-such.sock") });
  await post("nobody to take it", { tags: ["urgent"] });
  expect(await live.ended).toBe("refused");
  expect(await unread()).toEqual(["nobody to take it"]);
  expect((await live.store.load(SESSION)).cursor).toBeUndefined();
});

it("muted, or while one of the server's own tools runs, nothing is written until both end", async () => {
  const session = await inbox();
  let muted = true;
  let held = false;
  const live = run(session.socket, { muted: async () => muted, held: () => held });
  try {
    await post("while muted", { tags: ["urgent"] });
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(session.writes).toEqual([]);
    muted = false;
    held = true;
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(session.writes).toEqual([]);
    held = false;
    await waitFor("the write once free", () => session.writes.length === 1, { timeoutMs: 20_000 });
  } finally {
    live.stop();
    await live.ended;
    await session.close();
  }
});

it("the switch: `claude-bus live off|on`, overridden by BUS_LIVE", async () => {
  const cli = await buildCli();
  await writeHomeEnv(dir, envText(bus));
  expect((await runCli(cli, ["live"], { home: dir })).stdout).toMatch(/^live delivery: on;/);
  expect((await runCli(cli, ["live", "off"], { home: dir })).stdout).toMatch(/^live delivery: off; sessions hear the bus at session start and at each prompt/);
  expect(await liveMuted({}, dir)).toBe(true);
  expect(await liveMuted({ BUS_LIVE: "on" }, dir)).toBe(false);
  expect((await runCli(cli, ["live"], { home: dir, env: { BUS_LIVE: "on" } })).stdout).toMatch(/^live delivery: on \(BUS_LIVE=on in the environment decides\)/);
  await setLive(true, dir);
  expect(await liveMuted({}, dir)).toBe(false);
  expect(await liveMuted({ BUS_LIVE: "off" }, dir)).toBe(true);
  const wrong = await runCli(cli, ["live", "maybe"], { home: dir });
  expect(wrong.code).toBe(1);
  expect(wrong.stderr).toContain("live takes on, off, or nothing");
});

describe("the PostToolUse hook", () => {
  const SOCKET = "/tmp/claude-bus-test-inbox.sock";
  const toolHook = async (cli: string, env: Record<string, string> = {}) =>
    runCli(cli, ["hook"], { home: dir, stdin: JSON.stringify({ session_id: SESSION, hook_event_name: "PostToolUse", tool_name: "Bash" }), env });

  it("delivers as the fallback; returns at once, asking the bus nothing, while a live deliverer runs for the session or the machine is muted", async () => {
    const cli = await buildCli();
    await writeHomeEnv(dir, `${envText(bus)}BUS_ME=kilo\n`);
    const store = new SessionStore(path.join(dir, ".claude-bus", "sessions"));
    await post("mid-task news");
    // a live deliverer (this test's process) for the session's socket
    await store.markLive(SESSION, { pid: process.pid, socket: SOCKET });
    expect((await toolHook(cli, { CLAUDE_CODE_MESSAGING_SOCKET: SOCKET })).stdout).toBe("");
    await setLive(false, dir);
    expect((await toolHook(cli)).stdout).toBe("");
    expect(await unread()).toEqual(["mid-task news"]);
    await setLive(true, dir);
    // the marker names another socket (or a process that is gone): the hook delivers
    const out = JSON.parse((await toolHook(cli, { CLAUDE_CODE_MESSAGING_SOCKET: "/tmp/other.sock" })).stdout);
    expect(out.hookSpecificOutput.hookEventName).toBe("PostToolUse");
    expect(out.hookSpecificOutput.additionalContext).toContain("mid-task news");
    expect(await unread()).toEqual([]);
  });
});

it("inboxLines: the auth line only with a token, one JSON object a line", () => {
  expect(inboxLines({ path: "/x" }, 'a "quoted"\nline')).toBe(`{"type":"user","message":{"role":"user","content":"a \\"quoted\\"\\nline"}}\n`);
  expect(inboxLines({ path: "/x", token: "t" }, "hi").split("\n")).toEqual([
    '{"type":"auth","token":"t"}',
    '{"type":"user","message":{"role":"user","content":"hi"}}',
    "",
  ]);
});
