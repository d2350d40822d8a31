/**
 * `claude-bus watch`: each new message to me, printed as one line the moment it arrives. A long-poll
 * (GET /messages?wait=) from a cursor, the last id handled, which is saved after every message: after
 * a dropped connection, a bus restart or a restart of watch itself it goes on after that id, so no
 * message is lost. Saved after the message is handled, never before: watch killed in between handles that
 * one message again on its next start (at least once, as nothing can know whether a reader saw it).
 * `--exec CMD` runs CMD per message, one at a time. `--framed` prints each as the one-line frame an agent
 * reads (the plugin's monitor), and prints nothing while the session it runs in has live delivery (the
 * model hears each message once); else the line is for a person, every hidden or control character in it
 * made a visible escape.
 */
import { spawn } from "node:child_process";
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { MAX_WAIT_SECONDS } from "../../contract/defaults";
import { AuthError, createBusClient, type Message, type MessageQuery } from "../../client/index";
import { backoffMs, type RetryPolicy } from "../../client/retry";
import { booleanOption, noPositionals, type ParsedCommand, stringOption } from "../args";
import { writeFileDurably } from "../../contract/durableFile";
import { type ClientConfig, connectionFlags, resolveConfig } from "../config";
import { withAttachmentNote } from "../delivery/attachments";
import { frameMessages } from "../delivery/frame";
import { renderDelivery } from "../delivery/render";
import { SessionStore, sessionsDir } from "../delivery/sessionState";
import { visible } from "../delivery/visible";
import { type Io, UsageError } from "../io";

/** Each long-poll waits this long, a little under the bus's maximum. */
const WAIT_SECONDS = MAX_WAIT_SECONDS - 5;
/** Messages asked for per poll. */
const PAGE = 100;
/** The longest one line shows of a body. */
const LINE_BODY_CHARS = 1_000;
/** The longest --framed line: Claude Code shows the first 500 characters of a monitor's event. */
const FRAMED_LINE_BUDGET = 500;
/** Reconnecting: jittered waits doubling from 0.5 s up to 30 s. */
const RECONNECT: RetryPolicy = { retries: Infinity, baseDelayMs: 500, maxDelayMs: 30_000 };

export async function watch(parsed: ParsedCommand<"watch">, io: Io): Promise<number> {
  noPositionals("watch", parsed);
  const newOnly = booleanOption(parsed, "new-only");
  if (newOnly && stringOption(parsed, "cursor")) throw new UsageError("watch: --new-only keeps no cursor file, so it takes no --cursor");
  let cfg = await resolveConfig(connectionFlags(parsed), io);
  const connect = (c: ClientConfig) => createBusClient({ ...c, retry: { retries: 0, baseDelayMs: 0, maxDelayMs: 0 } });
  let client = connect(cfg);
  const cursorFile = newOnly ? undefined : path.resolve(stringOption(parsed, "cursor") ?? path.join(os.homedir(), ".claude-bus", `watch-${cfg.me}.cursor`));
  const exec = stringOption(parsed, "exec");
  const framed = booleanOption(parsed, "framed");
  const liveSessions = new SessionStore(sessionsDir(), io.platform);
  const show = framed ? framedLine : oneLine;
  let cursor = cursorFile ? await readCursor(cursorFile) : undefined;
  // --new-only: what was posted before it started (by the bus's clock) is skipped, and only that
  const startedAt = newOnly ? (await client.health()).now : undefined;

  for (let failures = 0; ; ) {
    // no cursor yet: start from what is unread, then follow ids
    const query: MessageQuery = cursor ? { to: cfg.me, since: cursor } : { to: cfg.me, unread_by: cfg.me };
    let messages: Message[];
    try {
      messages = (await client.page({ ...query, limit: PAGE, wait: WAIT_SECONDS })).messages;
      if (failures > 0) io.err(`claude-bus watch: connected again to ${cfg.url}`);
      failures = 0;
    } catch (err) {
      if (err instanceof AuthError) {
        // A rotation on this machine (claude-bus rotate) rewrote the env file: go on with what it holds now.
        const fresh = await resolveConfig(connectionFlags(parsed), { ...io, err: () => undefined });
        if (fresh.user === cfg.user && fresh.pass === cfg.pass) throw err; // waiting will not fix it
        io.err(`claude-bus watch: the credential changed in ${fresh.envFile}; going on with it`);
        cfg = fresh;
        client = connect(cfg);
        continue;
      }
      const delay = backoffMs(RECONNECT, ++failures);
      io.err(`claude-bus watch: ${(err as Error).message}; trying again in ${(delay / 1000).toFixed(1)} s`);
      await new Promise((resolve) => setTimeout(resolve, delay));
      continue;
    }
    // the plugin's monitor stays quiet while the live path delivers into its session: the model hears each message once
    const quiet = framed && !exec && io.env.CLAUDE_CODE_MESSAGING_SOCKET ? await liveSessions.liveThrough(io.env.CLAUDE_CODE_MESSAGING_SOCKET) : false;
    for (const message of messages) {
      if (message.from !== cfg.me && !(startedAt && message.ts <= startedAt) && !quiet) {
        await io.out(show(message));
        if (exec) await runExec(exec, message, framed ? renderDelivery([message], cfg.me)?.context : undefined, io);
      }
      cursor = message.id;
      if (cursorFile) await writeCursor(cursorFile, cursor);
    }
  }
}

/**
 * `[ts] #id from -> to [tags] (re #n): body (files attached: ...)` for a person: the body on one line and cut
 * at LINE_BODY_CHARS, control and hidden characters shown as escapes (a body cannot drive the terminal).
 */
export function oneLine(m: Message): string {
  const flat = visible(m.body.replace(/\r?\n/g, " ⏎ "));
  const body = flat.length > LINE_BODY_CHARS ? `${flat.slice(0, LINE_BODY_CHARS)}… (${flat.length - LINE_BODY_CHARS} more characters)` : flat;
  const tags = m.tags.length ? ` [${m.tags.join(",")}]` : "";
  const re = m.reply_to ? ` (re #${m.reply_to})` : "";
  return visible(withAttachmentNote(`[${m.ts}] #${m.id} ${m.from} -> ${m.to}${tags}${re}: ${body}`, m));
}

/** One message in the frame an agent reads, on one line (a monitor turns each line into a notification). */
export function framedLine(m: Message): string {
  return frameMessages([m], {
    intro: "",
    budget: FRAMED_LINE_BUDGET,
    bodyBudget: LINE_BODY_CHARS,
    more: () => "",
    cutNote: "the hook or the bus `inbox` tool shows it whole",
    oneLine: true,
  }).text;
}

/**
 * CMD through the platform's shell, the message as JSON on stdin (or, with --framed, in the frame an agent
 * reads), its id, sender and thread in BUS_MESSAGE_ID, BUS_MESSAGE_FROM and BUS_MESSAGE_THREAD (a name
 * and two numbers: nothing a shell would read as code), without the bus password in its environment.
 */
function runExec(command: string, message: Message, frame: string | undefined, io: Io): Promise<void> {
  const env: NodeJS.ProcessEnv = { ...io.env, BUS_MESSAGE_ID: message.id, BUS_MESSAGE_FROM: message.from, BUS_MESSAGE_THREAD: message.thread };
  delete env.BUS_PASS;
  delete env.BUS_PASS_PREVIOUS;
  return new Promise((resolve) => {
    const child = spawn(command, { shell: true, env, stdio: ["pipe", "inherit", "inherit"] });
    child.on("error", (err) => {
      io.err(`claude-bus watch: --exec for #${message.id} could not start: ${err.message}`);
      resolve();
    });
    child.on("close", (code, signal) => {
      if (code !== 0) io.err(`claude-bus watch: --exec for #${message.id} failed (${signal ?? `exit ${code}`})`);
      resolve();
    });
    child.stdin.on("error", () => undefined); // a command that does not read its stdin
    child.stdin.end(`${frame ?? JSON.stringify(message)}\n`);
  });
}

async function readCursor(file: string): Promise<string | undefined> {
  const text = (await fs.readFile(file, "utf8").catch(() => "")).trim();
  return /^\d{1,16}$/.test(text) ? text : undefined;
}

async function writeCursor(file: string, id: string): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  await writeFileDurably(file, `${id}\n`, { mode: 0o600 });
}
