/**
 * `claude-bus invite | revoke | machines`: who may sign in to the bus with a credential of its own.
 * Inviting and revoking need the team credential; the bus says so (403) to anyone else.
 */
import { createBusClient, type Roster } from "../../client/index";
import { booleanOption, type ParsedCommand, stringOption } from "../args";
import { connectionFlags, resolveConfig } from "../config";
import { EXIT } from "../exitCodes";
import { type Io, UsageError } from "../io";

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3_600, d: 86_400 };

/** `600`, `600s`, `10m`, `1h`, `7d` in seconds (the bus checks the range). */
export function parseDuration(text: string, what: string): number {
  const match = /^(\d{1,7})([smhd]?)$/.exec(text);
  if (!match) throw new UsageError(`${what} must be a number with an optional unit s, m, h or d (30m, 1h, 7d), got ${JSON.stringify(text)}`);
  return Number(match[1]) * UNIT_SECONDS[match[2] || "s"];
}

function oneName(command: string, parsed: { positionals: string[] }): string {
  if (parsed.positionals.length !== 1) throw new UsageError(`${command} takes exactly one machine NAME`);
  return parsed.positionals[0];
}

export async function invite(parsed: ParsedCommand<"invite">, io: Io): Promise<number> {
  const name = oneName("invite", parsed);
  const ttl = stringOption(parsed, "ttl");
  const person = booleanOption(parsed, "person");
  const admin = booleanOption(parsed, "admin");
  if (admin && !person) throw new UsageError("--admin is for a person: add --person");
  const cfg = await resolveConfig(connectionFlags(parsed), io);
  const answer = await createBusClient(cfg).invite(name, ttl === undefined ? undefined : parseDuration(ttl, "--ttl"), { person, admin });
  if (booleanOption(parsed, "json")) {
    io.out(JSON.stringify(answer));
    return EXIT.ok;
  }
  io.out(`invite for ${person ? `${admin ? "the admin person" : "the person"} ` : ""}${answer.name}: works once, until ${answer.expires}`);
  io.out(`  code: ${answer.code}`);
  if (person) {
    io.out("open this link in a browser (it signs in and shows the person's secret once):");
    io.out(`  ${cfg.url.replace(/\/+$/, "")}/#join=${answer.code}`);
  } else {
    io.out("on the new machine, run:");
    io.out(`  claude-bus bootstrap --invite ${answer.code} --url ${cfg.url}`);
  }
  io.out(`until then the code is a credential: whoever uses it first becomes ${answer.name}. If ${answer.name} is told it was used, revoke it`);
  return EXIT.ok;
}

export async function revoke(parsed: ParsedCommand<"revoke">, io: Io): Promise<number> {
  const name = oneName("revoke", parsed);
  const cfg = await resolveConfig(connectionFlags(parsed), io);
  const answer = await createBusClient(cfg).revoke(name);
  if (booleanOption(parsed, "json")) io.out(JSON.stringify(answer));
  else
    io.out(
      answer.already
        ? `${name} was revoked already (${answer.revoked})`
        : `revoked ${name}: its credential stopped working at ${answer.revoked}; every other machine is untouched`,
    );
  return EXIT.ok;
}

export async function machines(parsed: ParsedCommand<"machines">, io: Io): Promise<number> {
  if (parsed.positionals.length > 0) throw new UsageError("machines takes no arguments");
  const cfg = await resolveConfig(connectionFlags(parsed), io);
  const roster = await createBusClient(cfg).roster();
  io.out(booleanOption(parsed, "json") ? JSON.stringify(roster) : rosterTable(roster));
  return EXIT.ok;
}

const when = (iso: string | null | undefined) => (iso ? iso.replace(/\.\d+Z$/, "Z") : "-");

/** " (person)" or " (admin person)" after a person's credential; nothing for a machine's. */
const personLabel = (m: { kind?: string; admin?: boolean }) => (m.kind !== "person" ? "" : m.admin ? " (admin person)" : " (person)");

/** One line per name: its credential's state and times, when it was last seen, and its unread count. */
export function rosterTable({ machines, invites }: Roster): string {
  const rows = [["NAME", "CREDENTIAL", "ISSUED", "ROTATED", "LAST USED", "LAST SEEN", "UNREAD"]];
  for (const m of machines) {
    const c = m.credential;
    const state = (!c ? "none" : c.revoked ? `revoked ${when(c.revoked)}` : "own") + personLabel(m);
    rows.push([m.name, state, when(c?.issued), when(c?.rotated), when(c?.last_used), when(m.last_seen), String(m.unread)]);
  }
  for (const i of invites) rows.push([i.name, `invited${personLabel(i)}, until ${when(i.expires)}`, "-", "-", "-", "-", "-"]);
  const widths = rows[0].map((_, col) => Math.max(...rows.map((row) => row[col].length)));
  return rows
    .map((row) =>
      row
        .map((cell, col) => cell.padEnd(widths[col]))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}
