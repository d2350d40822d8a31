/**
 * Which names may be taken, as an invite's `name` and a post's `from`: never the broadcast address, never
 * the team credential's user, and never one that differs only in case from a machine's (enrolled, revoked
 * or invited), nor, for a name that never posted, from one that has. Past the first two rules a name
 * the bus holds exactly keeps working, so names already on the bus are not locked out; only new
 * look-alikes are refused.
 */
import { BROADCAST } from "../../contract/defaults";
import { HttpError } from "../http/httpErrors";

export interface KnownNames {
  /** The team credential's user now (it changes with a credentials reload). */
  teamUser(): string;
  machines: { has(name: string): boolean; caseTwins(name: string): string[] };
  senders: { hasPosted(name: string): boolean; caseTwins(name: string): string[] };
}

/** Throws a 400 or 409 that says why `name` cannot be used as `field`. */
export function checkName(name: string, field: string, known: KnownNames): void {
  const folded = name.toLowerCase();
  const refuse = (why: string) => new HttpError("conflict", `${field}: "${name}" ${why}; choose another machine name`);
  if (folded === BROADCAST) throw new HttpError("badRequest", `${field}: "${name}" is the broadcast address "${BROADCAST}", never a machine's name`);
  const teamUser = known.teamUser();
  if (folded === teamUser.toLowerCase())
    throw refuse(name === teamUser ? "is the team credential's user" : `differs only in case from the team credential's user "${teamUser}"`);
  if (known.machines.has(name)) return;
  const machine = known.machines.caseTwins(name)[0];
  if (machine !== undefined) throw refuse(`differs only in case from the machine "${machine}"`);
  if (known.senders.hasPosted(name)) return;
  const sender = known.senders.caseTwins(name)[0];
  if (sender !== undefined) throw refuse(`differs only in case from "${sender}", a sender on this bus`);
}
