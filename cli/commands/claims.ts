/**
 * `claude-bus claim | release | claims`: claims with fencing tokens (docs/API.md "Claims"). Resources,
 * notes and holders are another machine's words: every line is printed through visible().
 */
import { type Claim, ClaimHeldError, claimWaiting, createBusClient } from "../../client/index";
import { DEFAULT_CLAIM_TTL_SECONDS } from "../../contract/defaults";
import { booleanOption, type ParsedCommand, stringOption } from "../args";
import { connectionFlags, resolveConfig } from "../config";
import { visible } from "../delivery/visible";
import { EXIT } from "../exitCodes";
import { type Io, UsageError } from "../io";
import { parseDuration } from "./membership";

function oneResource(command: string, parsed: { positionals: string[] }): string {
  if (parsed.positionals.length !== 1) throw new UsageError(`${command} takes exactly one RESOURCE (quote it if it holds spaces)`);
  return parsed.positionals[0];
}

/** One claim as one line: resource, holder, token, until when, and its note. */
export function claimLine(c: Claim): string {
  return visible(`${c.resource}  held by ${c.holder}  token ${c.token}  until ${c.expires}${c.note !== undefined ? `  note: ${c.note}` : ""}`);
}

export async function claim(parsed: ParsedCommand<"claim">, io: Io): Promise<number> {
  const resource = oneResource("claim", parsed);
  const ttlText = stringOption(parsed, "ttl");
  const ttl = ttlText === undefined ? DEFAULT_CLAIM_TTL_SECONDS : parseDuration(ttlText, "--ttl");
  const waitText = stringOption(parsed, "wait");
  const wait = waitText === undefined ? 0 : parseDuration(waitText, "--wait");
  const cfg = await resolveConfig(connectionFlags(parsed), io);
  try {
    const held = await claimWaiting(createBusClient(cfg), { resource, ttl, note: stringOption(parsed, "note"), holder: cfg.me }, wait);
    io.out(
      booleanOption(parsed, "json") ? JSON.stringify(held) : visible(`claimed ${held.resource} as ${held.holder}: token ${held.token}, until ${held.expires}`),
    );
    return EXIT.ok;
  } catch (error) {
    if (!(error instanceof ClaimHeldError)) throw error;
    if (booleanOption(parsed, "json")) io.out(JSON.stringify({ error: error.serverError, held_by: error.heldBy }));
    io.err(`claude-bus claim: not claimed: ${claimLine(error.heldBy)}${wait > 0 ? ` (waited ${waitText})` : ""}`);
    return EXIT.notYet;
  }
}

export async function release(parsed: ParsedCommand<"release">, io: Io): Promise<number> {
  const resource = oneResource("release", parsed);
  const tokenText = stringOption(parsed, "token");
  if (tokenText !== undefined && !/^[1-9]\d{0,15}$/.test(tokenText))
    throw new UsageError(`--token must be a claim's token (a positive whole number), got ${JSON.stringify(tokenText)}`);
  const force = booleanOption(parsed, "force");
  const cfg = await resolveConfig(connectionFlags(parsed), io);
  const answer = await createBusClient(cfg).release({
    resource,
    ...(tokenText !== undefined && { token: Number(tokenText) }),
    ...(force ? { force: true as const } : { holder: cfg.me }),
  });
  if (booleanOption(parsed, "json")) io.out(JSON.stringify(answer));
  else if (!answer.released) io.out(visible(`${resource} was not claimed: nothing to release`));
  else
    io.out(
      visible(`${answer.forced ? "broke" : "released"} ${resource} (token ${answer.claim?.token}${answer.forced ? `, held by ${answer.claim?.holder}` : ""})`),
    );
  return EXIT.ok;
}

export async function claims(parsed: ParsedCommand<"claims">, io: Io): Promise<number> {
  if (parsed.positionals.length > 0)
    throw new UsageError(`claims takes no arguments (got ${JSON.stringify(parsed.positionals[0])}); --prefix P lists those under P`);
  const cfg = await resolveConfig(connectionFlags(parsed), io);
  const holder = booleanOption(parsed, "mine") ? cfg.me : stringOption(parsed, "holder");
  const list = await createBusClient(cfg).claims({ holder, prefix: stringOption(parsed, "prefix") });
  if (booleanOption(parsed, "json")) io.out(JSON.stringify(list));
  else if (list.length === 0) io.err("no live claims");
  else for (const c of list) io.out(claimLine(c));
  return EXIT.ok;
}
