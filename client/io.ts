/** What a command needs from its process, passed in so commands stay plain functions. */
import { AuthError, UnreachableError } from "./index";

export interface Io {
  out(line: string): void;
  err(line: string): void;
  /** All of stdin as text (only called when a command was told to read it). */
  readStdin(): Promise<string>;
  stdinIsTTY: boolean;
  env: NodeJS.ProcessEnv;
}

/** Exit codes of every subcommand. */
export const EXIT = { ok: 0, usage: 1, failure: 1, auth: 2, unreachable: 3 } as const;

/** A wrong command line: the message is printed with a pointer to --help, exit 1. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

export function exitCodeFor(err: unknown): number {
  if (err instanceof AuthError) return EXIT.auth;
  if (err instanceof UnreachableError) return EXIT.unreachable;
  return EXIT.failure;
}

export function processIo(): Io {
  return {
    out: (line) => process.stdout.write(line + "\n"),
    err: (line) => process.stderr.write(line + "\n"),
    readStdin: async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks).toString("utf8");
    },
    stdinIsTTY: Boolean(process.stdin.isTTY),
    env: process.env,
  };
}
