/** What can go wrong talking to a bus, one class each, so callers (and exit codes) can tell them apart. */
import type { Claim } from "../contract/claims";

/** The bus answered 401: wrong or missing credential. */
export class AuthError extends Error {
  readonly status = 401;
  constructor(url: string) {
    super(`the bus at ${url} rejected the credential (401): check BUS_USER/BUS_PASS`);
    this.name = "AuthError";
  }
}

/** No HTTP answer at all: DNS, refused connection, reset, TLS failure or timeout. */
export class UnreachableError extends Error {
  constructor(
    url: string,
    reason: string,
    readonly code?: string,
  ) {
    super(`cannot reach the bus at ${url}: ${reason}`);
    this.name = "UnreachableError";
  }
}

/** A plain http:// URL to another host: the credential would cross the network unencrypted. */
export class InsecureUrlError extends Error {
  constructor(url: string) {
    super(`refusing to send the bus credential unencrypted to ${url}: use its https:// URL (plain http is for this machine's loopback only)`);
    this.name = "InsecureUrlError";
  }
}

/** Any other non-success answer, with the server's own error text. */
export class BusError extends Error {
  constructor(
    readonly status: number,
    readonly serverError: string,
  ) {
    super(`the bus answered ${status}: ${serverError}`);
    this.name = "BusError";
  }
}

/** A 409 of POST /claims: another holder's live claim is in the way (`heldBy`, as the bus answered it). */
export class ClaimHeldError extends BusError {
  constructor(
    serverError: string,
    readonly heldBy: Claim,
  ) {
    super(409, serverError);
    this.name = "ClaimHeldError";
  }
}

/** What a non-success answer says: the bus's JSON `error`, else the start of the page (a proxy's HTML, say). */
export function serverErrorText(text: string): string {
  try {
    const json = JSON.parse(text) as { error?: unknown };
    if (typeof json.error === "string") return json.error;
  } catch {
    // not JSON (a proxy's HTML error page, say): show its start below
  }
  return text.trim().slice(0, 200) || "(empty response)";
}
