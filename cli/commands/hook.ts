/**
 * `claude-bus hook`: the Claude Code plugin's SessionStart, UserPromptSubmit and PostToolUse hook. It reads the event
 * on stdin, asks the bus for my unread messages newer than this session's cursor, and prints Claude Code's
 * hook JSON: the messages as additionalContext, one line for the person as systemMessage.
 *
 * Delivery and ack, in this order: the output is written whole, then the session's cursor moves past
 * what was shown, then one batch ack marks read the messages shown whole, then exit 0. Killed before the
 * cursor moves, the next prompt delivers the same messages again (Claude Code dropped the output); killed
 * before the ack, they stay unread for the next session. A bus that is down, slow or rejecting the
 * credential never blocks or fails the prompt: the hook gives up at its own deadline, far below Claude
 * Code's timeout, and says so at most once per session.
 *
 * PostToolUse is the fallback for mid-task delivery where the live path (cli/delivery/live.ts) does not
 * run (no inbox socket: --bare, an older Claude Code, a refused write): it returns at once, asking the bus
 * nothing, while the session's live marker names a running deliverer or the machine is muted, and else
 * delivers as a prompt's hook does, within a shorter deadline (the model waits for it).
 */
import { type Claim, createBusClient, type Message } from "../../client/index";
import { noPositionals, type ParsedCommand } from "../args";
import { type ClientConfig, connectionFlags, resolveConfig } from "../config";
import { renderClaims } from "../delivery/claimsNote";
import { CONTEXT_BUDGET, renderDelivery } from "../delivery/render";
import { isSessionId, type SessionState, SessionStore, sessionsDir } from "../delivery/sessionState";
import { hookEventOf, toolHookIdle } from "../delivery/toolHookGate";
import { EXIT } from "../exitCodes";
import type { Io } from "../io";

/** The hook's whole run, in ms; plugin/hooks/hooks.json gives Claude Code's timeout, several times longer. */
export const HOOK_DEADLINE_MS = 3_000;
/** The PostToolUse hook's whole run, in ms: the model waits for it after every tool call. */
export const TOOL_HOOK_DEADLINE_MS = 1_500;
/** How long a hook waits for a live delivery in progress to finish before it leaves the messages to it. */
const LOCK_WAIT_MS = 500;
/** The most messages one delivery asks the bus for: more than fit the context budget anyway. */
const FETCH_LIMIT = 100;

const EVENTS = ["SessionStart", "UserPromptSubmit", "PostToolUse"] as const;
type HookEvent = (typeof EVENTS)[number];

interface HookInput {
  session_id?: unknown;
  hook_event_name?: unknown;
  /** SessionStart: startup, resume, clear or compact. */
  source?: unknown;
}

export async function hook(parsed: ParsedCommand<"hook">, io: Io): Promise<number> {
  noPositionals("hook", parsed);
  const started = Date.now();
  let writing = false;
  const input: HookInput = hookEventOf<HookInput>(await io.readStdin());
  const event: HookEvent = EVENTS.find((e) => e === input.hook_event_name) ?? "UserPromptSubmit";
  const deadline = event === "PostToolUse" ? TOOL_HOOK_DEADLINE_MS : HOOK_DEADLINE_MS;
  // The hard deadline: whatever is still pending, the prompt goes on without it. Caught mid-output (Claude
  // Code stopped reading) it exits 1, so Claude Code drops the partial JSON instead of showing it as text.
  setTimeout(() => process.exit(writing ? EXIT.failure : EXIT.ok), deadline).unref();
  const remaining = () => Math.max(1, deadline - (Date.now() - started));

  const sessionId = isSessionId(input.session_id) ? input.session_id : undefined;
  const store = new SessionStore(sessionsDir(), io.platform);
  if (await toolHookIdle(input, io.env, io.platform)) return EXIT.ok;
  if (event === "SessionStart") await store.prune();
  // shared with the live path: one delivery at a time per session, each after the cursor the last one left
  const code = sessionId ? await store.withLock(sessionId, LOCK_WAIT_MS, () => deliver()) : await deliver();
  return code ?? EXIT.ok; // a live delivery held the lock: it delivers what this hook would have

  async function deliver(): Promise<number> {
    // a cleared, compacted or resumed session starts from everything unread; a new one may already have
    // had messages live, after its SessionStart hook
    const stored: SessionState = sessionId ? await store.load(sessionId) : {};
    const state: SessionState = event === "SessionStart" && input.source !== "startup" ? {} : stored;

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
        .ackMany(
          delivery.whole.map((m) => m.id),
          cfg.me,
        )
        .catch(() => undefined); // not acked: they stay unread and come again in the next session
    }
    return EXIT.ok;
  }
}

/** No retries: within the deadline a second try would only make the prompt wait longer. */
function client(cfg: ClientConfig, timeoutMs: number) {
  return createBusClient({ ...cfg, timeoutMs, retry: { retries: 0, baseDelayMs: 0, maxDelayMs: 0 } });
}
