/**
 * The files the bus reads when it starts (the credentials file, and in the data dir compacted.json,
 * presence.json, machines.jsonl, files.jsonl, bus.jsonl, acks.jsonl, claims.jsonl). One that cannot be read or parsed
 * stops the start with an error that names the file and says what to do: never a bare
 * `Unexpected end of JSON input` or `EACCES` that leaves the reader guessing which file it was.
 */

/** An error whose message names its file and what to do already: passed on as it is. */
export class FileError extends Error {}

/** For a file whose content, not its reading, went wrong: the bus's user must be able to read it. */
export const READABLE_BY_THE_BUS = "make it readable by the user the bus runs as (on the host: chown claude-bus)";

/** Why reading failed, in words: the system's code for an I/O error, the parser's message otherwise. */
function reason(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  if (typeof e?.code === "string" && typeof e.syscall === "string") return `cannot be read (${e.message.split(",")[0]})`;
  if (error instanceof SyntaxError) return `is not valid JSON (${error.message})`;
  return error instanceof Error ? error.message : String(error);
}

const named = (file: string, remedy: string, error: unknown): FileError =>
  error instanceof FileError ? error : new FileError(`${file} ${reason(error)}: ${remedy}`);

/** `read()`'s result (or its promise's); what it throws becomes one error naming `file` and `remedy`. */
export function readAtStart<T>(file: string, remedy: string, read: () => T): T {
  let result: T;
  try {
    result = read();
  } catch (error) {
    throw named(file, remedy, error);
  }
  if (result instanceof Promise) return result.catch((error: unknown) => Promise.reject(named(file, remedy, error))) as T;
  return result;
}
