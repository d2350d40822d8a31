/**
 * Live delivery: while a Claude Code session is open, the plugin's MCP server (its live child, so Claude
 * Code accepts what it writes without asking) long-polls the bus for this machine and writes each new
 * message into the session's own inbox socket (sessionSocket.ts), in the frame the hooks use. A busy
 * session reads it in its next model request; an idle one wakes.
 *
 * Each delivery runs under the session's lock and moves the cursor the hooks share (sessionState.ts),
 * so a message goes out once, whichever path takes it. The order, as the hooks': the socket takes the
 * whole write, then the cursor moves, then the messages shown whole are acked. Killed before the write
 * completes, nothing is acked and the next session (or prompt) delivers it. Ordinary messages wait a
 * few seconds so a burst arrives as one block; a message tagged `urgent` goes at once. A bus that cannot
 * be reached is retried with jittered backoff, silently: the hooks say it once per session.
 */
import { MAX_WAIT_SECONDS } from "../../contract/defaults";
import type { BusClient, Message } from "../../client/index";
import { backoffMs, type RetryPolicy } from "../../client/retry";
import type { ClientConfig } from "../config";
import { renderDelivery } from "./render";
import { type SessionSocket, writeToSession } from "./sessionSocket";
import type { SessionStore } from "./sessionState";

/** The tag a sender sets for a message that must not wait for a batch. */
export const URGENT_TAG = "urgent";
/** How long ordinary messages are gathered after the first arrives, so a burst reaches the session as one block. */
export const LIVE_BATCH_MS = 3_000;
/**
 * Deliveries start this long after the session: what was waiting before it is the SessionStart hook's to
 * deliver (into the first request), and the hook gives up after 3 s.
 */
export const LIVE_START_GRACE_MS = 5_000;
/** Each long-poll waits this long, a little under the bus's maximum. */
const LIVE_WAIT_SECONDS = MAX_WAIT_SECONDS - 5;
/** While muted, or while one of the server's own tools runs, the switch is looked at this often. */
const LIVE_IDLE_CHECK_MS = 1_000;
/** How long a delivery waits for a hook's delivery to finish before it tries again later. */
const LOCK_WAIT_MS = 2_000;
/** The most messages one delivery asks for: more than fit one block anyway. */
const FETCH_LIMIT = 100;
/** Reconnecting: jittered waits doubling from 0.5 s up to 30 s. */
const RECONNECT: RetryPolicy = { retries: Infinity, baseDelayMs: 500, maxDelayMs: 30_000 };

export interface LiveOptions {
  sessionId: string;
  socket: SessionSocket;
  store: SessionStore;
  /** A client made at call time (a rotated env file is picked up), sending each request once. */
  connect(): Promise<{ cfg: ClientConfig; client: BusClient }>;
  muted(): Promise<boolean>;
  /** True while the session waits on one of this server's own tools (`wait` must get its answer itself). */
  held(): boolean;
  signal: AbortSignal;
  write?: (socket: SessionSocket, text: string) => Promise<void>;
  graceMs?: number;
  batchMs?: number;
}

/** Why live delivery ended: the session closed, or its socket refused a write (the hooks take over). */
export type LiveEnd = "closed" | "refused";

export async function deliverLive(o: LiveOptions): Promise<LiveEnd> {
  const write = o.write ?? writeToSession;
  await sleep(o.graceMs ?? LIVE_START_GRACE_MS, o.signal);
  for (let failures = 0; !o.signal.aborted; ) {
    if ((await o.muted()) || o.held()) {
      await sleep(LIVE_IDLE_CHECK_MS, o.signal);
      continue;
    }
    try {
      const { cfg, client } = await o.connect();
      if (!(await gather(client, cfg.me, (await o.store.load(o.sessionId)).cursor, o))) continue;
      failures = 0;
      if (o.signal.aborted || (await o.muted()) || o.held()) continue;
      const delivered = await o.store.withLock(o.sessionId, LOCK_WAIT_MS, async () => {
        // what is unread now, after the session's cursor: a hook or a tool may have taken some meanwhile
        const state = await o.store.load(o.sessionId);
        const page = await client.page({ to: cfg.me, unread_by: cfg.me, since: state.cursor, limit: FETCH_LIMIT });
        const delivery = renderDelivery(page.messages, cfg.me, { moreOnBus: page.more });
        if (!delivery) return undefined;
        await write(o.socket, delivery.context).catch((err: Error) => {
          throw new Refused(err.message);
        });
        await o.store.save(o.sessionId, { ...state, cursor: delivery.shown[delivery.shown.length - 1].id });
        return delivery;
      });
      if (delivered && delivered.whole.length > 0) {
        await client
          .ackMany(
            delivered.whole.map((m) => m.id),
            cfg.me,
          )
          .catch(() => undefined); // not acked: unread for the next session
      }
    } catch (err) {
      if (err instanceof Refused) return "refused";
      await sleep(backoffMs(RECONNECT, ++failures), o.signal);
    }
  }
  return "closed";
}

/**
 * Waits for unread messages after `cursor`, then, unless one is urgent, for the batch window to close
 * (an urgent one arriving within it ends the wait). False when the long-poll ended with nothing new.
 */
async function gather(client: BusClient, me: string, cursor: string | undefined, o: LiveOptions): Promise<boolean> {
  // a long-poll ends with the session: its answer, if one comes, is dropped (nothing is acked)
  const poll = (since: string | undefined, wait: number) =>
    Promise.race([client.messages({ to: me, unread_by: me, since, wait, limit: FETCH_LIMIT }), aborted(o.signal)]);
  const first = await poll(cursor, LIVE_WAIT_SECONDS);
  if (first.length === 0) return false;
  const until = Date.now() + (o.batchMs ?? LIVE_BATCH_MS);
  let last = first[first.length - 1].id;
  let urgent = first.some(isUrgent);
  while (!urgent && !o.signal.aborted && Date.now() < until) {
    const more = await poll(last, Math.ceil((until - Date.now()) / 1000));
    if (more.length === 0) continue;
    last = more[more.length - 1].id;
    urgent = more.some(isUrgent);
  }
  return true;
}

export const isUrgent = (m: Message): boolean => m.tags.includes(URGENT_TAG);

class Refused extends Error {}

/** Resolves with no messages once `signal` aborts. */
const aborted = (signal: AbortSignal): Promise<Message[]> => sleep(Infinity, signal).then(() => []);

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = Number.isFinite(ms) ? setTimeout(done, ms) : undefined;
    signal.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}
