/**
 * The web app's sign-in (docs/API.md "Browser sessions"): POST /session (name and secret, or the team
 * credential), GET /session, DELETE /session (sign-out), POST /session/enroll (a person's invite code,
 * redeemed in the browser). A failed sign-in counts in the failure limit like a wrong Basic credential.
 * No answer here carries a Basic challenge, which would open the browser's own login dialog. A request
 * that names an Origin must name the bus's own (no other site signs a browser in or out).
 */
import type { Request, Response } from "express";
import { EnrollBodySchema } from "../../contract/message";
import { SignInBodySchema, SessionInfo } from "../../contract/session";
import type { Identity } from "./access";
import { AuthDeps, countFailure, memberIdentity, SESSION_ENROLL_PATH, SESSION_PATH, signedIn } from "./authenticate";
import { HttpError } from "../http/httpErrors";
import { jsonBody, parse } from "../http/json";
import type { Routes } from "../http/routes";
import { MembershipRefusal } from "./membership";
import { refused, sendSecret } from "./membershipRoutes";
import { overTls, sameOrigin, sessionCookie } from "./sessionCookie";
import type { Session } from "./sessions";

const iso = (time: number) => new Date(time).toISOString();

export function addSessionRoutes(routes: Routes, deps: AuthDeps): void {
  const { membership, sessions, team, log } = deps;

  const info = (session: Session, identity: Identity): SessionInfo => ({
    name: session.name,
    kind: identity.kind === "team" ? "team" : membership.kindOf(session.name).kind,
    admin: identity.kind === "team" || identity.admin === true,
    expires: iso(session.expires),
  });

  /** Signs this browser in as `name` (its credential just checked): a new session, and its cookie. */
  async function begin(req: Request, res: Response, name: string, isTeam: boolean): Promise<{ session: Session; identity: Identity }> {
    const issued = isTeam ? 0 : membership.issuedAt(name);
    if (issued === null) throw new HttpError("unauthorized", `the credential of "${name}" was revoked`);
    const { token, session } = await sessions.start(name, isTeam, issued);
    res.setHeader("Set-Cookie", sessionCookie(token, Math.round((session.expires - session.time) / 1000), overTls(req, deps.behindProxy)));
    log({ msg: "signed in", as: isTeam ? "team" : name, address: res.locals.address as string });
    const identity: Identity = isTeam ? { kind: "team", user: name, role: deps.teamRole } : memberIdentity(name, deps);
    return { session, identity };
  }

  /** A browser's request that says it comes from another site's page. */
  const checkOrigin = (req: Request) => {
    if (req.headers.origin !== undefined && !sameOrigin(req, deps.behindProxy)) throw new HttpError("crossOrigin");
  };

  routes.post(SESSION_PATH, jsonBody, async (req: Request, res: Response) => {
    checkOrigin(req);
    const { name, secret } = parse(SignInBodySchema, req.body, { root: "request body", unknown: "field" });
    const user = Buffer.from(name);
    const pass = Buffer.from(secret);
    const isTeam = team.isUser(user);
    const ok = isTeam ? team.check({ user, pass }) : membership.check(name, pass);
    if (!ok) {
      countFailure(deps, res.locals.address as string, `${name}:${secret}`, "sign-in");
      throw new HttpError("unauthorized", "wrong name or secret");
    }
    const { session, identity } = await begin(req, res, isTeam ? team.userName : name, isTeam);
    sendSecret(res, 200, info(session, identity));
  });

  routes.get(SESSION_PATH, (req: Request, res: Response) => {
    const found = signedIn(req, deps);
    if (!found) throw new HttpError("unauthorized", "not signed in: no session, or it ended");
    sendSecret(res, 200, info(found.session, found.identity));
  });

  routes.delete(SESSION_PATH, async (req: Request, res: Response) => {
    if (!sameOrigin(req, deps.behindProxy)) throw new HttpError("crossOrigin");
    const found = signedIn(req, deps);
    if (found) await sessions.end(found.session.id);
    res.setHeader("Set-Cookie", sessionCookie("", 0, overTls(req, deps.behindProxy)));
    sendSecret(res, 200, { ok: true, ended: found !== null });
  });

  routes.post(SESSION_ENROLL_PATH, jsonBody, async (req: Request, res: Response) => {
    checkOrigin(req);
    const { code } = parse(EnrollBodySchema, req.body, { root: "request body", unknown: "field" });
    const address = res.locals.address as string;
    try {
      const enrolled = await membership.enroll(code, Date.now(), "person");
      log({ msg: "machine enrolled", machine: enrolled.name, kind: enrolled.kind, address });
      const { session, identity } = await begin(req, res, enrolled.name, false);
      sendSecret(res, 201, { ...info(session, identity), pass: enrolled.pass });
    } catch (error) {
      if (error instanceof MembershipRefusal && error.reason !== "wrongKind") countFailure(deps, address, code, "enrollment");
      refused(error);
    }
  });
}
