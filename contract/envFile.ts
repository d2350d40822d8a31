/**
 * The credentials env file (`~/.secrets/claude-bus.env` on a client, the service's credentials file on
 * the host, `data/claude-bus.env` of a local bus): shell-sourceable (the seed's `source`) and
 * dotenv-parsable (the seed's Python). Only the small common subset of both is read, strictly, so a
 * value means the same to bash, python-dotenv and us, and only that subset is written.
 */
import { z } from "zod";
import { describeIssue } from "./issues";
import { BusUser, MachineName } from "./names";
import { PasswordText } from "./password";

/** A problem with an env file, naming the file and (when it applies) the line; never the line's text. */
export class EnvFileError extends Error {
  constructor(
    readonly file: string,
    detail: string,
    readonly line?: number,
  ) {
    super(`${file}${line === undefined ? "" : `:${line}`}: ${detail}`);
    this.name = "EnvFileError";
  }
}

/** An http(s) URL with no credentials in it (they would leak into logs and process lists). */
export const BusUrl = z.string().refine((value) => {
  try {
    const url = new URL(value);
    return (url.protocol === "https:" || url.protocol === "http:") && !url.username && !url.password;
  } catch {
    return false;
  }
}, "must be an http(s) URL without credentials in it, like https://claude-bus.example.com");

export const EnvFileSchema = z.object({
  BUS_URL: BusUrl.optional(),
  BUS_USER: BusUser.optional(),
  BUS_PASS: PasswordText.optional(),
  /** This machine's name on the bus (clients). */
  BUS_ME: MachineName.optional(),
  /** Also accepted while set (the service, during a rotation): no request fails while nginx switches. */
  BUS_PASS_PREVIOUS: PasswordText.optional(),
});
export type EnvFileValues = z.infer<typeof EnvFileSchema>;

const LINE = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$/;
// No '~': bash's `source` expands it at the start of a value and after ':'.
const PLAIN_VALUE = /^[A-Za-z0-9_@%+=:,./-]*$/;
// A comment after a value: bash and dotenv both end the value at whitespace followed by '#'.
const TRAILING_COMMENT = /\s+#.*$/;

/**
 * Parses env-file text against a schema of string keys (this file's, or another env file's such as the
 * backup target's); an EnvFileError names `file` and the line on anything ambiguous, never its text.
 */
export function parseEnvText<S extends z.ZodObject>(text: string, file: string, schema: S): z.infer<S> {
  const keys = Object.keys(schema.shape);
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
    if (!keys.includes(key)) throw new EnvFileError(file, `unknown key ${key} (allowed: ${keys.join(", ")})`, lineNo);
    if (key in values) throw new EnvFileError(file, `${key} is set twice (first on line ${keyLines[key]})`, lineNo);
    values[key] = unquote(rawValue, file, key, lineNo);
    keyLines[key] = lineNo;
  });
  const parsed = schema.safeParse(values);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new EnvFileError(file, describeIssue(issue, { root: "the file", between: " " }), keyLines[String(issue.path[0])]);
  }
  return parsed.data;
}

/** Parses credentials env-file text; an EnvFileError names `file` and the line on anything ambiguous. */
export function parseEnvFile(text: string, file: string): EnvFileValues {
  return parseEnvText(text, file, EnvFileSchema);
}

/** KEY=value lines, in the given order, values quoted only when they must be; empty values left out. */
export function renderEnvLines(entries: [string, string | undefined][]): string {
  return entries
    .filter((entry): entry is [string, string] => entry[1] !== undefined && entry[1] !== "")
    .map(([key, value]) => `${key}=${quote(value)}\n`)
    .join("");
}

/** The file text, in the seed's layout (user, password, URL), values quoted only when they must be. */
export function renderEnvFile(values: EnvFileValues & { BUS_USER: string; BUS_PASS: string; BUS_URL: string }): string {
  const order: Array<keyof EnvFileValues> = ["BUS_USER", "BUS_PASS", "BUS_URL", "BUS_ME", "BUS_PASS_PREVIOUS"];
  return renderEnvLines(order.map((key) => [key, values[key]]));
}

function unquote(raw: string, file: string, key: string, lineNo: number): string {
  const quoted = /^(['"])(.*)\1$/.exec(raw.replace(TRAILING_COMMENT, "")) ?? /^(['"])(.*)\1$/.exec(raw);
  if (raw.startsWith("'")) {
    if (!quoted || quoted[2].includes("'")) throw new EnvFileError(file, `${key}: unbalanced single quotes`, lineNo);
    return quoted[2];
  }
  if (raw.startsWith('"')) {
    if (!quoted || /["\\$`]/.test(quoted[2])) {
      throw new EnvFileError(file, `${key}: double-quoted value must be closed and contain no " \\ $ or \` (use single quotes)`, lineNo);
    }
    return quoted[2];
  }
  const value = raw.replace(TRAILING_COMMENT, "");
  if (!PLAIN_VALUE.test(value)) {
    throw new EnvFileError(file, `${key}: unquoted value contains spaces or shell characters; wrap it in single quotes`, lineNo);
  }
  return value;
}

function quote(value: string): string {
  if (PLAIN_VALUE.test(value)) return value;
  if (value.includes("'")) throw new Error("an env file value cannot contain a single quote");
  return `'${value}'`;
}
