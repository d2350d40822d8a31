/**
 * Who may do what (docs/API.md "Machines and their credentials"), in one table. A machine credential
 * acts as its machine only; the team credential acts as anyone unless the bus makes it admin-only.
 */
import type { TeamCredentialRole } from "../../contract/serviceOptions";
import { HttpError } from "../http/httpErrors";

export type { TeamCredentialRole };

/** A member's own credential ("machine": a machine's or a person's); `admin` for a person who may invite and revoke. */
export type Identity = { kind: "team"; user: string; role: TeamCredentialRole } | { kind: "machine"; name: string; admin?: true };

export type Action = "health" | "list" | "read" | "post" | "ack" | "upload" | "download" | "invite" | "revoke" | "backup" | "rotate" | "claim" | "breakClaim";

const converses = (id: Identity) => id.kind === "machine" || id.role === "member";
const isTeam = (id: Identity) => id.kind === "team";
const administers = (id: Identity) => isTeam(id) || id.admin === true;

/** Each action: who may, and what a refusal says. */
const RULES: Record<Action, { may: (id: Identity) => boolean; refusal: string }> = {
  health: { may: () => true, refusal: "" },
  list: { may: () => true, refusal: "" },
  read: { may: converses, refusal: "the team credential is admin-only on this bus: read with a machine's credential" },
  post: { may: converses, refusal: "the team credential is admin-only on this bus: post with a machine's credential" },
  ack: { may: converses, refusal: "the team credential is admin-only on this bus: ack with a machine's credential" },
  upload: { may: converses, refusal: "the team credential is admin-only on this bus: upload with a machine's credential" },
  download: { may: converses, refusal: "the team credential is admin-only on this bus: download with a machine's credential" },
  invite: { may: administers, refusal: "only the team credential or an admin person may invite" },
  revoke: { may: administers, refusal: "only the team credential or an admin person may revoke" },
  backup: { may: isTeam, refusal: "only the team credential may take a backup" },
  claim: { may: converses, refusal: "the team credential is admin-only on this bus: claim with a machine's credential" },
  breakClaim: { may: administers, refusal: 'only the team credential or an admin person may break another holder\'s claim ("force": true)' },
  rotate: {
    may: (id) => id.kind === "machine",
    refusal: "only a machine credential rotates here (its own secret); the team password rotates with the deployment",
  },
};

export function authorize(id: Identity, action: Action): void {
  const rule = RULES[action];
  if (!rule.may(id)) throw new HttpError("forbidden", rule.refusal);
}

/** A machine credential names only its own machine as `from` (posts) or `reader` (acks). */
export function requireSelf(id: Identity, field: "from" | "reader", name: string): void {
  if (id.kind === "machine" && id.name !== name) {
    throw new HttpError(
      "forbidden",
      `${field}: "${name}" is not this credential's machine "${id.name}"; a machine ${field === "from" ? "posts" : "acks"} as itself`,
    );
  }
}
