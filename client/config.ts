/**
 * Where the CLI's bus URL, credential and machine name come from, lowest precedence first:
 * the env file (~/.secrets/claude-bus.env), then the environment (BUS_URL, BUS_USER, BUS_PASS, BUS_ME),
 * then flags (--url, --user, --me). There is deliberately no password flag: process arguments are
 * visible to every user of the machine, so the password comes from the file or the environment only.
 */
import * as os from "node:os";
import * as path from "node:path";
import { z } from "zod";
import { BusPassSchema, BusUrlSchema, BusUserSchema, readEnvFile } from "./envFile";

/** SPEC: a machine name is 1-64 letters, digits, `.`, `_`, `-`, `@`. */
export const MachineNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9._@-]{1,64}$/, "must be 1-64 letters, digits, '.', '_', '-' or '@'");

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
}

export interface Credential {
  url: string;
  user: string;
  pass: string;
}

export interface ClientConfig extends Credential {
  me: string;
  envFile: string;
}

/** `--env-file`, else BUS_ENV_FILE, else ~/.secrets/claude-bus.env. */
export function envFilePath(flags: ConfigFlags, env: NodeJS.ProcessEnv): string {
  return flags.envFile ?? env.BUS_ENV_FILE ?? path.join(os.homedir(), ".secrets", "claude-bus.env");
}

/** The full config for commands that talk to the bus; a ConfigError says what is missing and how to fix it. */
export async function resolveConfig(flags: ConfigFlags, env: NodeJS.ProcessEnv): Promise<ClientConfig> {
  const envFile = envFilePath(flags, env);
  const file = await readEnvFile(envFile);
  const merged = {
    url: flags.url ?? nonEmpty(env.BUS_URL) ?? file?.BUS_URL,
    user: flags.user ?? nonEmpty(env.BUS_USER) ?? file?.BUS_USER,
    pass: nonEmpty(env.BUS_PASS) ?? file?.BUS_PASS,
  };
  const missing = (["url", "user", "pass"] as const).filter((key) => merged[key] === undefined);
  if (missing.length > 0) {
    const names = missing.map((key) => `BUS_${key.toUpperCase()}`).join(", ");
    throw new ConfigError(
      file === undefined
        ? `${envFile} not found and ${names} not set in the environment: run \`claude-bus bootstrap\` first (see --help)`
        : `${names} missing: not in ${envFile} nor in the environment`,
    );
  }
  const credential = validateCredential(merged as Credential, "flags/environment");
  return { ...credential, me: machineName(flags, env, file?.BUS_ME), envFile };
}

/** Validates a credential assembled from outside input; `source` names where it came from. */
export function validateCredential(input: { url?: string; user?: string; pass?: string }, source: string): Credential {
  const checks = [
    ["BUS_URL", BusUrlSchema, input.url],
    ["BUS_USER", BusUserSchema, input.user],
    ["BUS_PASS", BusPassSchema, input.pass],
  ] as const;
  for (const [name, schema, value] of checks) {
    if (value === undefined) throw new ConfigError(`${name} missing (${source})`);
    const result = schema.safeParse(value);
    if (!result.success) throw new ConfigError(`${name} from ${source} ${result.error.issues[0].message}`);
  }
  return { url: input.url!.replace(/\/+$/, ""), user: input.user!, pass: input.pass! };
}

/** --me, else BUS_ME (environment, then env file), else `hostname -s`. */
export function machineName(flags: ConfigFlags, env: NodeJS.ProcessEnv, fileMe?: string): string {
  const candidates: Array<[string | undefined, string]> = [
    [flags.me, "--me"],
    [nonEmpty(env.BUS_ME), "BUS_ME"],
    [fileMe, "BUS_ME in the env file"],
  ];
  for (const [value, source] of candidates) {
    if (value !== undefined) return checkName(value, source);
  }
  return checkName(os.hostname().split(".")[0], "hostname -s (set BUS_ME or --me to override)");
}

function checkName(value: string, source: string): string {
  const result = MachineNameSchema.safeParse(value);
  if (!result.success) throw new ConfigError(`machine name ${JSON.stringify(value)} from ${source} ${result.error.issues[0].message}`);
  return value;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value;
}
