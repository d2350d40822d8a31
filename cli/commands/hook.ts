/**
 * `claude-bus hook`: the Claude Code plugin's SessionStart and UserPromptSubmit hook. It reads the event
 * on stdin, asks the bus for my unread messages newer than this session's cursor, and prints Claude Code's
 * hook JSON: the messages as additionalContext, one line for the person as systemMessage.
 *
 * Delivery and ack, in this order: the output is written whole, then the session's cursor moves past
 * what was shown, then one batch ack marks read the messages shown whole, then exit 0. Killed before the
 * cursor moves, the next prompt delivers the same messages again (Claude Code dropped the output); killed
 * before the ack, they stay unread for the next session. A bus that is down, slow or rejecting the
 * credential never blocks or fails the prompt: the hook gives up at its own deadline, far below Claude
 * Code's timeout, and says so at most once per session.
 */
import { createBusClient, Message } from "../../client/index";
import { noPositionals, ParsedCommand } from "../args";
import { ClientConfig, connectionFlags, resolveConfig } from "../config";
import { renderDelivery } from "../delivery/render";
import { isSessionId, SessionState, SessionStore, sessionsDir } from "../delivery/sessionState";
import { EXIT } from "../exitCodes";
import { Io } from "../io";

/** The hook's whole run, in ms; plugin/hooks/hooks.json gives Claude Code's timeout, several times longer. */
export const HOOK_DEADLINE_MS = 3_000;
/** The most messages one delivery asks the bus for: more than fit the context budget anyway. */
const FETCH_LIMIT = 100;

const EVENTS = ["SessionStart", "UserPromptSubmit"] as const;
type HookEvent = (typeof EVENTS)[number];

interface HookInput {
  session_id?: unknown;
  hook_event_name?: unknown;
}

export async function hook(parsed: ParsedCommand<"hook">, io: Io): Promise<number> {
  noPositionals("hook", parsed);
  const started = Date.now();
  let writing = false;
  // The hard deadline: whatever is still pending, the prompt goes on without it. Caught mid-output (Claude
  // Code stopped reading) it exits 1, so Claude Code drops the partial JSON instead of showing it as text.
  setTimeout(() => process.exit(writing ? EXIT.failure : EXIT.ok), HOOK_DEADLINE_MS).unref();
  const remaining = () => Math.max(1, HOOK_DEADLINE_MS - (Date.now() - started));

  const input = parseInput(await io.readStdin());
  const event: HookEvent = EVENTS.find((e) => e === input.hook_event_name) ?? "UserPromptSubmit";
  const sessionId = isSessionId(input.session_id) ? input.session_id : undefined;
  const store = new SessionStore(sessionsDir(), io.platform);
  // a new session, or a cleared or compacted one, starts from everything unread
  const state: SessionState = sessionId && event !== "SessionStart" ? await store.load(sessionId) : {};
  if (event === "SessionStart") await store.prune();

  let page: { messages: Message[]; more: boolean };
  let cfg: ClientConfig;
  try {
    // the hook's stderr reaches no one: a warning about the env file's mode waits for `bootstrap --check`
    cfg = await resolveConfig(connectionFlags(parsed), { ...io, err: () => undefined });
    page = await client(cfg, remaining()).page({ to: cfg.me, unread_by: cfg.me, since: state.cursor, limit: FETCH_LIMIT });
  } catch (err) {
    if (!state.noticeShown) {
      writing = true;
      await io.out(JSON.stringify({ systemMessage: `claude-bus: no messages this time: ${(err as Error).message}` }));
      writing = false;
      if (sessionId) await store.save(sessionId, { ...state, noticeShown: true });
    }
    return EXIT.ok;
  }

  const delivery = renderDelivery(page.messages, cfg.me, { moreOnBus: page.more });
  if (!delivery) return EXIT.ok;
  writing = true;
  await io.out(
    JSON.stringify({
      hookSpecificOutput: { hookEventName: event, additionalContext: delivery.context },
      systemMessage: delivery.systemMessage,
    }),
  );
  writing = false;
  if (sessionId) await store.save(sessionId, { cursor: delivery.shown[delivery.shown.length - 1].id, noticeShown: state.noticeShown });
  if (delivery.whole.length > 0) {
    await client(cfg, remaining())
      .ackMany(delivery.whole.map((m) => m.id), cfg.me)
      .catch(() => undefined); // not acked: they stay unread and come again in the next session
  }
  return EXIT.ok;
}

/** No retries: within the deadline a second try would only make the prompt wait longer. */
function client(cfg: ClientConfig, timeoutMs: number) {
  return createBusClient({ ...cfg, timeoutMs, retry: { retries: 0, baseDelayMs: 0, maxDelayMs: 0 } });
}

function parseInput(text: string): HookInput {
  try {
    const value = JSON.parse(text) as unknown;
    return typeof value === "object" && value !== null ? (value as HookInput) : {};
  } catch {
    return {};
  }
}
