/** `claude-bus health | post | inbox | ack`: the seed's curl one-liners as commands. */
import { CONNECTION_OPTIONS, connectionFlags, parseCommand } from "./args";
import { resolveConfig } from "./config";
import { allMessages, createBusClient, Message } from "./index";
import { EXIT, Io, UsageError } from "./io";

export async function healthCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommand("health", argv, { ...CONNECTION_OPTIONS, json: { type: "boolean" } });
  noPositionals("health", positionals);
  const cfg = await resolveConfig(connectionFlags(values), io.env);
  const health = await createBusClient(cfg).health();
  io.out(values.json ? JSON.stringify(health) : `ok: ${cfg.url} holds ${health.count} messages (server time ${health.now})`);
  return EXIT.ok;
}

export async function postCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommand("post", argv, {
    ...CONNECTION_OPTIONS,
    to: { type: "string" },
    tag: { type: "string", multiple: true },
    json: { type: "boolean" },
  });
  if (positionals.length > 1) throw new UsageError("post takes one BODY argument: quote it, or pipe the body on stdin");
  let body = positionals[0];
  if (body === undefined) {
    if (io.stdinIsTTY) throw new UsageError("post needs a BODY argument or the body on stdin");
    body = (await io.readStdin()).replace(/\r?\n$/, "");
  }
  if (body === "") throw new UsageError("post: the message body is empty");
  const cfg = await resolveConfig(connectionFlags(values), io.env);
  const message = await createBusClient(cfg).post({ from: cfg.me, to: values.to, body, tags: values.tag });
  io.out(values.json ? JSON.stringify(message) : `posted #${message.id} from ${message.from} to ${message.to}`);
  return EXIT.ok;
}

/** The session-start poll: unread messages to me (and broadcasts), oldest first, each acked once shown. */
export async function inboxCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommand("inbox", argv, {
    ...CONNECTION_OPTIONS,
    "no-ack": { type: "boolean" },
    json: { type: "boolean" },
  });
  noPositionals("inbox", positionals);
  const cfg = await resolveConfig(connectionFlags(values), io.env);
  const client = createBusClient(cfg);
  const unread: Message[] = [];
  for await (const message of allMessages(client, { to: cfg.me, unread_by: cfg.me })) unread.push(message);

  if (values.json) io.out(JSON.stringify(unread));
  else if (unread.length === 0) io.err(`no unread messages for ${cfg.me}`);
  else for (const m of unread) io.out(`[${m.ts}] ${m.from}: ${m.body}`);

  if (!values["no-ack"]) {
    for (const m of unread) await client.ack(m.id, cfg.me);
  }
  return EXIT.ok;
}

export async function ackCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommand("ack", argv, { ...CONNECTION_OPTIONS, json: { type: "boolean" } });
  if (positionals.length !== 1) throw new UsageError("ack takes exactly one message ID");
  const cfg = await resolveConfig(connectionFlags(values), io.env);
  const result = await createBusClient(cfg).ack(positionals[0], cfg.me);
  io.out(values.json ? JSON.stringify(result) : `${result.already ? "already acked" : "acked"} #${result.id} as ${result.reader}`);
  return EXIT.ok;
}

export function noPositionals(command: string, positionals: string[]): void {
  if (positionals.length > 0) throw new UsageError(`${command} takes no arguments (got ${JSON.stringify(positionals[0])})`);
}
