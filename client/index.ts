/**
 * Typed client library for a claude-bus (the HTTP contract in docs/API.md). It depends on the contract
 * only; the CLI is built on it, and other programs can `import { createBusClient } from "claude-bus"`.
 */
import { z } from "zod";
import { MAX_PAGE_LIMIT } from "../contract/defaults";
import { describeIssue } from "../contract/issues";
import {
  AckResult,
  AckResultSchema,
  Health,
  HealthSchema,
  Message,
  MessageQuery,
  MessageSchema,
  MessagesPageSchema,
  NewMessage,
} from "../contract/message";

export type { AckResult, Health, Message, MessageQuery, NewMessage };

export interface BusClientOptions {
  url: string;
  user: string;
  pass: string;
  /** Send the credential over plain http:// to a host other than this one (it then travels unencrypted). */
  allowInsecureHttp?: boolean;
  /** Per-request timeout; an unanswered request becomes an UnreachableError. */
  timeoutMs?: number;
}

export interface BusClient {
  readonly url: string;
  health(): Promise<Health>;
  post(message: NewMessage): Promise<Message>;
  messages(query?: MessageQuery): Promise<Message[]>;
  /** One page, with whether more messages match after its last one. */
  page(query?: MessageQuery): Promise<{ messages: Message[]; more: boolean }>;
  ack(id: string, reader: string): Promise<AckResult>;
}

/** The bus answered 401: wrong or missing credential. */
export class AuthError extends Error {
  readonly status = 401;
  constructor(url: string) {
    super(`the bus at ${url} rejected the credential (401): check BUS_USER/BUS_PASS`);
    this.name = "AuthError";
  }
}

/** No HTTP answer at all: DNS, refused connection, TLS failure or timeout. */
export class UnreachableError extends Error {
  constructor(url: string, reason: string) {
    super(`cannot reach the bus at ${url}: ${reason}`);
    this.name = "UnreachableError";
  }
}

/** A plain http:// URL to another host: the credential would cross the network unencrypted. */
export class InsecureUrlError extends Error {
  constructor(url: string) {
    super(`refusing to send the bus credential unencrypted to ${url}: use its https:// URL (plain http is for this machine's loopback only)`);
    this.name = "InsecureUrlError";
  }
}

/** localhost, 127.0.0.0/8 and ::1: plain http there never leaves this machine. */
export function isLoopbackUrl(url: string): boolean {
  const { hostname } = new URL(url);
  return hostname === "localhost" || /^127\.\d+\.\d+\.\d+$/.test(hostname) || hostname === "[::1]";
}

/** Any other non-success answer, with the server's own error text. */
export class BusError extends Error {
  constructor(readonly status: number, readonly serverError: string) {
    super(`the bus answered ${status}: ${serverError}`);
    this.name = "BusError";
  }
}

export function createBusClient(options: BusClientOptions): BusClient {
  const base = options.url.replace(/\/+$/, "");
  if (new URL(base).protocol === "http:" && !isLoopbackUrl(base) && !options.allowInsecureHttp) throw new InsecureUrlError(base);
  const authorization = "Basic " + Buffer.from(`${options.user}:${options.pass}`, "utf8").toString("base64");
  const timeoutMs = options.timeoutMs ?? 15_000;

  async function request<T>(method: "GET" | "POST", path: string, schema: z.ZodType<T>, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { authorization, accept: "application/json" };
    if (body !== undefined) headers["content-type"] = "application/json";
    let res: Response;
    try {
      res = await fetch(base + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      throw new UnreachableError(base, describeFetchFailure(err, timeoutMs));
    }
    const text = await res.text();
    if (res.status === 401) throw new AuthError(base);
    if (!res.ok) throw new BusError(res.status, serverErrorText(text));
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new BusError(res.status, `response is not JSON: ${text.slice(0, 200)}`);
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) throw new BusError(res.status, `unexpected response shape: ${describeIssue(parsed.error.issues[0], { root: "answer" })}`);
    return parsed.data;
  }

  return {
    url: base,
    health: () => request("GET", "/health", HealthSchema),
    post: (message) => request("POST", "/post", MessageSchema, message),
    async messages(query = {}) {
      return (await this.page(query)).messages;
    },
    async page(query = {}) {
      const params = new URLSearchParams();
      for (const [key, value] of Object.entries(query)) {
        if (value !== undefined) params.set(key, String(value));
      }
      const qs = params.toString();
      const page = await request("GET", "/messages" + (qs ? "?" + qs : ""), MessagesPageSchema);
      return { messages: page.messages, more: page.more === true };
    },
    ack: (id, reader) => request("POST", `/ack/${encodeURIComponent(id)}`, AckResultSchema, { reader }),
  };
}

/** Every message matching `query`, following `since` page by page (the server caps a page). */
export async function* allMessages(client: BusClient, query: Omit<MessageQuery, "limit"> = {}): AsyncGenerator<Message> {
  const pageSize = MAX_PAGE_LIMIT;
  let since = query.since;
  for (;;) {
    const { messages, more } = await client.page({ ...query, since, limit: pageSize });
    yield* messages;
    if (!more || messages.length === 0) return;
    since = messages[messages.length - 1].id;
  }
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

/** Duck-typed, not `instanceof`: fetch's errors may come from another realm (a vm context, a test runner). */
interface ErrorLike {
  name?: unknown;
  message?: unknown;
  code?: unknown;
  cause?: unknown;
}

function describeFetchFailure(err: unknown, timeoutMs: number): string {
  const e = (typeof err === "object" && err !== null ? err : {}) as ErrorLike;
  if (e.name === "TimeoutError" || e.name === "AbortError") return `no answer within ${timeoutMs} ms`;
  // undici wraps the socket error (ECONNREFUSED, ENOTFOUND, certificate errors) in `cause`
  const cause = (typeof e.cause === "object" && e.cause !== null ? e.cause : undefined) as ErrorLike | undefined;
  if (cause && typeof cause.message === "string") {
    return typeof cause.code === "string" ? `${cause.code} (${cause.message})` : cause.message;
  }
  return typeof e.message === "string" ? e.message : String(err);
}
