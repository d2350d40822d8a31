/**
 * Where the CLI's bus URL, credential and machine name come from, highest precedence first: flags
 * (--url, --user, --me), then the environment (BUS_URL, BUS_USER, BUS_PASS, BUS_ME), then the env file
 * (~/.secrets/claude-bus.env). There is deliberately no password flag: process arguments are visible to
 * every user of the machine, so the password comes from the environment or the file only.
 */
import * as os from "node:os";
import * as path from "node:path";
import { ENV_FILE_IN_HOME } from "../contract/defaults";
import { BusUrl } from "../contract/envFile";
import { describeIssue } from "../contract/issues";
import { BusUser, MachineName } from "../contract/names";
import { PasswordText } from "../contract/password";
import { isLoopbackUrl } from "../client/index";
import { booleanOption, stringOption, type OptionValues, type Parsed } from "./args";
import type { CONNECTION } from "./usage";
import { readEnvFile } from "./envFileStore";
import type { Io } from "./io";

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

export interface ConfigFlags {
  url?: string;
  user?: string;
  me?: string;
  envFile?: string;
  insecureHttp?: boolean;
}

export interface Credential {
  url: string;
  user: string;
  pass: string;
  /** --insecure-http: plain http:// to another host is allowed (with a warning). */
  allowInsecureHttp?: boolean;
}

export interface ClientConfig extends Credential {
  me: string;
  envFile: string;
}

export function connectionFlags(parsed: Parsed<OptionValues<typeof CONNECTION>>): ConfigFlags {
  return {
    url: stringOption(parsed, "url"),
    user: stringOption(parsed, "user"),
    me: stringOption(parsed, "me"),
    envFile: stringOption(parsed, "env-file"),
    insecureHttp: booleanOption(parsed, "insecure-http"),
  };
}

/** `--env-file`, else BUS_ENV_FILE, else ~/.secrets/claude-bus.env; `named` when the user chose it. */
export function envFilePath(flags: ConfigFlags, env: NodeJS.ProcessEnv): { file: string; named?: string } {
  if (flags.envFile) return { file: path.resolve(flags.envFile), named: "--env-file" };
  if (env.BUS_ENV_FILE) return { file: path.resolve(env.BUS_ENV_FILE), named: "BUS_ENV_FILE" };
  return { file: path.join(os.homedir(), ENV_FILE_IN_HOME) };
}

/** The full config for commands that talk to the bus; a ConfigError says what is missing and how to fix it. */
export async function resolveConfig(flags: ConfigFlags, io: Io): Promise<ClientConfig> {
  const { file: envFile, named } = envFilePath(flags, io.env);
  const file = await readEnvFile(envFile, io.err, io.platform);
  if (file === undefined && named) throw new ConfigError(`${envFile} not found (given by ${named})`);
  const env = io.env;
  const inEnv = "the environment";
  // Each value with where it came from, so an invalid one is reported against its real source.
  const picked = {
    url: firstSet([flags.url, "--url"], [nonEmpty(env.BUS_URL), inEnv], [file?.BUS_URL, envFile]),
    user: firstSet([flags.user, "--user"], [nonEmpty(env.BUS_USER), inEnv], [file?.BUS_USER, envFile]),
    pass: firstSet([nonEmpty(env.BUS_PASS), inEnv], [file?.BUS_PASS, envFile]),
  };
  const missing = (["url", "user", "pass"] as const).filter((key) => picked[key] === undefined);
  if (missing.length > 0) {
    const names = missing.map((key) => `BUS_${key.toUpperCase()}`).join(", ");
    throw new ConfigError(
      file === undefined
        ? `${envFile} not found and ${names} not set in the environment: run \`claude-bus bootstrap\` first (see --help)`
        : `${names} missing: not in ${envFile} nor in the environment`,
    );
  }
  const { url, user, pass } = picked as Record<keyof Credential, Found>;
  const credential = validateCredential({ url: url.value, user: user.value, pass: pass.value }, { url: url.source, user: user.source, pass: pass.source });
  return { ...credential, ...insecureHttp(credential.url, flags, io), me: machineName(flags, env, file?.BUS_ME, io.platform), envFile };
}

/** What --insecure-http allows, said out loud when it matters. */
export function insecureHttp(url: string, flags: ConfigFlags, io: Io): { allowInsecureHttp?: true } {
  if (!flags.insecureHttp || url.startsWith("https:") || isLoopbackUrl(url)) return {};
  io.err(`warning: --insecure-http: the bus password goes to ${url} unencrypted; anyone on the way can read it`);
  return { allowInsecureHttp: true };
}

const CREDENTIAL_RULES = [
  ["BUS_URL", BusUrl, "url"],
  ["BUS_USER", BusUser, "user"],
  ["BUS_PASS", PasswordText, "pass"],
] as const;

/** Validates a credential assembled from outside input; `source` names where it, or each of its values, came from. */
export function validateCredential(
  input: { url?: string; user?: string; pass?: string },
  source: string | Record<"url" | "user" | "pass", string>,
): Credential {
  for (const [name, schema, key] of CREDENTIAL_RULES) {
    const from = typeof source === "string" ? source : source[key];
    const result = schema.safeParse(input[key]);
    if (input[key] === undefined) throw new ConfigError(`${name} missing (${from})`);
    if (!result.success) throw new ConfigError(describeIssue(result.error.issues[0], { root: `${name} from ${from}`, between: " " }));
  }
  return { url: input.url!.replace(/\/+$/, ""), user: input.user!, pass: input.pass! };
}

/** --me, else BUS_ME (environment, then env file), else this host's short name (`hostname -s`; Windows: the computer name). */
export function machineName(
  flags: ConfigFlags,
  env: NodeJS.ProcessEnv,
  fileMe?: string,
  platform: NodeJS.Platform = process.platform,
  hostname = os.hostname(),
): string {
  const found = firstSet([flags.me, "--me"], [nonEmpty(env.BUS_ME), "BUS_ME"], [fileMe, "BUS_ME in the env file"]);
  if (found) return checkName(found.value, found.source);
  // os.hostname() is the computer name on Windows, where no `hostname -s` exists; both cut at the first dot
  const source = platform === "win32" ? "the computer name" : "hostname -s";
  return checkName(hostname.split(".")[0], `${source} (set BUS_ME or --me to override)`);
}

function checkName(value: string, source: string): string {
  const result = MachineName.safeParse(value);
  if (!result.success)
    throw new ConfigError(describeIssue(result.error.issues[0], { root: `machine name ${JSON.stringify(value)} from ${source}`, between: " " }));
  return value;
}

interface Found {
  value: string;
  source: string;
}

/** The first candidate that is set, with the name of where it came from. */
function firstSet(...candidates: Array<[value: string | undefined, source: string]>): Found | undefined {
  const found = candidates.find(([value]) => value !== undefined);
  return found && { value: found[0]!, source: found[1] };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value;
}
