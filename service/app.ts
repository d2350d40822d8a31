import express, { NextFunction, Request, Response } from "express";
import { TextDecoder } from "util";
import { z } from "zod";
import { CredentialChecker } from "./credentials";
import { HttpError, errorHandler, sendError } from "./httpErrors";
import { BusStore } from "./store";
import { AckBodySchema, MAX_BODY_BYTES, MessagesQuerySchema, PostBodySchema, describeIssue } from "./schemas";

/**
 * Largest accepted request body. A valid 64 KiB message can legally take far more JSON than
 * 64 KiB: every control byte escaped as \u00XX is 6 bytes, 4-byte characters escaped as
 * surrogate pairs are 12. 512 KiB admits any such encoding of a maximal message (6 x 64 KiB
 * plus fields); the decoded body is then checked against 65,536 bytes itself.
 */
export const MAX_REQUEST_BYTES = 512 * 1024;
const DEFAULT_LIMIT = 50;
const MAX_LIMIT = 500;

export interface AppDeps {
  store: BusStore;
  auth: CredentialChecker;
  log: (fields: Record<string, unknown>) => void;
  /** True once shutdown began: answers say Connection: close so keep-alive clients let go. */
  closing: () => boolean;
}

export function createApp({ store, auth, log, closing }: AppDeps): express.Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);

  app.use((req, res, next) => {
    const started = process.hrtime.bigint();
    res.setHeader("X-Robots-Tag", "noindex");
    if (closing()) res.setHeader("Connection", "close");
    res.on("finish", () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      log({ level: "info", msg: "request", method: req.method, path: req.path, status: res.statusCode, ms: Math.round(ms * 100) / 100 });
    });
    next();
  });

  app.use((req, res, next) => {
    if (auth.check(req.headers.authorization)) return next();
    res.setHeader("WWW-Authenticate", 'Basic realm="claude-bus"');
    sendError(res, 401, "authentication required: wrong or missing credential");
  });

  const jsonBody: express.RequestHandler[] = [requireJson, express.raw({ type: () => true, limit: MAX_REQUEST_BYTES }), decodeJson];

  app.get("/health", (_req, res) => {
    res.json({ ok: true, count: store.count, now: new Date().toISOString() });
  });

  app.get("/robots.txt", (_req, res) => {
    res.type("text/plain").send("User-agent: *\nDisallow: /\n");
  });

  app.post("/post", jsonBody, async (req: Request, res: Response) => {
    const body = req.body as unknown;
    if (isRecord(body) && typeof body.body === "string" && Buffer.byteLength(body.body, "utf8") > MAX_BODY_BYTES) {
      throw new HttpError(413, `body is larger than ${MAX_BODY_BYTES} bytes of UTF-8`);
    }
    const input = parse(PostBodySchema, body);
    res.status(201).json(await store.post(input));
  });

  app.get("/messages", (req, res) => {
    const query = req.query as Record<string, unknown>;
    for (const [key, value] of Object.entries(query)) {
      if (typeof value !== "string") throw new HttpError(400, `${key}: must be given once, as a plain value`);
    }
    const q = parse(MessagesQuerySchema, query);
    const messages = store.select({
      since: q.since === undefined ? 0 : Number(q.since),
      to: q.to,
      from: q.from,
      unreadBy: q.unread_by,
      limit: q.limit === undefined ? DEFAULT_LIMIT : Math.min(Number(q.limit), MAX_LIMIT),
    });
    res.json({ messages });
  });

  app.post("/ack/:id", jsonBody, async (req: Request, res: Response) => {
    const id = req.params.id as string;
    const { reader } = parse(AckBodySchema, req.body);
    const result = /^[1-9]\d{0,15}$/.test(id) ? await store.ack(Number(id), reader) : null;
    if (!result) throw new HttpError(404, `no message with id ${JSON.stringify(id)}`);
    res.json({ ok: true, id, reader, already: result.already });
  });

  const routes: Record<string, string> = { "/health": "GET, HEAD", "/robots.txt": "GET, HEAD", "/post": "POST", "/messages": "GET, HEAD", "/ack/:id": "POST" };
  for (const [path, allow] of Object.entries(routes)) {
    app.all(path, (req, res) => {
      res.setHeader("Allow", allow);
      sendError(res, 405, `method ${req.method} not allowed on ${req.path}; use ${allow}`);
    });
  }
  app.use((req, res) => sendError(res, 404, `no such route: ${req.method} ${req.path}`));
  app.use(errorHandler(log));
  return app;
}

function requireJson(req: Request, _res: Response, next: NextFunction): void {
  const type = req.headers["content-type"];
  if (!type || !req.is("application/json")) {
    return next(new HttpError(415, "Content-Type must be application/json"));
  }
  const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(type)?.[1];
  if (charset && !/^utf-?8$/i.test(charset)) return next(new HttpError(415, "charset must be utf-8"));
  next();
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

function decodeJson(req: Request, _res: Response, next: NextFunction): void {
  const raw = req.body as unknown;
  if (!Buffer.isBuffer(raw) || raw.length === 0) return next(new HttpError(400, "request body is empty; send a JSON object"));
  let text: string;
  try {
    text = utf8.decode(raw);
  } catch {
    return next(new HttpError(400, "request body is not valid UTF-8"));
  }
  try {
    req.body = JSON.parse(text);
  } catch (error) {
    return next(new HttpError(400, `request body is not valid JSON: ${(error as Error).message}`));
  }
  next();
}

function parse<T extends z.ZodType>(schema: T, value: unknown): z.infer<T> {
  const result = schema.safeParse(value);
  if (!result.success) throw new HttpError(400, describeIssue(result.error));
  return result.data;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
