/**
 * The credentials file `~/.secrets/claude-bus.env`: shell-sourceable (`source` in the seed's bash)
 * and dotenv-parsable (the seed's Python). We parse the small common subset of both strictly, so a
 * value means the same thing to bash, python-dotenv and us, and write only that subset.
 */
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { z } from "zod";
import { writeFileAtomic } from "./atomicWrite";

/** A problem with an env file, naming the file and (when it applies) the line. */
export class EnvFileError extends Error {
  constructor(readonly file: string, detail: string, readonly line?: number) {
    super(`${file}${line === undefined ? "" : `:${line}`}: ${detail}`);
    this.name = "EnvFileError";
  }
}

const KNOWN_KEYS = ["BUS_URL", "BUS_USER", "BUS_PASS", "BUS_ME"] as const;

export const BusUrlSchema = z
  .string()
  .refine((value) => {
    try {
      const url = new URL(value);
      return (url.protocol === "https:" || url.protocol === "http:") && !url.username && !url.password;
    } catch {
      return false;
    }
  }, "must be an http(s) URL without credentials in it, like https://claude-bus.example.com");

export const BusUserSchema = z
  .string()
  .min(1, "must not be empty")
  .regex(/^[^:\s]+$/, "must not contain ':' or whitespace (HTTP Basic auth user)");

export const BusPassSchema = z.string().min(1, "must not be empty").regex(/^\S+$/, "must not contain whitespace");

const EnvFileSchema = z.object({
  BUS_URL: BusUrlSchema.optional(),
  BUS_USER: BusUserSchema.optional(),
  BUS_PASS: BusPassSchema.optional(),
  BUS_ME: z.string().optional(),
});
export type EnvFileValues = z.infer<typeof EnvFileSchema>;

const LINE = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$/;
// No '~': bash's `source` expands it at the start of a value and after ':'.
const PLAIN_VALUE = /^[A-Za-z0-9_@%+=:,./-]*$/;

/** Parses env-file text; throws EnvFileError naming `file` and the line on anything ambiguous. */
export function parseEnvFile(text: string, file: string): EnvFileValues {
  const values: Record<string, string> = {};
  const keyLines: Record<string, number> = {};
  const lines = text.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  lines.forEach((raw, index) => {
    const lineNo = index + 1;
    if (raw.endsWith("\r")) {
      throw new EnvFileError(file, "has Windows (CRLF) line endings, which break `source`; convert it with dos2unix", lineNo);
    }
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const match = LINE.exec(line);
    // the line is not echoed: it may hold a pasted password
    if (!match) throw new EnvFileError(file, "expected KEY=VALUE, a # comment or a blank line", lineNo);
    const [, key, rawValue] = match;
    if (!(KNOWN_KEYS as readonly string[]).includes(key)) {
      throw new EnvFileError(file, `unknown key ${key} (allowed: ${KNOWN_KEYS.join(", ")})`, lineNo);
    }
    if (key in values) throw new EnvFileError(file, `${key} is set twice (first on line ${keyLines[key]})`, lineNo);
    values[key] = unquote(rawValue, file, key, lineNo);
    keyLines[key] = lineNo;
  });
  const parsed = EnvFileSchema.safeParse(values);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const key = String(issue.path[0]);
    throw new EnvFileError(file, `${key} ${issue.message}`, keyLines[key]);
  }
  return parsed.data;
}

/** Reads and parses the file; `undefined` when it does not exist. */
export async function readEnvFile(file: string): Promise<EnvFileValues | undefined> {
  let text: string;
  try {
    text = await fs.readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new EnvFileError(file, `cannot read: ${(err as Error).message}`);
  }
  return parseEnvFile(text, file);
}

/** The file text for a credential, in the seed's layout; values quoted only when they must be. */
export function renderEnvFile(values: { BUS_USER: string; BUS_PASS: string; BUS_URL: string; BUS_ME?: string }): string {
  const lines = [`BUS_USER=${quote(values.BUS_USER)}`, `BUS_PASS=${quote(values.BUS_PASS)}`, `BUS_URL=${quote(values.BUS_URL)}`];
  if (values.BUS_ME) lines.push(`BUS_ME=${quote(values.BUS_ME)}`);
  return lines.join("\n") + "\n";
}

/** Writes the credential file atomically with mode 0600, creating its directory with mode 0700. */
export async function writeEnvFile(file: string, text: string): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  await writeFileAtomic(file, text, 0o600);
}

function unquote(raw: string, file: string, key: string, lineNo: number): string {
  if (raw.startsWith("'")) {
    if (raw.length < 2 || !raw.endsWith("'") || raw.slice(1, -1).includes("'")) {
      throw new EnvFileError(file, `${key}: unbalanced single quotes`, lineNo);
    }
    return raw.slice(1, -1);
  }
  if (raw.startsWith('"')) {
    const inner = raw.slice(1, -1);
    if (raw.length < 2 || !raw.endsWith('"') || /["\\$`]/.test(inner)) {
      throw new EnvFileError(file, `${key}: double-quoted value must be closed and contain no " \\ $ or \` (use single quotes)`, lineNo);
    }
    return inner;
  }
  if (!PLAIN_VALUE.test(raw)) {
    throw new EnvFileError(file, `${key}: unquoted value contains spaces or shell characters; wrap it in single quotes`, lineNo);
  }
  return raw;
}

function quote(value: string): string {
  if (PLAIN_VALUE.test(value)) return value;
  if (value.includes("'")) throw new Error("a bus credential value cannot contain a single quote");
  return `'${value}'`;
}
