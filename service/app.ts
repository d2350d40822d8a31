/** The Express app: the routes of docs/API.md over the store, behind Basic auth. */
import express, { NextFunction, Request, Response } from "express";
import { TextDecoder } from "util";
import { z } from "zod";
import { AUTH_REALM } from "../contract/httpErrors";
import { DEFAULT_PAGE_LIMIT, MAX_BODY_BYTES, MAX_PAGE_LIMIT, MAX_REQUEST_BYTES } from "../contract/defaults";
import { describeIssue, IssueWords } from "../contract/issues";
import {
  AckBodySchema,
  BatchAckBodySchema,
  IDEMPOTENCY_KEY_PATTERN,
  isBodyTooLarge,
  MESSAGE_ID_PATTERN,
  MessagesQuerySchema,
  PostBodySchema,
} from "../contract/message";
import { CredentialChecker } from "./credentials";
import { HttpError, errorHandler, sendError } from "./httpErrors";
import { writeBackup } from "./backup";
import { writePage } from "./page";
import type { Presence } from "./presence";
import { waitForMessage } from "./longPoll";
import type { Log } from "./log";
import { BusStore, IdempotencyConflict } from "./store";
import type { Waiters } from "./waiters";

export interface AppDeps {
  store: BusStore;
  dataDir: string;
  auth: CredentialChecker;
  log: Log;
  presence: Presence;
  waiters: Waiters;
  /** True once shutdown began: answers say Connection: close so keep-alive clients let go. */
  closing: () => boolean;
}

/** Every JSON answer ends with a newline, so a curl line without `| jq` does not run into the prompt. */
function sendJson(res: Response, status: number, value: unknown): void {
  res.status(status).type("application/json").send(`${JSON.stringify(value)}\n`);
}

export function createApp({ store, dataDir, auth, log, presence, waiters, closing }: AppDeps): express.Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);

  app.use((req, res, next) => {
    const started = process.hrtime.bigint();
    res.setHeader("X-Robots-Tag", "noindex");
    if (closing()) res.setHeader("Connection", "close");
    const elapsed = () => Math.round(Number(process.hrtime.bigint() - started) / 1e4) / 100;
    res.on("finish", () => log({ level: "info", msg: "request", method: req.method, path: req.path, status: res.statusCode, ms: elapsed() }));
    // A client that left before its answer (a long-poll given up): logged too, without a status.
    res.on("close", () => {
      if (!res.writableFinished) log({ level: "info", msg: "request abandoned", method: req.method, path: req.path, ms: elapsed() });
    });
    next();
  });

  app.use((req, res, next) => {
    // Node no longer answers this itself (an empty 400): HTTP/1.1 requires the header.
    if (req.httpVersion !== "1.1" || req.headers.host !== undefined) return next();
    res.setHeader("Connection", "close");
    next(new HttpError("badRequest", "the Host header is required in HTTP/1.1"));
  });

  app.use((req, res, next) => {
    if (auth.check(req.headers.authorization)) return next();
    res.setHeader("WWW-Authenticate", `Basic realm="${AUTH_REALM}"`);
    sendError(res, "unauthorized");
  });

  const jsonBody: express.RequestHandler[] = [requireJson, express.raw({ type: () => true, limit: MAX_REQUEST_BYTES }), decodeJson];

  app.get("/health", (_req, res) => {
    sendJson(res, 200, { ok: true, count: store.count, now: new Date().toISOString(), oldest: store.oldest === null ? null : String(store.oldest), bytes: store.bytes });
  });

  app.get("/backup", async (_req, res) => {
    await writeBackup(res, store, dataDir, presence.serialize());
  });

  app.get("/machines", (_req, res) => {
    sendJson(res, 200, { machines: presence.machines((name) => store.unreadCount(name)) });
  });

  app.get("/robots.txt", (_req, res) => {
    res.type("text/plain").send("User-agent: *\nDisallow: /\n");
  });

  app.post("/post", jsonBody, async (req: Request, res: Response) => {
    const body = req.body as { body?: unknown } | null;
    if (isBodyTooLarge(body?.body)) throw new HttpError("tooLarge", `body is larger than ${MAX_BODY_BYTES} bytes of UTF-8`);
    const input = parse(PostBodySchema, body, { root: "request body", unknown: "field" });
    const key = req.header("Idempotency-Key");
    if (key !== undefined && !IDEMPOTENCY_KEY_PATTERN.test(key)) throw new HttpError("badRequest", "Idempotency-Key: must be 1-128 visible ASCII characters");
    presence.named([input.from, input.to]);
    if (input.reply_to !== undefined && !store.has(Number(input.reply_to))) throw new HttpError("badRequest", `reply_to: no message with id "${input.reply_to}"`);
    try {
      const { message, replayed } = await store.post(input, key);
      if (replayed) res.setHeader("Idempotent-Replayed", "true");
      sendJson(res, replayed ? 200 : 201, message);
    } catch (error) {
      if (error instanceof IdempotencyConflict) throw new HttpError("idempotencyConflict", error.message);
      throw error;
    }
  });

  app.get("/messages", async (req, res) => {
    const query = req.query as Record<string, unknown>;
    for (const [key, value] of Object.entries(query)) {
      if (typeof value !== "string") throw new HttpError("badRequest", `${key}: must be given once, as a plain value`);
    }
    const q = parse(MessagesQuerySchema, query, { root: "query", unknown: "parameter" });
    presence.named([q.to, q.from, q.unread_by]);
    const selection = {
      since: q.since === undefined ? 0 : Number(q.since),
      to: q.to,
      from: q.from,
      unreadBy: q.unread_by,
      tag: q.tag,
      thread: q.thread === undefined ? undefined : Number(q.thread),
      limit: q.limit === undefined ? DEFAULT_PAGE_LIMIT : Math.min(Number(q.limit), MAX_PAGE_LIMIT),
    };
    const wait = Number(q.wait ?? 0);
    if (wait > 0 && store.select({ ...selection, limit: 1 }).length === 0 && !(await waitForMessage(waiters, selection, wait * 1000, res))) return;
    await writePage(res, store, selection);
  });

  app.post("/ack", jsonBody, async (req: Request, res: Response) => {
    const { reader, ids } = parse(BatchAckBodySchema, req.body, { root: "request body", unknown: "field" });
    presence.named([reader]);
    const result = await store.ackMany(reader, ids.map(Number));
    const strings = (list: number[]) => list.map(String);
    sendJson(res, 200, { ok: true, reader, acked: strings(result.acked), already: strings(result.already), unknown: strings(result.unknown) });
  });

  app.post("/ack/:id", jsonBody, async (req: Request, res: Response) => {
    const id = req.params.id as string;
    const { reader } = parse(AckBodySchema, req.body, { root: "request body", unknown: "field" });
    presence.named([reader]);
    const result = MESSAGE_ID_PATTERN.test(id) ? await store.ack(Number(id), reader) : null;
    if (!result) throw new HttpError("notFound", `no message with id ${JSON.stringify(id)}`);
    sendJson(res, 200, { ok: true, id, reader, already: result.already });
  });

  const routes: Record<string, string> = {
    "/health": "GET, HEAD",
    "/robots.txt": "GET, HEAD",
    "/post": "POST",
    "/messages": "GET, HEAD",
    "/ack": "POST",
    "/ack/:id": "POST",
    "/machines": "GET, HEAD",
    "/backup": "GET",
  };
  for (const [path, allow] of Object.entries(routes)) {
    app.all(path, (req, res) => {
      res.setHeader("Allow", allow);
      sendError(res, "methodNotAllowed", `method ${req.method} not allowed on ${req.path}; use ${allow}`);
    });
  }
  app.use((req, res) => sendError(res, "notFound", `no such route: ${req.method} ${req.path}`));
  app.use(errorHandler(log));
  return app;
}

function requireJson(req: Request, _res: Response, next: NextFunction): void {
  const type = req.headers["content-type"];
  if (!type || !req.is("application/json")) return next(new HttpError("unsupportedMediaType"));
  const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(type)?.[1];
  if (charset && !/^utf-?8$/i.test(charset)) return next(new HttpError("unsupportedMediaType", "charset must be utf-8"));
  next();
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

function decodeJson(req: Request, _res: Response, next: NextFunction): void {
  const raw = req.body as unknown;
  if (!Buffer.isBuffer(raw) || raw.length === 0) return next(new HttpError("badRequest", "request body is empty; send a JSON object"));
  let text: string;
  try {
    text = utf8.decode(raw);
  } catch {
    return next(new HttpError("badRequest", "request body is not valid UTF-8"));
  }
  try {
    req.body = JSON.parse(text);
  } catch (error) {
    return next(new HttpError("badRequest", `request body is not valid JSON: ${(error as Error).message}`));
  }
  next();
}

function parse<T extends z.ZodType>(schema: T, value: unknown, words: IssueWords): z.infer<T> {
  const result = schema.safeParse(value);
  if (!result.success) throw new HttpError("badRequest", describeIssue(result.error.issues[0], words));
  return result.data;
}
