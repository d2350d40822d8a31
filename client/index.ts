/**
 * Typed client library for a claude-bus (the HTTP contract in docs/API.md). It depends on the contract
 * only; the CLI is built on it, and other programs can `import { createBusClient } from "claude-bus"`.
 */
import { randomUUID } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { z } from "zod";
import { MAX_ACK_BATCH, MAX_PAGE_LIMIT } from "../contract/defaults";
import type { StoredFile } from "../contract/files";
import { describeIssue } from "../contract/issues";
import { isLoopbackUrl } from "../contract/loopback";
import { type NotifyMode, NotifySettingsSchema, type NotifySettingsView } from "../contract/notify";
import {
  type Attachment,
  type AckResult,
  AckResultSchema,
  type BatchAckResult,
  BatchAckResultSchema,
  type Health,
  HealthSchema,
  EnrolledSchema,
  IDEMPOTENCY_KEY_PATTERN,
  type Invite,
  InviteSchema,
  type Machine,
  MachinesSchema,
  type Message,
  type MessageQuery,
  MESSAGE_ID_PATTERN,
  MessageSchema,
  MessagesPageSchema,
  type NewMessage,
  RotatedSchema,
} from "../contract/message";
import {
  type Claim,
  ClaimHeldSchema,
  type ClaimRequest,
  ClaimSchema,
  ClaimsListSchema,
  type ClaimsQuery,
  type Receipt,
  ReceiptSchema,
  type Released,
  ReleasedSchema,
  type ReleaseRequest,
} from "../contract/claims";
import { AuthError, BusError, ClaimHeldError, InsecureUrlError, serverErrorText, UnreachableError } from "./errors";
import {
  ConfigNameError,
  downloadAttachment,
  type FileDigest,
  FileExistsError,
  HashMismatchError,
  type OnProgress,
  type SaveOptions,
  targetOf,
  uploadFile,
} from "./files";
import { DEFAULT_RETRY, type RetryPolicy, withRetries } from "./retry";
export { claimWaiting, waitForReceipt } from "./waiting";
import { download, exchange, type Exchange } from "./transport";

export { AuthError, BusError, ClaimHeldError, ConfigNameError, FileExistsError, HashMismatchError, InsecureUrlError, isLoopbackUrl, UnreachableError };
export type {
  AckResult,
  Attachment,
  BatchAckResult,
  Claim,
  ClaimsQuery,
  Receipt,
  Released,
  FileDigest,
  Health,
  Invite,
  Machine,
  Message,
  MessageQuery,
  NewMessage,
  OnProgress,
  RetryPolicy,
  SaveOptions,
  StoredFile,
};

/** GET /machines in full: every name with its credential, and the invites not yet used. */
export interface Roster {
  machines: Machine[];
  invites: Array<{ name: string; invited: string; expires: string; kind?: "machine" | "person"; admin?: boolean }>;
}

/** A machine's own credential, as enrollment or rotation hands it out. */
export interface MachineCredential {
  name: string;
  user: string;
  pass: string;
}

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
  /** The message `id`, or undefined when the bus holds none by that id. */
  message(id: string): Promise<Message | undefined>;
  /** One page, with whether more messages match after its last one. */
  page(query?: MessageQuery): Promise<{ messages: Message[]; more: boolean }>;
  ack(id: string, reader: string): Promise<AckResult>;
  /** Acks any number of ids for one reader: one POST /ack per 500 ids, the answers merged. */
  ackMany(ids: string[], reader: string): Promise<BatchAckResult>;
  /** Every name seen on the bus, with when it last posted, acked and was named, and its unread count. */
  machines(): Promise<Machine[]>;
  /** The machines with their credentials, and the pending invites. */
  roster(): Promise<Roster>;
  /** A one-time code that enrolls the machine (or person) `name` (team credential, or an admin person's). */
  invite(name: string, ttlSeconds?: number, kind?: { person: boolean; admin: boolean }): Promise<Invite>;
  /** Ends `name`'s own credential at once (team credential). */
  revoke(name: string): Promise<{ name: string; revoked: string; already: boolean }>;
  /** A new secret for this credential's own machine; the old one works until the new one is first used. */
  rotateOwnSecret(name: string): Promise<string>;
  /** This credential's own ntfy setting (GET /settings/notify); null when none is set. */
  notifySettings(): Promise<NotifySettingsView | null>;
  /** Sets it: `token` absent keeps the one set before, null removes it. */
  setNotify(setting: { url: string; mode: NotifyMode; token?: string | null }): Promise<NotifySettingsView>;
  /** Turns the forward off; resolves with whether one was set. */
  removeNotify(): Promise<boolean>;
  /** GET /backup into `file` (team credential): written to a temp file beside it, renamed when whole. */
  backup(file: string): Promise<{ bytes: number }>;
  /**
   * Uploads a local file (named by its base name unless `name` is given) for a post to attach; resumes after
   * a dropped connection from what the bus holds, and sends nothing the bus has from this credential already.
   */
  upload(file: string, options?: { name?: string; onProgress?: OnProgress; digest?: FileDigest }): Promise<StoredFile>;
  /** Saves an attachment into `dir` under its name (never over a file without `force`), its sha256 checked; resolves with its path. */
  download(attachment: Attachment, dir: string, options?: SaveOptions): Promise<string>;
  /**
   * Claims (or renews) `resource` for `ttl` seconds: the claim, with its fencing token. Another holder's
   * live claim is a ClaimHeldError naming it. `holder` is for the team credential.
   */
  claim(request: ClaimRequest): Promise<Claim>;
  /** Releases a claim (the caller's own; another's only with `force` and the team credential). */
  release(request: ReleaseRequest): Promise<Released>;
  /** Live claims; with `resource` and `wait`, held until that resource is free (up to `wait` seconds). */
  claims(query?: ClaimsQuery): Promise<Claim[]>;
  /** When `reader` acked message `id` (`read_at` null: not yet); with `wait` seconds, held until it does. */
  receipt(id: string, reader: string, wait?: number): Promise<Receipt>;
}

/** The bus URL without trailing slashes; refused when it is plain http to another host, unless allowed. */
function busBase(url: string, allowInsecureHttp: boolean | undefined): string {
  const base = url.replace(/\/+$/, "");
  if (new URL(base).protocol === "http:" && !isLoopbackUrl(base) && !allowInsecureHttp) throw new InsecureUrlError(base);
  return base;
}

export function createBusClient(options: BusClientOptions): BusClient {
  const base = busBase(options.url, options.allowInsecureHttp);
  const authorization = `Basic ${Buffer.from(`${options.user}:${options.pass}`, "utf8").toString("base64")}`;
  const timeoutMs = options.timeoutMs ?? 15_000;
  const retry = options.retry ?? DEFAULT_RETRY;

  function once<T>(
    method: Exchange["method"],
    path: string,
    schema: z.ZodType<T>,
    body: string | undefined,
    extra: Record<string, string>,
    waitMs: number,
  ): Promise<T> {
    return jsonExchange(base, { method, path, schema, body, headers: { authorization, ...extra }, timeoutMs: timeoutMs + waitMs });
  }

  function request<T>(
    method: Exchange["method"],
    path: string,
    schema: z.ZodType<T>,
    body?: unknown,
    extra: Record<string, string> = {},
    waitMs = 0,
  ): Promise<T> {
    const text = body === undefined ? undefined : JSON.stringify(body);
    return withRetries(retry, () => once(method, path, schema, text, extra, waitMs));
  }

  const files = { base, authorization, retry };

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
    async message(id) {
      if (!MESSAGE_ID_PATTERN.test(id)) throw new RangeError(`${JSON.stringify(id)} is not a message id: a positive decimal integer`);
      // The page after the id before it starts with this id, if the bus holds it.
      const [first] = await this.messages({ since: String(BigInt(id) - 1n), limit: 1 });
      return first?.id === id ? first : undefined;
    },
    async messages(query = {}) {
      return (await this.page(query)).messages;
    },
    async page(query = {}) {
      const page = await request("GET", `/messages${queryString(query)}`, MessagesPageSchema, undefined, {}, (query.wait ?? 0) * 1000);
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
    async roster() {
      const { machines, invites } = await request("GET", "/machines", MachinesSchema);
      return { machines, invites: invites ?? [] };
    },
    invite: (name, ttlSeconds, kind) =>
      request("POST", "/invites", InviteSchema, {
        name,
        ...(ttlSeconds !== undefined && { ttl_seconds: ttlSeconds }),
        ...(kind?.person && { kind: "person" }),
        ...(kind?.admin && { admin: true }),
      }),
    async notifySettings() {
      try {
        return await request("GET", "/settings/notify", NotifySettingsSchema);
      } catch (error) {
        if (error instanceof BusError && error.status === 404) return null;
        throw error;
      }
    },
    setNotify: (setting) => request("PUT", "/settings/notify", NotifySettingsSchema, setting),
    removeNotify: async () => (await request("DELETE", "/settings/notify", z.object({ removed: z.boolean() }))).removed,
    revoke: (name) => request("POST", `/machines/${encodeURIComponent(name)}/revoke`, RevokedSchema),
    rotateOwnSecret: async (name) => (await request("POST", `/machines/${encodeURIComponent(name)}/rotate`, RotatedSchema)).pass,
    async backup(file) {
      const res = await download(base, { url: `${base}/backup`, headers: { authorization }, timeoutMs: BACKUP_IDLE_MS }, file);
      if (res.status === 401) throw new AuthError(base);
      if (res.status !== 200) throw new BusError(res.status, serverErrorText(res.text));
      return { bytes: res.bytes };
    },
    upload: (file, { name, onProgress, digest } = {}) => uploadFile(files, file, name ?? path.basename(file), onProgress, digest),
    download: (attachment, dir, saveOptions) => downloadAttachment(files, attachment, dir, saveOptions),
    claim: (claimRequest) => request("POST", "/claims", ClaimSchema, claimRequest),
    release: (releaseRequest) => request("POST", "/claims/release", ReleasedSchema, releaseRequest),
    claims: async (query = {}) => (await request("GET", `/claims${queryString(query)}`, ClaimsListSchema, undefined, {}, (query.wait ?? 0) * 1000)).claims,
    receipt: (id, reader, wait) => {
      if (!MESSAGE_ID_PATTERN.test(id)) return Promise.reject(new RangeError(`${JSON.stringify(id)} is not a message id: a positive decimal integer`));
      return request("GET", `/messages/${id}/receipt${queryString({ reader, wait })}`, ReceiptSchema, undefined, {}, (wait ?? 0) * 1000);
    },
  };
}

/** `?key=value&...` of the parameters that are set, or "" when none is. */
function queryString(query: object): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined) params.set(key, String(value));
  }
  const qs = params.toString();
  return qs ? `?${qs}` : "";
}

/** How long a backup download may stall (no byte arriving) before it is given up. */
const BACKUP_IDLE_MS = 60_000;
const RevokedSchema = z.object({ name: z.string(), revoked: z.string(), already: z.boolean() });

/** One JSON request and its answer checked against `schema`; 401 is an AuthError, any other failure a BusError. */
async function jsonExchange<T>(
  base: string,
  req: { method: Exchange["method"]; path: string; schema: z.ZodType<T>; body?: string; headers: Record<string, string>; timeoutMs: number },
): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json", ...req.headers };
  if (req.body !== undefined) headers["content-type"] = "application/json";
  const res = await exchange(base, { method: req.method, url: base + req.path, headers, body: req.body, timeoutMs: req.timeoutMs });
  if (res.status === 401) throw new AuthError(base);
  if (res.status === 409) {
    const held = ClaimHeldSchema.safeParse(parseOrUndefined(res.text));
    if (held.success) throw new ClaimHeldError(held.data.error, held.data.held_by);
  }
  if (res.status < 200 || res.status >= 300) throw new BusError(res.status, serverErrorText(res.text));
  let json: unknown;
  try {
    json = JSON.parse(res.text);
  } catch {
    throw new BusError(res.status, `response is not JSON: ${res.text.slice(0, 200)}`);
  }
  const parsed = req.schema.safeParse(json);
  if (!parsed.success) throw new BusError(res.status, `unexpected response shape: ${describeIssue(parsed.error.issues[0], { root: "answer" })}`);
  return parsed.data;
}

function parseOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * Exchanges an invite code for this machine's own credential (POST /enroll, no credential needed: the
 * code is one). Not retried: a code works once, so a retry after a lost answer could only be refused.
 */
export async function enroll(options: { url: string; code: string; allowInsecureHttp?: boolean; timeoutMs?: number }): Promise<MachineCredential> {
  const base = busBase(options.url, options.allowInsecureHttp);
  const body = JSON.stringify({ code: options.code });
  const { name, user, pass } = await jsonExchange(base, {
    method: "POST",
    path: "/enroll",
    schema: EnrolledSchema,
    body,
    headers: {},
    timeoutMs: options.timeoutMs ?? 15_000,
  });
  return { name, user, pass };
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

/** A file to attach: its path, or its path with the sha256 and size an earlier pass read (the CLI's check of its content). */
export type FileToAttach = string | ({ file: string } & FileDigest);

/**
 * Uploads each file in turn (every one checked to be a readable file before a byte is sent) and resolves
 * with the attachments a post names: undefined for none, so a post without files is as it always was.
 * What may leave the machine is the caller's to decide before (the CLI: cli/attachGuard.ts).
 */
export async function uploadAttachments(
  client: BusClient,
  files: FileToAttach[],
  options: { onProgress?: (file: string) => OnProgress | undefined } = {},
): Promise<Array<{ sha256: string; name: string }> | undefined> {
  const entries = files.map((f) => (typeof f === "string" ? { file: f } : { file: f.file, digest: { sha256: f.sha256, size: f.size } }));
  for (const { file } of entries) {
    const stat = await fs.promises.stat(file).catch(() => undefined);
    if (!stat?.isFile()) throw new Error(`${file}: no such file to attach`);
  }
  const attachments: Array<{ sha256: string; name: string }> = [];
  for (const { file, digest } of entries) {
    const { sha256, name } = await client.upload(file, { onProgress: options.onProgress?.(file), digest });
    attachments.push({ sha256, name });
  }
  return attachments.length > 0 ? attachments : undefined;
}

/**
 * Saves every attachment of message `id` into a directory of its own, `dir/<id>/` (made if missing), each
 * checked against its sha256: files from different messages never meet, nor land beside what is in `dir`.
 * Every name is checked before a byte moves (a dot file or an agent/tool config name is refused unless
 * `allowConfigNames`), so a refusal costs no download; the same file attached twice under one name is saved once.
 */
export async function saveAttachments(
  client: BusClient,
  id: string,
  dir: string,
  options: { force?: boolean; allowConfigNames?: boolean; onProgress?: (attachment: Attachment) => OnProgress | undefined } = {},
): Promise<Array<{ attachment: Attachment; file: string }>> {
  const message = await client.message(id);
  if (!message) throw new Error(`no message #${id} on the bus`);
  const attachments = message.attachments ?? [];
  if (attachments.length === 0) throw new Error(`message #${id} has no attachments`);
  const own = path.join(dir, message.id);
  const targets = new Map<string, Attachment>();
  for (const attachment of attachments) {
    const target = targetOf(own, attachment, { force: options.force, allowConfigNames: options.allowConfigNames });
    const other = targets.get(target);
    if (other && other.sha256 !== attachment.sha256)
      throw new Error(`message #${id} attaches two different files that would both be ${target}; nothing was saved`);
    targets.set(target, attachment);
  }
  await fs.promises.mkdir(own, { recursive: true });
  const saved: Array<{ attachment: Attachment; file: string }> = [];
  try {
    for (const attachment of targets.values()) {
      saved.push({
        attachment,
        file: await client.download(attachment, own, {
          force: options.force,
          allowConfigNames: options.allowConfigNames,
          onProgress: options.onProgress?.(attachment),
        }),
      });
    }
  } catch (err) {
    await fs.promises.rmdir(own).catch(() => undefined); // left only when it holds something (a part to resume)
    throw err;
  }
  return saved;
}
