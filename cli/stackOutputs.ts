/**
 * The credential inside `pulumi stack output --json --show-secrets` of the claude-bus stack:
 * its `clientEnv` output (the exact env-file text), else `busUrl` / `busUser` / `busPassword`.
 */
import { z } from "zod";
import { ConfigError, type Credential, validateCredential } from "./config";
import { EnvFileError, parseEnvFile } from "../contract/envFile";

const SOURCE = "pulumi stack output on stdin";
const HIDDEN = "[secret]";

const StackOutputsSchema = z.looseObject({
  clientEnv: z.string().optional(),
  busUrl: z.string().optional(),
  busUser: z.string().optional(),
  busPassword: z.string().optional(),
});

export function credentialFromStackOutputs(text: string): Credential {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ConfigError(`${SOURCE} is not JSON: pipe \`pulumi stack output --json --show-secrets\` into this command`);
  }
  const parsed = StackOutputsSchema.safeParse(json);
  if (!parsed.success) throw new ConfigError(`${SOURCE} is not a JSON object of stack outputs`);
  const outputs = parsed.data;
  if (outputs.clientEnv === HIDDEN || outputs.busPassword === HIDDEN) {
    throw new ConfigError(`${SOURCE} has its secrets hidden: add --show-secrets to \`pulumi stack output --json\``);
  }
  if (outputs.clientEnv !== undefined) {
    try {
      const env = parseEnvFile(outputs.clientEnv, "stack output clientEnv");
      return validateCredential({ url: env.BUS_URL, user: env.BUS_USER, pass: env.BUS_PASS }, "stack output clientEnv");
    } catch (err) {
      if (err instanceof EnvFileError) throw new ConfigError(err.message);
      throw err;
    }
  }
  if (outputs.busUrl === undefined && outputs.busPassword === undefined) {
    throw new ConfigError(`${SOURCE} has neither clientEnv nor busUrl/busUser/busPassword: is it the claude-bus stack?`);
  }
  return validateCredential({ url: outputs.busUrl, user: outputs.busUser, pass: outputs.busPassword }, SOURCE);
}
