/**
 * The routes of machine credentials (docs/API.md "Machines and their credentials"): invite, enroll,
 * revoke, rotate. Answers that carry a secret or code say Cache-Control: no-store; the log names
 * machines and addresses, never a secret or code.
 */
import type { Request, Response } from "express";
import { DEFAULT_INVITE_SECONDS } from "../../contract/defaults";
import { EnrollBodySchema, InviteBodySchema } from "../../contract/message";
import { MachineName } from "../../contract/names";
import { authorize } from "./access";
import { type AuthDeps, countFailure, ENROLL_PATH, identityOf, sessionOf } from "./authenticate";
import { HttpError } from "../http/httpErrors";
import { jsonBody, parse, sendJson } from "../http/json";
import type { Routes } from "../http/routes";
import { MembershipRefusal } from "./membership";
import { checkName, type KnownNames } from "./nameRules";
import type { Presence } from "./presence";

const iso = (time: number) => new Date(time).toISOString();

export function sendSecret(res: Response, status: number, value: unknown): void {
  res.setHeader("Cache-Control", "no-store");
  sendJson(res, status, value);
}

/** A refusal as the answer it deserves. */
export function refused(error: unknown): never {
  if (!(error instanceof MembershipRefusal)) throw error;
  const kind = (
    {
      enrolled: "conflict",
      full: "conflict",
      unknownCode: "inviteRejected",
      expiredCode: "inviteRejected",
      notMember: "forbidden",
      wrongKind: "inviteRejected",
    } as const
  )[error.reason];
  throw new HttpError(kind, error.message);
}

function machineParam(value: unknown): string {
  const name = MachineName.safeParse(value);
  if (!name.success) throw new HttpError("badRequest", `machine name ${JSON.stringify(value)}: ${name.error.issues[0].message}`);
  return name.data;
}

/** What GET /machines shows beside the credentials: when each name was last seen, and its unread count. */
export interface MachinesView {
  presence: Presence;
  unreadCount: (name: string) => number;
}

export function addMembershipRoutes(routes: Routes, deps: AuthDeps, known: KnownNames, view: MachinesView): void {
  const { membership, log } = deps;

  routes.get("/machines", (_req, res) => {
    const machines = view.presence.machines(view.unreadCount, membership).map((m) => ({ ...m, ...membership.kindOf(m.name) }));
    sendJson(res, 200, { machines, invites: membership.pendingInvites() });
  });

  routes.post("/invites", jsonBody, async (req: Request, res: Response) => {
    authorize(identityOf(res), "invite");
    const input = parse(InviteBodySchema, req.body, { root: "request body", unknown: "field" });
    if (input.admin === true && input.kind !== "person") throw new HttpError("badRequest", 'admin: only a person is an admin (send "kind": "person")');
    checkName(input.name, "name", known);
    const kind = { kind: input.kind ?? "machine", admin: input.admin === true };
    const invite = await membership.invite(input.name, (input.ttl_seconds ?? DEFAULT_INVITE_SECONDS) * 1000, Date.now(), kind).catch(refused);
    log({ msg: "machine invited", machine: invite.name, kind: invite.kind, admin: invite.admin, expires: iso(invite.expires) });
    sendSecret(res, 201, { name: invite.name, code: invite.code, expires: iso(invite.expires), kind: invite.kind, admin: invite.admin });
  });

  routes.post(ENROLL_PATH, jsonBody, async (req: Request, res: Response) => {
    const { code } = parse(EnrollBodySchema, req.body, { root: "request body", unknown: "field" });
    const address = res.locals.address as string;
    try {
      const enrolled = await membership.enroll(code);
      log({ msg: "machine enrolled", machine: enrolled.name, address });
      sendSecret(res, 201, { name: enrolled.name, user: enrolled.name, pass: enrolled.pass });
    } catch (error) {
      if (error instanceof MembershipRefusal) countFailure(deps, address, code, "enrollment");
      refused(error);
    }
  });

  routes.post("/machines/:name/revoke", async (req, res) => {
    authorize(identityOf(res), "revoke");
    const name = machineParam(req.params.name);
    const result = await membership.revoke(name);
    if (!result) throw new HttpError("notFound", `no machine named "${name}" has a credential or an invite`);
    if (!result.already) log({ msg: "machine revoked", machine: name });
    sendJson(res, 200, { ok: true, name, revoked: iso(result.time), already: result.already });
  });

  routes.post("/machines/:name/rotate", async (req, res) => {
    const identity = identityOf(res);
    authorize(identity, "rotate");
    const name = machineParam(req.params.name);
    if (identity.kind === "machine" && identity.name !== name)
      throw new HttpError("forbidden", `"${identity.name}" may rotate only its own secret, not "${name}"'s`);
    const pass = await membership.rotate(name).catch(refused);
    // A new secret ends the name's browser sessions (a leaked secret's too), all but the one asking.
    await deps.sessions.endWhere((s) => !s.team && s.name === name, sessionOf(res)?.id);
    log({ msg: "machine secret rotating", machine: name });
    sendSecret(res, 200, { name, pass });
  });
}
