/** What a command needs from its process, passed in so commands stay plain functions. */
import { realpathSync } from "node:fs";

export interface Io {
  /** Writes a line to stdout; the promise settles once it has been handed to the OS (a hook acks only then). */
  out(line: string): void | Promise<void>;
  err(line: string): void;
  /** Redraws one status line on stderr in place; absent when stderr is not a terminal (progress is then not shown). */
  status?(text: string): void;
  /** All of stdin as text (only called when a command was told to read it). */
  readStdin(): Promise<string>;
  stdinIsTTY: boolean;
  env: NodeJS.ProcessEnv;
  platform: NodeJS.Platform;
  /** The running CLI script's real path (npm links it as a symlink), for what bootstrap installs to call it. */
  cliPath: string;
}

/** A wrong command line: printed with a pointer to the command's --help. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

export function processIo(): Io {
  return {
    out: (line) =>
      new Promise<void>((resolve, reject) => {
        process.stdout.write(`${line}\n`, (err) => (err ? reject(err) : resolve()));
      }),
    err: (line) => process.stderr.write(`${line}\n`),
    ...(process.stderr.isTTY && { status: (text: string) => process.stderr.write(`\r\x1b[2K${text}`) }),
    readStdin: async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks).toString("utf8");
    },
    stdinIsTTY: Boolean(process.stdin.isTTY),
    env: process.env,
    platform: process.platform,
    cliPath: realpathSync(process.argv[1]),
  };
}
