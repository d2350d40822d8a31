/** `claude-bus health | post | inbox | ack`: the seed's curl one-liners as commands. */
import * as path from "node:path";
import { allMessages, type BusClient, createBusClient, type Message, uploadAttachments, waitForReceipt } from "../../client/index";
import { DEFAULT_WAIT_READ_SECONDS } from "../../contract/defaults";
import { booleanOption, noPositionals, type ParsedCommand, stringOption } from "../args";
import { type CheckedFile, checkAttachments, personPolicy } from "../attachGuard";
import { connectionFlags, resolveConfig } from "../config";
import { withAttachmentNote } from "../delivery/attachments";
import { visible } from "../delivery/visible";
import { EXIT } from "../exitCodes";
import { type Io, UsageError } from "../io";
import { type ProgressBar, progressBar } from "../progressBar";
import { parseDuration } from "./membership";

export async function health(parsed: ParsedCommand<"health">, io: Io): Promise<number> {
  noPositionals("health", parsed);
  const cfg = await resolveConfig(connectionFlags(parsed), io);
  const answer = await createBusClient(cfg).health();
  io.out(booleanOption(parsed, "json") ? JSON.stringify(answer) : `ok: ${cfg.url} holds ${answer.count} messages (server time ${answer.now})`);
  return EXIT.ok;
}

export async function post(parsed: ParsedCommand<"post">, io: Io): Promise<number> {
  if (parsed.positionals.length > 1) throw new UsageError("post takes one BODY argument: quote it, or pipe the body on stdin");
  let body = parsed.positionals[0];
  if (body === undefined) {
    if (io.stdinIsTTY) throw new UsageError("post needs a BODY argument or the body on stdin");
    body = (await io.readStdin()).replace(/\r?\n$/, "");
  }
  if (body === "") throw new UsageError("post: the message body is empty");
  const reader = stringOption(parsed, "wait-read");
  const waitForText = stringOption(parsed, "wait-read-for");
  if (waitForText !== undefined && reader === undefined) throw new UsageError("post: --wait-read-for needs --wait-read NAME");
  const waitFor = waitForText === undefined ? DEFAULT_WAIT_READ_SECONDS : parseDuration(waitForText, "--wait-read-for");
  const cfg = await resolveConfig(connectionFlags(parsed), io);
  const tags = parsed.values.tag;
  const client = createBusClient(cfg);
  const files = await checkAttachments(parsed.values.attach ?? [], cfg, io.env, personPolicy(booleanOption(parsed, "allow-secret-path")));
  const attachments = await uploadWithProgress(client, files, io);
  const message = await client.post({ from: cfg.me, to: stringOption(parsed, "to"), body, tags, reply_to: stringOption(parsed, "reply-to"), attachments });
  io.out(
    booleanOption(parsed, "json")
      ? JSON.stringify(message)
      : visible(withAttachmentNote(`posted #${message.id} from ${message.from} to ${message.to}`, message)),
  );
  return reader === undefined ? EXIT.ok : awaitReceipt(client, message.id, reader, waitFor, io);
}

/** The receipt of `id` by `reader`, waited for up to `seconds`: said on stderr (stdout keeps the post's answer). */
async function awaitReceipt(client: BusClient, id: string, reader: string, seconds: number, io: Io): Promise<number> {
  const receipt = await waitForReceipt(client, id, reader, seconds);
  if (receipt.read_at === null) {
    io.err(`#${id} not read by ${reader} within ${seconds} s`);
    return EXIT.notYet;
  }
  io.err(`#${id} read by ${reader} at ${receipt.read_at}`);
  return EXIT.ok;
}

/** Uploads each --attach FILE, with a progress bar on a terminal. */
async function uploadWithProgress(client: BusClient, files: CheckedFile[], io: Io) {
  let bar: ProgressBar | undefined;
  try {
    return await uploadAttachments(client, files, {
      onProgress: (file) => {
        bar?.done();
        bar = progressBar(io, `uploading ${path.basename(file)}`);
        return bar.update;
      },
    });
  } finally {
    bar?.done();
  }
}

/** Unread messages to me (and broadcasts), oldest first, acked with one batch ack once all are printed. */
export async function inbox(parsed: ParsedCommand<"inbox">, io: Io): Promise<number> {
  noPositionals("inbox", parsed);
  const cfg = await resolveConfig(connectionFlags(parsed), io);
  const client = createBusClient(cfg);
  const unread: Message[] = [];
  for await (const message of allMessages(client, { to: cfg.me, unread_by: cfg.me })) unread.push(message);

  if (booleanOption(parsed, "json")) io.out(JSON.stringify(unread));
  else if (unread.length === 0) io.err(`no unread messages for ${cfg.me}`);
  else for (const m of unread) io.out(visible(withAttachmentNote(`[${m.ts}] ${m.from}: ${m.body}`, m), { lines: true }));

  if (!booleanOption(parsed, "no-ack"))
    await client.ackMany(
      unread.map((m) => m.id),
      cfg.me,
    );
  return EXIT.ok;
}

export async function ack(parsed: ParsedCommand<"ack">, io: Io): Promise<number> {
  if (parsed.positionals.length !== 1) throw new UsageError("ack takes exactly one message ID");
  const cfg = await resolveConfig(connectionFlags(parsed), io);
  const result = await createBusClient(cfg).ack(parsed.positionals[0], cfg.me);
  io.out(booleanOption(parsed, "json") ? JSON.stringify(result) : `${result.already ? "already acked" : "acked"} #${result.id} as ${result.reader}`);
  return EXIT.ok;
}
