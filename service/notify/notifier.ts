/**
 * Forwards new messages to people's phones through ntfy (docs/API.md "Notifications"): each message to
 * a name with a setting (or to everyone, from someone else) becomes one POST to that name's topic URL,
 * ntfy's publish API (the text as the body; Title, Tags and Priority headers; the access token as
 * `Authorization: Bearer`). A post only queues it: sending happens after, from a bounded queue, a few at
 * a time, so a slow or failing ntfy server never holds up or fails a post. A send that fails for a
 * reason that may pass (a network error, a 5xx, a 429) is retried with a doubling wait; others are
 * dropped. What is logged names the name, the topic's host and the status, never the URL's path or the
 * token. The queue lives in memory: notifications still waiting when the bus stops are not sent.
 */
import {
  BROADCAST,
  NOTIFY_ATTEMPTS,
  NOTIFY_CONCURRENCY,
  NOTIFY_FIRST_LINE_CHARS,
  NOTIFY_QUEUE_MAX,
  NOTIFY_RETRY_FIRST_SECONDS,
  NOTIFY_RETRY_MAX_SECONDS,
  NOTIFY_TIMEOUT_SECONDS,
} from "../../contract/defaults";
import type { Message } from "../../contract/message";
import type { Log } from "../log";
import type { NotifySetting, NotifySettings } from "./notifySettings";

export interface NotifyLimits {
  queueMax: number;
  concurrency: number;
  timeoutMs: number;
  attempts: number;
  retryFirstMs: number;
  retryMaxMs: number;
}

export const NOTIFY_LIMITS: NotifyLimits = {
  queueMax: NOTIFY_QUEUE_MAX,
  concurrency: NOTIFY_CONCURRENCY,
  timeoutMs: NOTIFY_TIMEOUT_SECONDS * 1000,
  attempts: NOTIFY_ATTEMPTS,
  retryFirstMs: NOTIFY_RETRY_FIRST_SECONDS * 1000,
  retryMaxMs: NOTIFY_RETRY_MAX_SECONDS * 1000,
};

interface Job {
  /** Whose setting it goes by. */
  name: string;
  /** The message, by number (read back when it is sent). */
  n: number;
  attempt: number;
}

/** What a notification says: a ping names nothing; a first line names its sender. */
export function notification(setting: NotifySetting, message: Pick<Message, "from" | "body" | "tags">): { title: string; body: string; tags: string; priority: string } {
  const priority = message.tags.includes("urgent") ? "high" : "default";
  if (setting.mode === "ping") return { title: "claude-bus", body: "new message", tags: "envelope", priority };
  // Control characters (an RTL override among them) do not reach the phone; the line is cut at a character.
  const line = (message.body.split("\n").find((l) => l.trim() !== "") ?? "").replace(/[\p{Cc}\p{Cf}]/gu, "").trim();
  const chars = [...line];
  const first = chars.length > NOTIFY_FIRST_LINE_CHARS ? `${chars.slice(0, NOTIFY_FIRST_LINE_CHARS - 1).join("")}…` : line;
  return { title: `from ${message.from}`, body: first || "(no text)", tags: "envelope", priority };
}

export class Notifier {
  private readonly queue: Job[] = [];
  /** Jobs waiting for a retry. */
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly inFlight = new Set<AbortController>();
  private dropped = 0;
  private closed = false;

  constructor(
    private readonly settings: NotifySettings,
    /** Message n as the API shows it; null once it is gone (retention). */
    private readonly read: (n: number) => Message | null,
    private readonly log: Log,
    private readonly limits: NotifyLimits = NOTIFY_LIMITS,
  ) {}

  /** A message was stored: queues a notification for each name that wants one. Never throws, never waits. */
  posted(m: { n: number; from: string; to: string }): void {
    for (const [name] of this.settings.entries()) {
      if (name === m.from || (m.to !== name && m.to !== BROADCAST)) continue;
      this.enqueue({ name, n: m.n, attempt: 0 });
    }
  }

  /** Notifications waiting, in flight or for a retry. */
  get pending(): number {
    return this.queue.length + this.inFlight.size + this.timers.size;
  }

  close(): void {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const controller of this.inFlight) controller.abort();
    this.queue.length = 0;
  }

  private enqueue(job: Job): void {
    if (this.closed) return;
    if (this.pending >= this.limits.queueMax) {
      // Logged once per run of drops, so a flood does not flood the log too.
      if (this.dropped++ === 0) this.log({ level: "warn", msg: "notifications dropped: the queue is full", max: this.limits.queueMax });
      return;
    }
    if (this.dropped > 0) this.log({ level: "warn", msg: "notifications queued again", dropped: this.dropped });
    this.dropped = 0;
    this.queue.push(job);
    this.pump();
  }

  private pump(): void {
    while (!this.closed && this.inFlight.size < this.limits.concurrency && this.queue.length > 0) {
      const job = this.queue.shift()!;
      const controller = new AbortController();
      this.inFlight.add(controller);
      void this.send(job, controller).finally(() => {
        this.inFlight.delete(controller);
        this.pump();
      });
    }
  }

  private async send(job: Job, controller: AbortController): Promise<void> {
    // The setting as it is now: changed or removed since the post, the new one counts.
    const setting = this.settings.get(job.name);
    const message = setting && this.read(job.n);
    if (!setting || !message) return;
    const host = new URL(setting.url).host;
    const note = notification(setting, message);
    const timeout = setTimeout(() => controller.abort(), this.limits.timeoutMs);
    let failure: string;
    try {
      const answer = await fetch(setting.url, {
        method: "POST",
        body: note.body,
        redirect: "error",
        signal: controller.signal,
        headers: {
          "Content-Type": "text/plain; charset=utf-8",
          Title: note.title,
          Tags: note.tags,
          Priority: note.priority,
          ...(setting.token !== undefined && { Authorization: `Bearer ${setting.token}` }),
        },
      });
      await answer.arrayBuffer().catch(() => undefined);
      if (answer.ok) return;
      if (answer.status < 500 && answer.status !== 429) {
        this.log({ level: "warn", msg: "notification refused by its server", name: job.name, host, status: answer.status });
        return;
      }
      failure = `status ${answer.status}`;
    } catch (error) {
      if (this.closed) return;
      failure = controller.signal.aborted ? "timed out" : ((error as { cause?: { code?: string } }).cause?.code ?? "network error");
    } finally {
      clearTimeout(timeout);
    }
    if (job.attempt + 1 >= this.limits.attempts) {
      this.log({ level: "warn", msg: "notification not delivered", name: job.name, host, failure, attempts: job.attempt + 1 });
      return;
    }
    const wait = Math.min(this.limits.retryFirstMs * 2 ** job.attempt, this.limits.retryMaxMs);
    this.log({ level: "info", msg: "notification to be retried", name: job.name, host, failure, seconds: wait / 1000 });
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.enqueue({ ...job, attempt: job.attempt + 1 });
    }, wait);
    timer.unref();
    this.timers.add(timer);
  }
}
