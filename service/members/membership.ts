/**
 * Machines' own credentials (docs/API.md "Machines and their credentials"): invites, enrollments,
 * rotations and revocations, kept as events in machines.jsonl in the data dir, each fsynced before an
 * answer says it happened. Only SHA-256 hashes of secrets and invite codes are stored: both are long
 * random strings (~190 and ~119 bits), which no hash speed makes guessable, so a fast hash costs
 * nothing per request and loses nothing. Every comparison runs in constant time.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import * as path from "node:path";
import { z } from "zod";
import { MACHINE_SECRET_LENGTH, MAX_MACHINES, MAX_PENDING_INVITES } from "../../contract/defaults";
import type { MachineCredential } from "../../contract/message";
import { MachineName } from "../../contract/names";
import { generateInviteCode, generatePassword } from "../../contract/password";
import { EventLogged, openEventLog } from "../store/eventLog";
import { jsonLine, parseJson } from "../store/jsonl";
import { FileError, READABLE_BY_THE_BUS } from "../store/startupFile";
import type { Log } from "../log";
import { WakeSets } from "../http/wakeSets";

export const MACHINES_FILE = "machines.jsonl";

const Hash = z.string().regex(/^[0-9a-f]{64}$/);
const Time = z.number().int().nonnegative();
/** A person's credential (absent: a machine's), and whether it may invite and revoke as the team credential does. */
const Kind = { kind: z.literal("person").optional(), admin: z.literal(true).optional() };
const EventSchema = z.discriminatedUnion("event", [
  z.strictObject({ event: z.literal("invited"), name: MachineName, code: Hash, expires: Time, time: Time, ...Kind }),
  z.strictObject({ event: z.literal("enrolled"), name: MachineName, code: Hash.optional(), secret: Hash, time: Time, ...Kind }),
  /** A new secret was issued; the old one keeps working until the new one is first used. */
  z.strictObject({ event: z.literal("rotating"), name: MachineName, secret: Hash, time: Time }),
  /** The new secret was used: the old one is gone. */
  z.strictObject({ event: z.literal("rotated"), name: MachineName, time: Time }),
  z.strictObject({ event: z.literal("revoked"), name: MachineName, time: Time }),
]);
type MembershipEvent = z.infer<typeof EventSchema>;

/** What a member is: a machine, or a person (who signs in to the web app); an admin person invites and revokes. */
export interface MemberKind {
  kind: "machine" | "person";
  admin: boolean;
}
const MACHINE: MemberKind = { kind: "machine", admin: false };
const kindFields = (k: MemberKind) => ({ ...(k.kind === "person" && { kind: "person" as const }), ...(k.admin && { admin: true as const }) });
const kindOfEvent = (e: { kind?: "person"; admin?: true }): MemberKind => ({ kind: e.kind ?? "machine", admin: e.admin === true });

interface Member extends MemberKind {
  name: string;
  secret: Buffer;
  /** A rotation's new secret, until it is first used. */
  next: Buffer | null;
  issued: number;
  rotated: number | null;
  revoked: number | null;
}

interface Invite extends MemberKind {
  name: string;
  code: string;
  expires: number;
  time: number;
}

/** Why a request about membership cannot be done: the HTTP layer maps `reason` to an answer. */
export class MembershipRefusal extends Error {
  constructor(
    readonly reason: "enrolled" | "full" | "unknownCode" | "expiredCode" | "notMember" | "wrongKind",
    message: string,
  ) {
    super(message);
  }
}

function parseEvent(text: string, lineNo: number, file: string): MembershipEvent {
  const parsed = EventSchema.safeParse(parseJson(text));
  if (!parsed.success) throw new FileError(`${file}: line ${lineNo} is damaged; fix or remove it (removing a "revoked" line lets that machine back in)`);
  return parsed.data;
}

/** Throws unless every line of `text` (a machines.jsonl from a backup) is a whole, valid event. */
export function checkMachinesFile(text: string): void {
  if (text !== "" && !text.endsWith("\n")) throw new Error(`${MACHINES_FILE}: the last line is cut short`);
  text
    .split("\n")
    .slice(0, -1)
    .forEach((line, i) => {
      parseEvent(line, i + 1, MACHINES_FILE);
    });
}

const sha256 = (text: string | Buffer): Buffer => createHash("sha256").update(text).digest();
/** Compared against when a name has no credential, so an unknown name costs what a known one does. */
const NO_SECRET = sha256("no machine has this secret");
const iso = (time: number | null) => (time === null ? null : new Date(time).toISOString());

export class Membership extends EventLogged<MembershipEvent> {
  private readonly members = new Map<string, Member>();
  /** Live invites by the hex hash of their code. */
  private readonly invites = new Map<string, Invite>();
  /** Invite, enroll, revoke and rotate, one at a time: each decides on the state the one before it wrote. */
  private changes: Promise<unknown> = Promise.resolve();
  /** Who to tell when a machine is revoked (its held long-polls), by machine name. */
  private readonly revocationWatchers = new WakeSets<string>();

  private constructor() {
    super();
  }

  /**
   * The membership of a data dir. A line torn by a crash (never answered) is cut off; a damaged whole
   * line stops the start, since skipping a revocation would let a lost machine back in.
   */
  static async open(dataDir: string, log: Log): Promise<Membership> {
    const membership = new Membership();
    const file = path.join(dataDir, MACHINES_FILE);
    const remedy = `it holds the machines' own credentials: ${READABLE_BY_THE_BUS}, or restore it from a backup (claude-bus restore); without it every machine must enroll again`;
    // Compacted once most of it is history (rotations, used invites).
    membership.log = await openEventLog(
      file,
      remedy,
      {
        replay: (text, lineNo) => membership.apply(parseEvent(text, lineNo, file)),
        replayed: () => membership.dropExpiredInvites(Date.now()),
        stateEvents: () => membership.stateEvents(),
      },
      log,
    );
    return membership;
  }

  /** Adds an invite for `name` (replacing any earlier one for it); resolves with its code once on disk. */
  invite(name: string, ttlMs: number, now = Date.now(), kind: MemberKind = MACHINE): Promise<{ name: string; code: string; expires: number } & MemberKind> {
    return this.oneAtATime(async () => {
      const member = this.members.get(name);
      if (member && member.revoked === null)
        throw new MembershipRefusal("enrolled", `"${name}" is already enrolled; revoke it first to enroll a new machine under that name`);
      this.dropExpiredInvites(now);
      const earlier = [...this.invites].find(([, invite]) => invite.name === name);
      if (!earlier && this.invites.size >= MAX_PENDING_INVITES)
        throw new MembershipRefusal("full", `${MAX_PENDING_INVITES} invites are pending; wait until some are used or expire`);
      if (!member && this.members.size >= MAX_MACHINES) throw new MembershipRefusal("full", `${MAX_MACHINES} machines are enrolled, the most this bus keeps`);
      const code = generateInviteCode();
      const event = { event: "invited", name, code: sha256(code).toString("hex"), expires: now + ttlMs, time: now, ...kindFields(kind) } as const;
      await this.append(event);
      return { name, code, expires: event.expires, ...kind };
    });
  }

  /** Exchanges a live invite code for a new credential, once; with `only`, an invite of another kind is refused and stays live. */
  enroll(code: string, now = Date.now(), only?: MemberKind["kind"]): Promise<{ name: string; pass: string } & MemberKind> {
    return this.oneAtATime(async () => {
      const hash = sha256(code).toString("hex");
      // A hash lookup: the code's hash is what is looked up, so timing tells nothing about live codes.
      const invite = this.invites.get(hash);
      if (!invite) throw new MembershipRefusal("unknownCode", "the invite code is unknown or was used already");
      if (invite.expires <= now) throw new MembershipRefusal("expiredCode", `the invite code expired at ${iso(invite.expires)}; ask for a new one`);
      if (only !== undefined && invite.kind !== only)
        throw new MembershipRefusal(
          "wrongKind",
          `this invite is for a ${invite.kind}, not a ${only}: ${invite.kind === "machine" ? "run claude-bus bootstrap --invite CODE on that machine" : "open its link in a browser"}`,
        );
      // Pending invites may outnumber the machines still allowed: the limit holds at enrollment too.
      if (!this.members.has(invite.name) && this.members.size >= MAX_MACHINES)
        throw new MembershipRefusal("full", `${MAX_MACHINES} machines are enrolled, the most this bus keeps`);
      const pass = generatePassword(MACHINE_SECRET_LENGTH);
      const kind = { kind: invite.kind, admin: invite.admin };
      await this.append({ event: "enrolled", name: invite.name, code: hash, secret: sha256(pass).toString("hex"), time: now, ...kindFields(kind) });
      return { name: invite.name, pass, ...kind };
    });
  }

  /**
   * Whether `pass` is `name`'s secret. The first use of a rotation's new secret ends the old one (the
   * event is written in the background: a crash before it leaves both working, never neither).
   */
  check(name: string, pass: Buffer, now = Date.now(), onError: (error: Error) => void = () => undefined): boolean {
    const member = this.members.get(name);
    const given = sha256(pass);
    const current = timingSafeEqual(given, member?.secret ?? NO_SECRET);
    const next = timingSafeEqual(given, member?.next ?? NO_SECRET);
    if (!member || member.revoked !== null || !(current || next)) return false;
    if (next) {
      member.secret = member.next!;
      member.next = null;
      member.rotated = now;
      this.append({ event: "rotated", name, time: now }).catch(onError);
    }
    return true;
  }

  /** Whether `name` holds a credential that works (a long-poll checks again before it answers). */
  isActive(name: string): boolean {
    const member = this.members.get(name);
    return member !== undefined && member.revoked === null;
  }

  /** A member's kind (a machine's when it has no credential). */
  kindOf(name: string): MemberKind {
    const member = this.members.get(name);
    return member ? { kind: member.kind, admin: member.admin } : MACHINE;
  }

  /** When `name`'s current credential was issued (an enrollment), or null when it has none that works. */
  issuedAt(name: string): number | null {
    const member = this.members.get(name);
    return member && member.revoked === null ? member.issued : null;
  }

  /** Issues `name` a new secret; the current one works until the new one is first used. */
  rotate(name: string, now = Date.now()): Promise<string> {
    return this.oneAtATime(async () => {
      if (!this.isActive(name)) throw new MembershipRefusal("notMember", `"${name}" has no working credential`);
      const pass = generatePassword(MACHINE_SECRET_LENGTH);
      await this.append({ event: "rotating", name, secret: sha256(pass).toString("hex"), time: now });
      return pass;
    });
  }

  /** Ends `name`'s credential and any invite for it: resolves with whether it was revoked already, or null when unknown. */
  revoke(name: string, now = Date.now()): Promise<{ already: boolean; time: number } | null> {
    return this.oneAtATime(async () => {
      const member = this.members.get(name);
      const invited = [...this.invites.values()].some((invite) => invite.name === name);
      if (!member && !invited) return null;
      if (member?.revoked != null && !invited) return { already: true, time: member.revoked };
      await this.append({ event: "revoked", name, time: now });
      this.revocationWatchers.wake(name);
      return { already: false, time: now };
    });
  }

  /** Calls `watcher` once if `name` is revoked before the returned function is called. */
  whenRevoked(name: string, watcher: () => void): () => void {
    return this.revocationWatchers.add(name, watcher);
  }

  /** Every name with a credential, revoked ones too. */
  names(): string[] {
    return [...this.members.keys()];
  }

  /** Whether `name` has a credential (revoked too) or a pending invite. */
  has(name: string, now = Date.now()): boolean {
    return this.members.has(name) || this.invitedNames(now).includes(name);
  }

  /** The names with a credential or a pending invite that differ from `name` only in case. */
  caseTwins(name: string, now = Date.now()): string[] {
    const folded = name.toLowerCase();
    return [...new Set([...this.members.keys(), ...this.invitedNames(now)])].filter((other) => other !== name && other.toLowerCase() === folded);
  }

  /** A name's credential as GET /machines shows it; null when it never had one. */
  credentialOf(name: string, lastUsed: number | null): MachineCredential | null {
    const member = this.members.get(name);
    if (!member) return null;
    return { issued: iso(member.issued)!, rotated: iso(member.rotated), last_used: iso(lastUsed), revoked: iso(member.revoked) };
  }

  /** Invites not yet used or expired, by name. */
  pendingInvites(now = Date.now()): Array<{ name: string; invited: string; expires: string } & MemberKind> {
    this.dropExpiredInvites(now);
    return [...this.invites.values()]
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((i) => ({ name: i.name, invited: iso(i.time)!, expires: iso(i.expires)!, kind: i.kind, admin: i.admin }));
  }

  protected stateEvents(): MembershipEvent[] {
    const events: MembershipEvent[] = [];
    for (const m of this.members.values()) {
      events.push({ event: "enrolled", name: m.name, secret: m.secret.toString("hex"), time: m.issued, ...kindFields(m) });
      if (m.rotated !== null) events.push({ event: "rotated", name: m.name, time: m.rotated });
      if (m.next) events.push({ event: "rotating", name: m.name, secret: m.next.toString("hex"), time: m.rotated ?? m.issued });
      if (m.revoked !== null) events.push({ event: "revoked", name: m.name, time: m.revoked });
    }
    for (const [code, i] of this.invites) events.push({ event: "invited", name: i.name, code, expires: i.expires, time: i.time, ...kindFields(i) });
    return events;
  }

  /** Runs `change` once every change before it has settled (failed ones too). */
  private oneAtATime<T>(change: () => Promise<T>): Promise<T> {
    const result = this.changes.then(change, change);
    this.changes = result.catch(() => undefined);
    return result;
  }

  private async append(event: MembershipEvent): Promise<void> {
    await this.log.append(
      () => jsonLine(event),
      () => this.apply(event),
    );
  }

  /** One event's effect on the state: the same in replay and when it is first written. */
  private apply(event: MembershipEvent): void {
    const member = this.members.get(event.name);
    switch (event.event) {
      case "invited":
        for (const [code, invite] of this.invites) if (invite.name === event.name) this.invites.delete(code);
        this.invites.set(event.code, { name: event.name, code: event.code, expires: event.expires, time: event.time, ...kindOfEvent(event) });
        break;
      case "enrolled":
        if (event.code) this.invites.delete(event.code);
        this.members.set(event.name, {
          name: event.name,
          secret: Buffer.from(event.secret, "hex"),
          next: null,
          issued: event.time,
          rotated: null,
          revoked: null,
          ...kindOfEvent(event),
        });
        break;
      case "rotating":
        if (member) member.next = Buffer.from(event.secret, "hex");
        break;
      case "rotated":
        // Replay: the rotation's new secret takes over (already done in memory when it happened live).
        if (member?.next) {
          member.secret = member.next;
          member.next = null;
        }
        if (member) member.rotated = event.time;
        break;
      case "revoked":
        for (const [code, invite] of this.invites) if (invite.name === event.name) this.invites.delete(code);
        if (member) {
          member.revoked ??= event.time;
          member.next = null;
        }
        break;
    }
  }

  private invitedNames(now: number): string[] {
    this.dropExpiredInvites(now);
    return [...this.invites.values()].map((invite) => invite.name);
  }

  private dropExpiredInvites(now: number): void {
    for (const [code, invite] of this.invites) if (invite.expires <= now) this.invites.delete(code);
  }
}
