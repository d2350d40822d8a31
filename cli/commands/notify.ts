/**
 * `claude-bus notify set URL [--token-file F] [--mode ping|first-line] | show | off`: this credential's
 * own phone notifications through ntfy (PUT, GET, DELETE /settings/notify). The access token comes from
 * a file, never the command line (argv is visible to every user), and is never printed.
 */
import { promises as fs } from "node:fs";
import { createBusClient } from "../../client/index";
import { NOTIFY_MODES, NotifyMode, NotifySettingsView } from "../../contract/notify";
import { booleanOption, ParsedCommand, stringOption } from "../args";
import { connectionFlags, resolveConfig } from "../config";
import { EXIT } from "../exitCodes";
import { Io, UsageError } from "../io";

const describe = (s: NotifySettingsView) => `notifications: ${s.mode === "ping" ? "a ping only" : "sender and first line"} to ${s.url} (${s.token_set ? "with" : "without"} an access token)`;

export async function notify(parsed: ParsedCommand<"notify">, io: Io): Promise<number> {
  const [action, ...rest] = parsed.positionals;
  const expected = { set: 1, show: 0, off: 0 }[action as "set" | "show" | "off"];
  if (expected === undefined || rest.length !== expected) throw new UsageError("notify takes: set URL, show, or off");
  const mode = stringOption(parsed, "mode") ?? "ping";
  if (!(NOTIFY_MODES as readonly string[]).includes(mode)) throw new UsageError(`--mode must be ping or first-line, got ${JSON.stringify(mode)}`);
  const tokenFile = stringOption(parsed, "token-file");
  if (action !== "set" && (tokenFile !== undefined || stringOption(parsed, "mode") !== undefined)) throw new UsageError("--token-file and --mode go with notify set");
  const token = tokenFile === undefined ? undefined : (await fs.readFile(tokenFile, "utf8")).trim();
  if (token === "") throw new UsageError(`${tokenFile} is empty: it should hold the ntfy access token (tk_...)`);
  const client = createBusClient(await resolveConfig(connectionFlags(parsed), io));
  const json = booleanOption(parsed, "json");
  if (action === "set") {
    // Without --token-file, no token: a topic that needs none (a token set before is removed).
    const answer = await client.setNotify({ url: rest[0], mode: mode as NotifyMode, token: token ?? null });
    io.out(json ? JSON.stringify(answer) : describe(answer));
  } else if (action === "show") {
    const answer = await client.notifySettings();
    io.out(json ? JSON.stringify(answer) : answer ? describe(answer) : "notifications: off");
  } else {
    const removed = await client.removeNotify();
    io.out(json ? JSON.stringify({ removed }) : removed ? "notifications: off now" : "notifications: were off already");
  }
  return EXIT.ok;
}
