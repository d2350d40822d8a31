/** The Express app: the routes of docs/API.md over the store, behind the bus's own authentication. */
import express, { Request, Response } from "express";
import { AUTH_REALM } from "../contract/httpErrors";
import { DEFAULT_PAGE_LIMIT, LIVE_PATH, MAX_BODY_BYTES, MAX_PAGE_LIMIT } from "../contract/defaults";
import {
  AckBodySchema,
  BatchAckBodySchema,
  IDEMPOTENCY_KEY_PATTERN,
  isBodyTooLarge,
  MESSAGE_ID_PATTERN,
  MessagesQuerySchema,
  PostBodySchema,
} from "../contract/message";
import { authorize, Identity, requireSelf } from "./access";
import { AuthDeps, authenticate, identityOf } from "./authenticate";
import { HttpError, errorHandler, sendError } from "./httpErrors";
import { writeBackup } from "./backup";
import { addFileRoutes, checkAttachments } from "./fileRoutes";
import type { FileStore } from "./fileStore";
import { jsonBody, parse, parseQuery, sendJson } from "./json";
import { addClaimRoutes } from "./claims/claimRoutes";
import type { ClaimStore } from "./claims/claimStore";
import { addMembershipRoutes } from "./membershipRoutes";
import { checkName, KnownNames } from "./nameRules";
import { writePage } from "./page";
import type { Presence } from "./presence";
import { waitForMessage } from "./longPoll";
import { LongPollSlots, takeLongPollSlot } from "./longPollSlots";
import { addReceiptRoutes, ReceiptWaiters } from "./receipts";
import { BusStore, IdempotencyConflict } from "./store";
import type { Waiters } from "./waiters";

export interface AppDeps {
  store: BusStore;
  dataDir: string;
  /** Authentication: the team credential, machines' own, the failure count (and the log). */
  auth: AuthDeps;
  presence: Presence;
  waiters: Waiters;
  files: FileStore;
  /** Long-polls each credential may hold at once. */
  longPolls: LongPollSlots;
  claims: ClaimStore;
  receipts: ReceiptWaiters;
  /** True once shutdown began: answers say Connection: close so keep-alive clients let go. */
  closing: () => boolean;
}

/** Whose credential a request used, for its log line (a machine's name, or "team"). */
function who(res: Response): { as?: string } {
  const identity = res.locals.identity as Identity | undefined;
  return identity ? { as: identity.kind === "machine" ? identity.name : "team" } : {};
}

export function createApp({ store, dataDir, auth, presence, waiters, files, longPolls, claims, receipts, closing }: AppDeps): express.Express {
  const { log, membership } = auth;
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);

  app.use((req, res, next) => {
    const started = process.hrtime.bigint();
    res.setHeader("X-Robots-Tag", "noindex");
    res.setHeader("X-Content-Type-Options", "nosniff");
    if (closing()) res.setHeader("Connection", "close");
    const elapsed = () => Math.round(Number(process.hrtime.bigint() - started) / 1e4) / 100;
    res.on("finish", () => log({ level: "info", msg: "request", method: req.method, path: req.path, status: res.statusCode, ms: elapsed(), ...who(res) }));
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

  // Liveness for an uptime check: answered before authentication, by this process, and it says nothing of the store.
  app.get(LIVE_PATH, (_req, res) => sendJson(res, 200, { ok: true }));

  const known: KnownNames = { teamUser: () => auth.team.userName, machines: membership, senders: presence };
  app.use(authenticate(auth));
  addMembershipRoutes(app, auth, known);
  addFileRoutes(app, files, log);
  addClaimRoutes(app, { claims, longPolls, log });
  addReceiptRoutes(app, store, receipts, longPolls);

  app.get("/health", (_req, res) => {
    sendJson(res, 200, { ok: true, count: store.count, now: new Date().toISOString(), oldest: store.oldest === null ? null : String(store.oldest), bytes: store.bytes });
  });

  app.get("/backup", async (_req, res) => {
    authorize(identityOf(res), "backup");
    await writeBackup(res, store, dataDir, { presence: presence.serialize(), machines: membership.snapshot(), files: files.snapshot(), claims: claims.snapshot() });
  });

  app.get("/machines", (_req, res) => {
    sendJson(res, 200, { machines: presence.machines((name) => store.unreadCount(name), membership), invites: membership.pendingInvites() });
  });

  app.get("/robots.txt", (_req, res) => {
    res.type("text/plain").send("User-agent: *\nDisallow: /\n");
  });

  app.post("/post", jsonBody, async (req: Request, res: Response) => {
    const body = req.body as { body?: unknown } | null;
    if (isBodyTooLarge(body?.body)) throw new HttpError("tooLarge", `body is larger than ${MAX_BODY_BYTES} bytes of UTF-8`);
    const input = parse(PostBodySchema, body, { root: "request body", unknown: "field" });
    const identity = identityOf(res);
    authorize(identity, "post");
    requireSelf(identity, "from", input.from);
    checkName(input.from, "from", known);
    const key = req.header("Idempotency-Key");
    if (key !== undefined && !IDEMPOTENCY_KEY_PATTERN.test(key)) throw new HttpError("badRequest", "Idempotency-Key: must be 1-128 visible ASCII characters");
    presence.named([input.from, input.to]);
    if (input.reply_to !== undefined && !store.has(Number(input.reply_to))) throw new HttpError("badRequest", `reply_to: no message with id "${input.reply_to}"`);
    const attachments = checkAttachments(files, input.attachments ?? [], identity);
    // Its files cannot expire while the message that attaches them is being written.
    const release = files.pin(attachments.map((a) => a.sha256));
    try {
      const { message, replayed } = await store.post({ ...input, attachments, verified: identity.kind === "machine" }, key);
      if (replayed) res.setHeader("Idempotent-Replayed", "true");
      sendJson(res, replayed ? 200 : 201, message);
    } catch (error) {
      if (error instanceof IdempotencyConflict) throw new HttpError("idempotencyConflict", error.message);
      throw error;
    } finally {
      release();
    }
  });

  app.get("/messages", async (req, res) => {
    const identity = identityOf(res);
    authorize(identity, "read");
    const q = parseQuery(MessagesQuerySchema, req.query);
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
    // A machine revoked while it waits is answered at once: with the 401 its next request would get.
    const revocation = (wake: () => void) => (identity.kind === "machine" ? membership.whenRevoked(identity.name, wake) : () => undefined);
    if (wait > 0 && store.select({ ...selection, limit: 1 }).length === 0) {
      const slot = takeLongPollSlot(longPolls, identity, res, wait * 1000);
      try {
        if (!(await waitForMessage(waiters, selection, wait * 1000, res, revocation))) return;
      } finally {
        slot.release();
      }
    }
    if (identity.kind === "machine" && !membership.isActive(identity.name)) {
      res.setHeader("WWW-Authenticate", `Basic realm="${AUTH_REALM}"`);
      throw new HttpError("unauthorized", `the credential of "${identity.name}" was revoked`);
    }
    await writePage(res, store, selection);
  });

  app.post("/ack", jsonBody, async (req: Request, res: Response) => {
    const { reader, ids } = parse(BatchAckBodySchema, req.body, { root: "request body", unknown: "field" });
    authorize(identityOf(res), "ack");
    requireSelf(identityOf(res), "reader", reader);
    presence.named([reader]);
    const result = await store.ackMany(reader, ids.map(Number));
    const strings = (list: number[]) => list.map(String);
    sendJson(res, 200, { ok: true, reader, acked: strings(result.acked), already: strings(result.already), unknown: strings(result.unknown) });
  });

  app.post("/ack/:id", jsonBody, async (req: Request, res: Response) => {
    const id = req.params.id as string;
    const { reader } = parse(AckBodySchema, req.body, { root: "request body", unknown: "field" });
    authorize(identityOf(res), "ack");
    requireSelf(identityOf(res), "reader", reader);
    presence.named([reader]);
    const result = MESSAGE_ID_PATTERN.test(id) ? await store.ack(Number(id), reader) : null;
    if (!result) throw new HttpError("notFound", `no message with id ${JSON.stringify(id)}`);
    sendJson(res, 200, { ok: true, id, reader, already: result.already });
  });

  const routes: Record<string, string> = {
    "/health": "GET, HEAD",
    [LIVE_PATH]: "GET, HEAD",
    "/robots.txt": "GET, HEAD",
    "/post": "POST",
    "/messages": "GET, HEAD",
    "/ack": "POST",
    "/ack/:id": "POST",
    "/machines": "GET, HEAD",
    "/backup": "GET",
    "/invites": "POST",
    "/enroll": "POST",
    "/machines/:name/revoke": "POST",
    "/machines/:name/rotate": "POST",
    "/files": "POST",
    "/files/:sha256": "GET, HEAD, PUT",
    "/claims": "GET, HEAD, POST",
    "/claims/release": "POST",
    "/messages/:id/receipt": "GET, HEAD",
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
