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
import { Claim, createBusClient, Message } from "../../client/index";
import { noPositionals, ParsedCommand } from "../args";
import { ClientConfig, connectionFlags, resolveConfig } from "../config";
import { renderClaims } from "../delivery/claimsNote";
import { CONTEXT_BUDGET, renderDelivery } from "../delivery/render";
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
  let claims: Claim[] = [];
  try {
    // the hook's stderr reaches no one: a warning about the env file's mode waits for `bootstrap --check`
    cfg = await resolveConfig(connectionFlags(parsed), { ...io, err: () => undefined });
    const bus = client(cfg, remaining());
    // at a session's start, what others hold too (a bus without claims answers 404: nothing to say then)
    const held = event === "SessionStart" ? bus.claims().catch(() => []) : Promise.resolve([]);
    [page, claims] = await Promise.all([bus.page({ to: cfg.me, unread_by: cfg.me, since: state.cursor, limit: FETCH_LIMIT }), held]);
  } catch (err) {
    if (!state.noticeShown) {
      writing = true;
      await io.out(JSON.stringify({ systemMessage: `claude-bus: no messages this time: ${(err as Error).message}` }));
      writing = false;
      if (sessionId) await store.save(sessionId, { ...state, noticeShown: true });
    }
    return EXIT.ok;
  }

  // the claims note and the messages share Claude Code's cap on one hook's context
  const claimsNote = renderClaims(claims, cfg.me);
  const delivery = renderDelivery(page.messages, cfg.me, { moreOnBus: page.more, budget: CONTEXT_BUDGET - (claimsNote ? claimsNote.context.length + 1 : 0) });
  if (!delivery && !claimsNote) return EXIT.ok;
  const parts = [delivery, claimsNote].filter((part) => part !== undefined);
  writing = true;
  await io.out(
    JSON.stringify({
      hookSpecificOutput: { hookEventName: event, additionalContext: parts.map((part) => part.context).join("\n") },
      systemMessage: parts.map((part) => part.systemMessage).join("; "),
    }),
  );
  writing = false;
  if (!delivery) return EXIT.ok;
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
