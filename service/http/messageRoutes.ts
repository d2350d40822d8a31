/**
 * The routes of messages (docs/API.md): post, read (with long-poll), acknowledge, and the store's health.
 */
import type { Request, Response } from "express";
import { AUTH_REALM } from "../../contract/httpErrors";
import { DEFAULT_PAGE_LIMIT, MAX_BODY_BYTES, MAX_PAGE_LIMIT } from "../../contract/defaults";
import {
  AckBodySchema,
  BatchAckBodySchema,
  IDEMPOTENCY_KEY_PATTERN,
  isBodyTooLarge,
  MESSAGE_ID_PATTERN,
  MessagesQuerySchema,
  PostBodySchema,
} from "../../contract/message";
import { authorize, requireSelf } from "../members/access";
import { identityOf, sessionOf } from "../members/authenticate";
import { checkAttachments } from "../files/fileRoutes";
import type { FileStore } from "../files/fileStore";
import type { Membership } from "../members/membership";
import { checkName, type KnownNames } from "../members/nameRules";
import type { Presence } from "../members/presence";
import { writePage } from "../store/page";
import { writeSearch } from "../store/search";
import { SearchQuerySchema } from "../../contract/search";
import { type BusStore, IdempotencyConflict } from "../store/store";
import type { Waiters } from "../store/waiters";
import { HttpError } from "./httpErrors";
import { jsonBody, parse, parseQuery, sendJson } from "./json";
import { waitForMessage } from "./longPoll";
import { type LongPollSlots, takeLongPollSlot } from "./longPollSlots";
import type { Routes } from "./routes";

export interface MessageRouteDeps {
  store: BusStore;
  presence: Presence;
  membership: Membership;
  waiters: Waiters;
  files: FileStore;
  /** Long-polls each credential may hold at once. */
  longPolls: LongPollSlots;
  known: KnownNames;
}

export function addMessageRoutes(routes: Routes, { store, presence, membership, waiters, files, longPolls, known }: MessageRouteDeps): void {
  routes.get("/health", (_req, res) => {
    sendJson(res, 200, {
      ok: true,
      count: store.count,
      now: new Date().toISOString(),
      oldest: store.oldest === null ? null : String(store.oldest),
      bytes: store.bytes,
    });
  });

  routes.post("/post", jsonBody, async (req: Request, res: Response) => {
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
    if (input.reply_to !== undefined && !store.has(Number(input.reply_to)))
      throw new HttpError("badRequest", `reply_to: no message with id "${input.reply_to}"`);
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

  routes.get("/messages", async (req, res) => {
    const identity = identityOf(res);
    authorize(identity, "read");
    if (req.query.q !== undefined) return searchMessages(req, res);
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
      // Not to a browser: the challenge would open its own login dialog over the app.
      if (!sessionOf(res)) res.setHeader("WWW-Authenticate", `Basic realm="${AUTH_REALM}"`);
      throw new HttpError("unauthorized", `the credential of "${identity.name}" was revoked`);
    }
    await writePage(res, store, selection);
  });

  /** GET /messages?q=...: full-text search (store/search.ts). */
  async function searchMessages(req: Request, res: Response): Promise<void> {
    const q = parseQuery(SearchQuerySchema, req.query);
    presence.named([q.to, q.from]);
    const filters = { to: q.to, from: q.from, tag: q.tag, thread: q.thread === undefined ? undefined : Number(q.thread) };
    const limit = q.limit === undefined ? DEFAULT_PAGE_LIMIT : Math.min(Number(q.limit), MAX_PAGE_LIMIT);
    await writeSearch(res, store, { q: q.q, before: q.before === undefined ? undefined : Number(q.before), limit, filters });
  }

  routes.post("/ack", jsonBody, async (req: Request, res: Response) => {
    const { reader, ids } = parse(BatchAckBodySchema, req.body, { root: "request body", unknown: "field" });
    authorize(identityOf(res), "ack");
    requireSelf(identityOf(res), "reader", reader);
    presence.named([reader]);
    const result = await store.ackMany(reader, ids.map(Number));
    const strings = (list: number[]) => list.map(String);
    sendJson(res, 200, { ok: true, reader, acked: strings(result.acked), already: strings(result.already), unknown: strings(result.unknown) });
  });

  routes.post("/ack/:id", jsonBody, async (req: Request, res: Response) => {
    const id = req.params.id as string;
    const { reader } = parse(AckBodySchema, req.body, { root: "request body", unknown: "field" });
    authorize(identityOf(res), "ack");
    requireSelf(identityOf(res), "reader", reader);
    presence.named([reader]);
    const result = MESSAGE_ID_PATTERN.test(id) ? await store.ack(Number(id), reader) : null;
    if (!result) throw new HttpError("notFound", `no message with id ${JSON.stringify(id)}`);
    sendJson(res, 200, { ok: true, id, reader, already: result.already });
  });
}
