/**
 * The one place requests are authenticated (nginx does not: it keeps TLS, limits and headers, and
 * passes the client's address). Runs before every route: a request without a working credential gets
 * 401 and reaches no handler; an address that guessed too often gets 429. POST /enroll and the session
 * routes (sessionRoutes.ts) take no Basic auth: an invite code, or the name and secret in the body, is
 * their credential, checked by the same failure count. A browser's session cookie (sessions.ts) works
 * where Basic auth does, as the name that signed in; a request it sends that may change something must
 * come from the bus's own page (Origin), else 403.
 */
import { createHash } from "node:crypto";
import type { RequestHandler, Response } from "express";
import { AUTH_REALM } from "../../contract/httpErrors";
import type { Identity, TeamCredentialRole } from "./access";
import { type AuthFailures, clientAddress } from "./authFailures";
import { type BasicCredential, type CredentialChecker, parseBasic } from "./credentials";
import { sendError } from "../http/httpErrors";
import type { Log } from "../log";
import type { Membership } from "./membership";
import { isSafeMethod, sameOrigin, sessionToken } from "./sessionCookie";
import type { Session, Sessions } from "./sessions";

export interface AuthDeps {
  team: CredentialChecker;
  teamRole: TeamCredentialRole;
  membership: Membership;
  /** Browser sessions (the web app's sign-in). */
  sessions: Sessions;
  failures: AuthFailures;
  /** Whether nginx on this host is in front: only then does its X-Real-IP name the client. */
  behindProxy: boolean;
  log: Log;
  /** A machine credential worked now (GET /machines shows it as last_used). */
  used: (name: string, time: number) => void;
}

/** The route whose body carries its credential. */
export const ENROLL_PATH = "/enroll";
/** The session routes: each checks its own credential (sessionRoutes.ts). */
export const SESSION_PATH = "/session";
export const SESSION_ENROLL_PATH = "/session/enroll";

/** A wrong credential's fingerprint: different guesses count, one repeated does not (see authFailures.ts). */
export const fingerprint = (secret: Buffer | string): string => createHash("sha256").update(secret).digest("hex").slice(0, 16);

export function identify(credential: BasicCredential, deps: AuthDeps): Identity | null {
  if (deps.team.isUser(credential.user)) return deps.team.check(credential) ? { kind: "team", user: deps.team.userName, role: deps.teamRole } : null;
  const name = credential.user.toString("utf8");
  const ok = deps.membership.check(name, credential.pass, Date.now(), (error) =>
    deps.log({ level: "error", msg: "rotation not recorded", machine: name, error: error.message }),
  );
  if (!ok) return null;
  deps.used(name, Date.now());
  return memberIdentity(name, deps);
}

/** The identity a member's own credential (or its browser session) acts as. */
export function memberIdentity(name: string, deps: AuthDeps): Identity {
  return { kind: "machine", name, ...(deps.membership.kindOf(name).admin && { admin: true as const }) };
}

/**
 * The identity a browser session acts as, while its credential still works: the team credential's while
 * its user is the same, a member's while the credential it signed in with is neither revoked nor replaced
 * by a new enrollment. Null otherwise (the session has ended).
 */
export function sessionIdentity(session: Session, deps: AuthDeps): Identity | null {
  if (session.team) return session.name === deps.team.userName ? { kind: "team", user: session.name, role: deps.teamRole } : null;
  if (deps.membership.issuedAt(session.name) !== session.issued) return null;
  deps.used(session.name, Date.now());
  return memberIdentity(session.name, deps);
}

/** The request's live session and who it acts as, or null. */
export function signedIn(req: Parameters<RequestHandler>[0], deps: AuthDeps): { session: Session; identity: Identity } | null {
  const token = sessionToken(req);
  const session = token === null ? null : deps.sessions.find(token);
  const identity = session && sessionIdentity(session, deps);
  return session && identity ? { session, identity } : null;
}

/** The session this request was authenticated by, if it was. */
export const sessionOf = (res: Response): Session | undefined => res.locals.session as Session | undefined;

/** The identity `authenticate` found for this request. */
export const identityOf = (res: Response): Identity => res.locals.identity as Identity;

/** Counts a failure by this request's address, logging when it starts a block. */
export function countFailure(deps: AuthDeps, address: string, secret: Buffer | string, what: string): void {
  if (deps.failures.failed(address, fingerprint(secret))) deps.log({ level: "warn", msg: `${what}: address blocked`, address });
  else deps.log({ level: "info", msg: `${what} failed`, address });
}

export function authenticate(deps: AuthDeps): RequestHandler {
  return (req, res, next) => {
    const address = clientAddress(req, deps.behindProxy);
    const blocked = deps.failures.blockedFor(address);
    if (blocked > 0) {
      const seconds = Math.ceil(blocked / 1000);
      res.setHeader("Retry-After", String(seconds));
      return sendError(res, "rateLimited", `too many failed logins from this address; try again in ${seconds} s`);
    }
    res.locals.address = address;
    if (req.path === ENROLL_PATH || req.path === SESSION_PATH || req.path === SESSION_ENROLL_PATH) return next();
    const credential = parseBasic(req.headers.authorization);
    const identity = credential && identify(credential, deps);
    if (identity) {
      res.locals.identity = identity;
      return next();
    }
    const session = credential ? null : signedIn(req, deps);
    if (session) {
      if (!isSafeMethod(req.method) && !sameOrigin(req, deps.behindProxy)) return sendError(res, "crossOrigin");
      res.locals.identity = session.identity;
      res.locals.session = session.session;
      return next();
    }
    // A missing credential is no guess (a browser's first request, a client not set up): not counted.
    if (credential) countFailure(deps, address, Buffer.concat([credential.user, Buffer.from(":"), credential.pass]), "login");
    // Not to a browser whose session ended: the challenge would open its own login dialog over the app.
    if (sessionToken(req) === null) res.setHeader("WWW-Authenticate", `Basic realm="${AUTH_REALM}"`);
    sendError(res, "unauthorized");
  };
}
