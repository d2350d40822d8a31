/** The Express app: the routes of docs/API.md, assembled from their modules, behind the bus's own authentication. */
import express, { type Response } from "express";
import { LIVE_PATH } from "../../contract/defaults";
import type { Identity } from "../members/access";
import { type AuthDeps, authenticate } from "../members/authenticate";
import { HttpError, errorHandler, sendError } from "./httpErrors";
import { addBackupRoute } from "../dataDir/backup";
import { addFileRoutes } from "../files/fileRoutes";
import type { FileStore } from "../files/fileStore";
import { sendJson } from "./json";
import { addMembershipRoutes } from "../members/membershipRoutes";
import type { KnownNames } from "../members/nameRules";
import type { Presence } from "../members/presence";
import { addClaimRoutes } from "../claims/claimRoutes";
import type { ClaimStore } from "../claims/claimStore";
import { addMessageRoutes } from "./messageRoutes";
import { addSessionRoutes } from "../members/sessionRoutes";
import { addNotifyRoutes } from "../notify/notifyRoutes";
import type { NotifySettings } from "../notify/notifySettings";
import { addReceiptRoutes, type ReceiptWaiters } from "./receipts";
import type { LongPollSlots } from "./longPollSlots";
import { Routes } from "./routes";
import type { WebAssets } from "../../contract/webApp";
import { addWebAppRoutes } from "../web/webRoutes";
import type { BusStore } from "../store/store";
import type { Waiters } from "../store/waiters";

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
  /** The web inbox's files (null: not built in this tree). */
  web: WebAssets | null;
  /** Each name's ntfy setting. */
  notify: NotifySettings;
}

/** Whose credential a request used, for its log line (a machine's name, or "team"). */
function who(res: Response): { as?: string } {
  const identity = res.locals.identity as Identity | undefined;
  return identity ? { as: identity.kind === "machine" ? identity.name : "team" } : {};
}

export function createApp({ store, dataDir, auth, presence, waiters, files, longPolls, claims, receipts, closing, web, notify }: AppDeps): express.Express {
  const { log, membership } = auth;
  const app = express();
  const routes = new Routes(app);
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
  routes.get(LIVE_PATH, (_req, res) => sendJson(res, 200, { ok: true }));
  // The web inbox's page and files: public, they hold no data (the page asks the API for everything).
  addWebAppRoutes(routes, web);

  const known: KnownNames = { teamUser: () => auth.team.userName, machines: membership, senders: presence };
  app.use(authenticate(auth));
  addMembershipRoutes(routes, auth, known, { presence, unreadCount: (name) => store.unreadCount(name) });
  addSessionRoutes(routes, auth);
  addNotifyRoutes(routes, notify, log);
  addFileRoutes(routes, files, log);
  addMessageRoutes(routes, { store, presence, membership, waiters, files, longPolls, known });
  addReceiptRoutes(routes, store, receipts, longPolls);
  addClaimRoutes(routes, { claims, longPolls, log });
  addBackupRoute(routes, { store, dataDir, presence, membership, files, claims });
  routes.get("/robots.txt", (_req, res) => {
    res.type("text/plain").send("User-agent: *\nDisallow: /\n");
  });

  routes.refuseOtherMethods();
  app.use((req, res) => sendError(res, "notFound", `no such route: ${req.method} ${req.path}`));
  app.use(errorHandler(log));
  return app;
}
