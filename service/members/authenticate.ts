/**
 * The one place requests are authenticated (nginx does not: it keeps TLS, limits and headers, and
 * passes the client's address). Runs before every route: a request without a working credential gets
 * 401 and reaches no handler; an address that guessed too often gets 429. POST /enroll is the one route
 * without Basic auth: its invite code is its credential, checked by the same failure count.
 */
import { createHash } from "crypto";
import type { RequestHandler, Response } from "express";
import { AUTH_REALM } from "../../contract/httpErrors";
import type { Identity, TeamCredentialRole } from "./access";
import { AuthFailures, clientAddress } from "./authFailures";
import { BasicCredential, CredentialChecker, parseBasic } from "./credentials";
import { sendError } from "../http/httpErrors";
import type { Log } from "../log";
import type { Membership } from "./membership";

export interface AuthDeps {
  team: CredentialChecker;
  teamRole: TeamCredentialRole;
  membership: Membership;
  failures: AuthFailures;
  /** Whether nginx on this host is in front: only then does its X-Real-IP name the client. */
  behindProxy: boolean;
  log: Log;
  /** A machine credential worked now (GET /machines shows it as last_used). */
  used: (name: string, time: number) => void;
}

/** The route whose body carries its credential. */
export const ENROLL_PATH = "/enroll";

/** A wrong credential's fingerprint: different guesses count, one repeated does not (see authFailures.ts). */
export const fingerprint = (secret: Buffer | string): string => createHash("sha256").update(secret).digest("hex").slice(0, 16);

export function identify(credential: BasicCredential, deps: AuthDeps): Identity | null {
  if (deps.team.isUser(credential.user)) return deps.team.check(credential) ? { kind: "team", user: deps.team.userName, role: deps.teamRole } : null;
  const name = credential.user.toString("utf8");
  const ok = deps.membership.check(name, credential.pass, Date.now(), (error) => deps.log({ level: "error", msg: "rotation not recorded", machine: name, error: error.message }));
  if (!ok) return null;
  deps.used(name, Date.now());
  return { kind: "machine", name };
}

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
    if (req.path === ENROLL_PATH) return next();
    const credential = parseBasic(req.headers.authorization);
    const identity = credential && identify(credential, deps);
    if (identity) {
      res.locals.identity = identity;
      return next();
    }
    // A missing credential is no guess (a browser's first request, a client not set up): not counted.
    if (credential) countFailure(deps, address, Buffer.concat([credential.user, Buffer.from(":"), credential.pass]), "login");
    res.setHeader("WWW-Authenticate", `Basic realm="${AUTH_REALM}"`);
    sendError(res, "unauthorized");
  };
}
