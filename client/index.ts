/**
 * Typed client library for a claude-bus (the HTTP contract in docs/API.md). It depends on the contract
 * only; the CLI is built on it, and other programs can `import { createBusClient } from "claude-bus"`.
 */
import { randomUUID } from "node:crypto";
import { z } from "zod";
import { MAX_ACK_BATCH, MAX_PAGE_LIMIT } from "../contract/defaults";
import { describeIssue } from "../contract/issues";
import {
  AckResult,
  AckResultSchema,
  BatchAckResult,
  BatchAckResultSchema,
  Health,
  HealthSchema,
  IDEMPOTENCY_KEY_PATTERN,
  Machine,
  MachinesSchema,
  Message,
  MessageQuery,
  MessageSchema,
  MessagesPageSchema,
  NewMessage,
} from "../contract/message";
import { AuthError, BusError, InsecureUrlError, UnreachableError } from "./errors";
import { DEFAULT_RETRY, RetryPolicy, withRetries } from "./retry";
import { exchange } from "./transport";

export { AuthError, BusError, InsecureUrlError, UnreachableError };
export type { AckResult, BatchAckResult, Health, Machine, Message, MessageQuery, NewMessage, RetryPolicy };

export interface BusClientOptions {
  url: string;
  user: string;
  pass: string;
  /** Send the credential over plain http:// to a host other than this one (it then travels unencrypted). */
  allowInsecureHttp?: boolean;
  /** Per-request timeout (a long-poll gets its `wait` on top); an unanswered request becomes an UnreachableError. */
  timeoutMs?: number;
  /** How failures in transit are retried (default: 4 retries, jittered from 200 ms doubling to 3 s). */
  retry?: RetryPolicy;
}

export interface PostOptions {
  /** The post's Idempotency-Key; one is made when absent. The same key on a repeat stores nothing twice. */
  idempotencyKey?: string;
}

export interface BusClient {
  readonly url: string;
  health(): Promise<Health>;
  /** Posts with an Idempotency-Key, so the retries of a post that failed in transit never store it twice. */
  post(message: NewMessage, options?: PostOptions): Promise<Message>;
  messages(query?: MessageQuery): Promise<Message[]>;
  /** One page, with whether more messages match after its last one. */
  page(query?: MessageQuery): Promise<{ messages: Message[]; more: boolean }>;
  ack(id: string, reader: string): Promise<AckResult>;
  /** Acks any number of ids for one reader: one POST /ack per 500 ids, the answers merged. */
  ackMany(ids: string[], reader: string): Promise<BatchAckResult>;
  /** Every name seen on the bus, with when it last posted, acked and was named, and its unread count. */
  machines(): Promise<Machine[]>;
}

/** localhost, 127.0.0.0/8 and ::1: plain http there never leaves this machine. */
export function isLoopbackUrl(url: string): boolean {
  const { hostname } = new URL(url);
  return hostname === "localhost" || /^127\.\d+\.\d+\.\d+$/.test(hostname) || hostname === "[::1]";
}

export function createBusClient(options: BusClientOptions): BusClient {
  const base = options.url.replace(/\/+$/, "");
  if (new URL(base).protocol === "http:" && !isLoopbackUrl(base) && !options.allowInsecureHttp) throw new InsecureUrlError(base);
  const authorization = "Basic " + Buffer.from(`${options.user}:${options.pass}`, "utf8").toString("base64");
  const timeoutMs = options.timeoutMs ?? 15_000;
  const retry = options.retry ?? DEFAULT_RETRY;

  async function once<T>(method: "GET" | "POST", path: string, schema: z.ZodType<T>, body: string | undefined, extra: Record<string, string>, waitMs: number): Promise<T> {
    const headers: Record<string, string> = { authorization, accept: "application/json", ...extra };
    if (body !== undefined) headers["content-type"] = "application/json";
    const res = await exchange(base, { method, url: base + path, headers, body, timeoutMs: timeoutMs + waitMs });
    if (res.status === 401) throw new AuthError(base);
    if (res.status < 200 || res.status >= 300) throw new BusError(res.status, serverErrorText(res.text));
    let json: unknown;
    try {
      json = JSON.parse(res.text);
    } catch {
      throw new BusError(res.status, `response is not JSON: ${res.text.slice(0, 200)}`);
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) throw new BusError(res.status, `unexpected response shape: ${describeIssue(parsed.error.issues[0], { root: "answer" })}`);
    return parsed.data;
  }

  function request<T>(method: "GET" | "POST", path: string, schema: z.ZodType<T>, body?: unknown, extra: Record<string, string> = {}, waitMs = 0): Promise<T> {
    const text = body === undefined ? undefined : JSON.stringify(body);
    return withRetries(retry, () => once(method, path, schema, text, extra, waitMs));
  }

  async function ackBatch(ids: string[], reader: string): Promise<BatchAckResult> {
    return request("POST", "/ack", BatchAckResultSchema, { reader, ids });
  }

  return {
    url: base,
    health: () => request("GET", "/health", HealthSchema),
    post(message, postOptions = {}) {
      const key = postOptions.idempotencyKey ?? randomUUID();
      if (!IDEMPOTENCY_KEY_PATTERN.test(key)) return Promise.reject(new RangeError("an Idempotency-Key is 1 to 128 visible ASCII characters"));
      return request("POST", "/post", MessageSchema, message, { "idempotency-key": key });
    },
    async messages(query = {}) {
      return (await this.page(query)).messages;
    },
    async page(query = {}) {
      const params = new URLSearchParams();
      for (const [key, value] of Object.entries(query)) {
        if (value !== undefined) params.set(key, String(value));
      }
      const qs = params.toString();
      const page = await request("GET", "/messages" + (qs ? "?" + qs : ""), MessagesPageSchema, undefined, {}, (query.wait ?? 0) * 1000);
      return { messages: page.messages, more: page.more === true };
    },
    ack: (id, reader) => request("POST", `/ack/${encodeURIComponent(id)}`, AckResultSchema, { reader }),
    async ackMany(ids, reader) {
      const merged: BatchAckResult = { ok: true, reader, acked: [], already: [], unknown: [] };
      for (let i = 0; i < ids.length; i += MAX_ACK_BATCH) {
        const part = await ackBatch(ids.slice(i, i + MAX_ACK_BATCH), reader);
        merged.acked.push(...part.acked);
        merged.already.push(...part.already);
        merged.unknown.push(...part.unknown);
      }
      return merged;
    },
    machines: async () => (await request("GET", "/machines", MachinesSchema)).machines,
  };
}

/** Every message matching `query`, following `since` page by page (the server caps a page). */
export async function* allMessages(client: BusClient, query: Omit<MessageQuery, "limit" | "wait"> = {}): AsyncGenerator<Message> {
  let since = query.since;
  for (;;) {
    const { messages, more } = await client.page({ ...query, since, limit: MAX_PAGE_LIMIT });
    yield* messages;
    if (!more || messages.length === 0) return;
    since = messages[messages.length - 1].id;
  }
}

/** A whole conversation, oldest first: every message whose thread is `threadId`. */
export async function thread(client: BusClient, threadId: string): Promise<Message[]> {
  const out: Message[] = [];
  for await (const message of allMessages(client, { thread: threadId })) out.push(message);
  return out;
}

function serverErrorText(text: string): string {
  try {
    const json = JSON.parse(text) as { error?: unknown };
    if (typeof json.error === "string") return json.error;
  } catch {
    // not JSON (a proxy's HTML error page, say): show its start below
  }
  return text.trim().slice(0, 200) || "(empty response)";
}
