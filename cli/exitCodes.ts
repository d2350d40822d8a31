/** Every exit code of the `claude-bus` command, in one table: the usage text and the code both read it. */
import { AuthError, UnreachableError } from "../client/index";

export const EXIT_CODES = {
  ok: { code: 0, meaning: "done" },
  failure: { code: 1, meaning: "a wrong command line, a missing or invalid env file or config, or another error (the message says which)" },
  auth: { code: 2, meaning: "the bus rejected the credential (401)" },
  unreachable: { code: 3, meaning: "the bus, or for provision the SSH host, cannot be reached" },
  stepFailed: { code: 4, meaning: "a host step failed (provision, rotate --ssh)" },
  notYet: { code: 5, meaning: "claim: another holder has the resource (after --wait); post --wait-read: not read in time" },
} as const;

export const EXIT = Object.fromEntries(Object.entries(EXIT_CODES).map(([name, { code }]) => [name, code])) as {
  [K in keyof typeof EXIT_CODES]: (typeof EXIT_CODES)[K]["code"];
};

/** The exit code an error means; commands that know better return their own. */
export function exitCodeFor(err: unknown): number {
  if (err instanceof AuthError) return EXIT.auth;
  if (err instanceof UnreachableError) return EXIT.unreachable;
  return EXIT.failure;
}
