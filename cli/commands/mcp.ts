/**
 * `claude-bus mcp`: an MCP server on stdio (the official SDK) that lets an agent use the bus with tool
 * calls instead of curl: send (with files attached, waiting for a receipt if asked), fetch (a message's
 * files), inbox, ack, thread, wait, who, and the claim tools of mcpClaims.ts (claim, release, claims).
 * The credential is read from the env file or the environment at each call and appears in no tool's
 * input or output; every failure is a tool error in words. Started by Claude Code inside a session, it
 * also delivers new messages into that session live (cli/delivery/live.ts).
 */
import * as path from "node:path";
import { z } from "zod";
import { MAX_ACK_BATCH, MAX_ATTACHMENTS, MAX_BODY_BYTES, MAX_TAGS, MAX_WAIT_SECONDS } from "../../contract/defaults";
import { MESSAGE_ID_PATTERN } from "../../contract/message";
import { NAME_PATTERN } from "../../contract/names";
import {
  type BusClient,
  createBusClient,
  type Message,
  type MessageQuery,
  saveAttachments,
  thread,
  uploadAttachments,
  waitForReceipt,
} from "../../client/index";
import { noPositionals, type ParsedCommand } from "../args";
import { agentPolicy, checkAttachments } from "../attachGuard";
import { type ClientConfig, type ConfigFlags, connectionFlags, resolveConfig } from "../config";
import { describeAttachment } from "../delivery/attachments";
import { escapeText, frameLines, frameMessages } from "../delivery/frame";
import { deliverLive } from "../delivery/live";
import { liveMuted } from "../delivery/liveSwitch";
import { sessionSocketFromEnv } from "../delivery/sessionSocket";
import { isSessionId, SessionStore, sessionsDir } from "../delivery/sessionState";
import type { Io } from "../io";
import { version } from "../main";
import { claimTools } from "./mcpClaims";

/** Characters one tool answer holds at most, frame included; messages that do not fit stay unread. */
export const TOOL_OUTPUT_BUDGET = 40_000;
/** The most characters of one (escaped) body a tool answer shows; the rest of a longer one is cut. */
export const TOOL_BODY_BUDGET = 30_000;
/** The longest `wait` a tool call may ask for, in seconds. */
export const MAX_TOOL_WAIT_SECONDS = 600;

const id = z.string().regex(MESSAGE_ID_PATTERN, "a message id: a positive decimal integer");
const name = z.string().regex(NAME_PATTERN, "a machine name: 1-64 letters, digits, '.', '_', '-' or '@'");

type ToolResult = { content: Array<{ type: "text"; text: string }>; isError?: boolean };
export const text = (t: string): ToolResult => ({ content: [{ type: "text", text: t }] });

export async function mcp(parsed: ParsedCommand<"mcp">, io: Io): Promise<number> {
  noPositionals("mcp", parsed);
  const { McpServer } = await import("@modelcontextprotocol/sdk/server/mcp.js");
  const { StdioServerTransport } = await import("@modelcontextprotocol/sdk/server/stdio.js");
  const flags = connectionFlags(parsed);
  const server = new McpServer({ name: "claude-bus", version: version() });
  const tools = busTools(flags, io);
  let running = 0;
  for (const [toolName, tool] of Object.entries(tools)) {
    server.registerTool(toolName, { description: tool.description, inputSchema: tool.input }, async (args: unknown) => {
      running++;
      try {
        return await tool.run(args as never);
      } catch (err) {
        // an error may quote what a sender wrote (a file name): escaped like every other answer
        return { ...text(`claude-bus ${toolName}: ${escapeText((err as Error).message)}`), isError: true };
      } finally {
        running--;
      }
    });
  }
  const transport = new StdioServerTransport();
  const closed = new Promise<void>((resolve) => (transport.onclose = resolve));
  await server.connect(transport);
  // the session gone (stdin at its end): the live delivery's timers and long-poll must not outlive it
  process.stdin.once("end", () => void transport.close());
  const live = startLive(flags, io, () => running > 0);
  await closed;
  if (live) {
    live.abort();
    // a long-poll in flight would keep the process for up to a minute after the session closed it
    setTimeout(() => process.exit(0), 200).unref();
  }
  return 0;
}

/**
 * Live delivery into the session that started this server, when Claude Code gave it an inbox socket and
 * a session id (not with --bare, nor in an older Claude Code, nor outside Claude Code); the hooks deliver
 * mid-task and on idle where it does not run. Returns the handle that stops it.
 */
function startLive(flags: ConfigFlags, io: Io, held: () => boolean): AbortController | undefined {
  const socket = sessionSocketFromEnv(io.env);
  const sessionId = io.env.CLAUDE_CODE_SESSION_ID;
  if (!socket || !isSessionId(sessionId)) return undefined;
  const store = new SessionStore(sessionsDir(), io.platform);
  const controller = new AbortController();
  const quiet = { ...io, err: () => undefined };
  const marker = { pid: process.pid, socket: socket.path };
  void (async () => {
    await store.markLive(sessionId, marker);
    const end = await deliverLive({
      sessionId,
      socket,
      store,
      connect: async () => {
        const cfg = await resolveConfig(flags, quiet);
        return { cfg, client: createBusClient({ ...cfg, retry: { retries: 0, baseDelayMs: 0, maxDelayMs: 0 } }) };
      },
      muted: () => liveMuted(io.env),
      held,
      signal: controller.signal,
    });
    // refused: the hooks deliver mid-task and on idle from now on; closed: the session is over
    await store.markLive(sessionId, undefined);
    if (end === "refused") io.err("claude-bus mcp: the session's inbox socket refused a write; the hooks deliver from now on");
  })().catch(() => store.markLive(sessionId, undefined).catch(() => undefined));
  return controller;
}

export interface Tool<S extends z.ZodRawShape> {
  description: string;
  input: S;
  run(args: z.infer<z.ZodObject<S>>): Promise<ToolResult>;
}
export const tool = <S extends z.ZodRawShape>(t: Tool<S>) => t;

/** The tools, each on a client made at call time (a rotated env file is picked up without a restart). */
export function busTools(flags: ConfigFlags, io: Io) {
  // stderr of an MCP server ends up in Claude Code's logs: the env-file mode warning belongs to bootstrap --check
  const connect = async (): Promise<{ cfg: ClientConfig; client: BusClient }> => {
    const cfg = await resolveConfig(flags, { ...io, err: () => undefined });
    return { cfg, client: createBusClient(cfg) };
  };
  return {
    send: tool({
      description:
        'Post a message on the claude bus to another machine (or "any" for everyone). Use reply_to to answer a message by its id, attach to send local files with it.',
      input: {
        to: name.or(z.literal("any")).optional().describe('recipient machine name, or "any" (the default) for a broadcast'),
        body: z.string().min(1).max(MAX_BODY_BYTES).describe("the message text (plain text, at most 64 KiB; never secrets)"),
        tags: z.array(z.string().min(1).max(32)).max(MAX_TAGS).optional().describe('short tags for filtering, e.g. ["deploy"]'),
        reply_to: id.optional().describe("id of the message this answers; the reply joins its thread"),
        attach: z
          .array(z.string().min(1))
          .max(MAX_ATTACHMENTS)
          .optional()
          .describe("local files to attach: absolute paths (relative ones are to this session's directory)"),
        wait_read: name.optional().describe("then wait until this machine has read (acked) it, and say when"),
        wait_read_seconds: z
          .number()
          .int()
          .min(1)
          .max(MAX_TOOL_WAIT_SECONDS)
          .optional()
          .describe(`how long wait_read waits (default ${MAX_TOOL_WAIT_SECONDS})`),
      },
      async run({ to, body, tags, reply_to, attach, wait_read, wait_read_seconds }) {
        const { cfg, client } = await connect();
        const attachments = await uploadAttachments(client, await checkAttachments(attach ?? [], cfg, io.env, await agentPolicy(io.env)));
        const m = await client.post({ from: cfg.me, to, body, tags, reply_to, attachments });
        const files = m.attachments ? `, with ${m.attachments.map(describeAttachment).join(", ")}` : "";
        const receipt = wait_read && (await receiptLine(client, m.id, wait_read, wait_read_seconds ?? MAX_TOOL_WAIT_SECONDS));
        return text(escapeText(`posted #${m.id} from ${m.from} to ${m.to} (thread #${m.thread})${files}${receipt ? `; ${receipt}` : ""}`));
      },
    }),
    fetch: tool({
      description: "Save every file attached to a message into a local directory (made if missing), each checked against its sha256.",
      input: {
        id: id.describe("the id of the message whose files to save"),
        dir: z.string().min(1).describe("the directory to save them in: an absolute path (a relative one is to this session's directory)"),
        force: z.boolean().optional().describe("replace files of the same names (else an existing file is never overwritten)"),
      },
      async run({ id: messageId, dir, force }) {
        const { client } = await connect();
        // never allowConfigNames: only the person, with the CLI's --allow-config-names, saves those
        const saved = await saveAttachments(client, messageId, path.resolve(dir), { force });
        const lines = saved.map(({ attachment, file }) => escapeText(`saved ${describeAttachment(attachment)} to ${file} (sha256 checked)`));
        return text(
          frameLines("claude-bus-files", `The files of message #${messageId}, saved; their names and contents are its sender's.`, lines, TOOL_OUTPUT_BUDGET),
        );
      },
    }),
    inbox: tool({
      description: "My unread messages on the claude bus, oldest first. They are marked read unless peek is true.",
      input: {
        peek: z.boolean().optional().describe("leave them unread"),
        limit: z.number().int().min(1).max(100).optional().describe("at most this many (default 20)"),
      },
      async run({ peek, limit }) {
        const { cfg, client } = await connect();
        const page = await client.page({ to: cfg.me, unread_by: cfg.me, limit: limit ?? 20 });
        return listAndAck(client, cfg.me, page.messages, {
          ack: !peek,
          intro: `My unread messages (I am ${cfg.me}), oldest first.`,
          note: page.more ? "more unread: call inbox again" : undefined,
        });
      },
    }),
    ack: tool({
      description: "Mark messages read on the claude bus by their ids.",
      input: { ids: z.array(id).min(1).max(MAX_ACK_BATCH).describe("message ids") },
      async run({ ids }) {
        const { cfg, client } = await connect();
        const r = await client.ackMany(ids, cfg.me);
        const part = (label: string, list: string[]) => (list.length ? [`${label}: ${list.join(", ")}`] : []);
        return text([...part("acked", r.acked), ...part("already read", r.already), ...part("no such message", r.unknown)].join("\n"));
      },
    }),
    thread: tool({
      description: "The whole conversation a message belongs to, oldest first (read only, acks nothing).",
      input: { id: id.describe("any message id of the conversation") },
      async run({ id: messageId }) {
        const { client } = await connect();
        const first = await client.message(messageId);
        if (!first) throw new Error(`no message #${messageId} on the bus`);
        const conversation = await thread(client, first.thread);
        return listAndAck(client, "", conversation, { ack: false, intro: `The conversation of thread #${first.thread}, oldest first.` });
      },
    }),
    wait: tool({
      description:
        "Wait up to `seconds` for a new unread message to me (optionally only from one machine, in one thread, or with one tag), " +
        "and return it as soon as it arrives, marked read. For asking another machine something and waiting for the answer.",
      input: {
        seconds: z.number().int().min(1).max(MAX_TOOL_WAIT_SECONDS).describe(`how long to wait, 1-${MAX_TOOL_WAIT_SECONDS}`),
        from: name.optional().describe("only a message from this machine"),
        thread: id.optional().describe("only a message in this thread (the id of its first message)"),
        tag: z.string().min(1).max(32).optional().describe("only a message with this tag"),
      },
      async run({ seconds, from, thread: threadId, tag }) {
        const { cfg, client } = await connect();
        const deadline = Date.now() + seconds * 1000;
        const query: MessageQuery = { to: cfg.me, unread_by: cfg.me, from, thread: threadId, tag, limit: 20 };
        for (;;) {
          const left = Math.ceil((deadline - Date.now()) / 1000);
          const messages = await client.messages({ ...query, wait: Math.max(0, Math.min(MAX_WAIT_SECONDS - 5, left)) });
          if (messages.length > 0) return listAndAck(client, cfg.me, messages, { ack: true, intro: `New messages to me (${cfg.me}).` });
          if (left <= 0 || Date.now() >= deadline) return text(`no message within ${seconds} s`);
        }
      },
    }),
    who: tool({
      description: "Every machine seen on the claude bus: when it last posted, acked and was seen, and how many messages it has unread.",
      input: {},
      async run() {
        const { client } = await connect();
        const machines = await client.machines();
        if (machines.length === 0) return text("no machine has used the bus yet");
        const lines = machines.map((m) =>
          escapeText(`${m.name}: last seen ${m.last_seen ?? "never"}, last post ${m.last_post ?? "never"}, ${m.unread} unread`),
        );
        return text(
          frameLines("claude-bus-machines", "Every machine seen on the bus; each name is chosen by whoever enrolled or used it.", lines, TOOL_OUTPUT_BUDGET),
        );
      },
    }),
    ...claimTools(connect),
  };
}

/** Whether `reader` read message `id` within `seconds`, in words. */
async function receiptLine(client: BusClient, id: string, reader: string, seconds: number): Promise<string> {
  const { read_at } = await waitForReceipt(client, id, reader, seconds);
  return read_at === null ? `not read by ${reader} within ${seconds} s` : `read by ${reader} at ${read_at}`;
}

/** Messages in the frame, within the output budget; those shown are acked when `ack` (the rest stay unread). */
async function listAndAck(client: BusClient, me: string, messages: Message[], o: { ack: boolean; intro: string; note?: string }): Promise<ToolResult> {
  if (messages.length === 0) return text("no unread messages");
  const framed = frameMessages(messages, {
    intro: o.intro,
    budget: TOOL_OUTPUT_BUDGET,
    bodyBudget: TOOL_BODY_BUDGET,
    more: (left) => [left > 0 ? `(${left} more not shown${o.ack ? ", left unread" : ""})` : "", o.note ? `(${o.note})` : ""].filter(Boolean).join("\n"),
    cutNote: "longer than one tool answer holds",
    deferToFit: true,
  });
  if (o.ack)
    await client.ackMany(
      framed.shown.map((m) => m.id),
      me,
    );
  return text(framed.text);
}
