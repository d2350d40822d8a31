/**
 * The credential `serve` runs with: BUS_CREDENTIALS_FILE (the host's unit), else BUS_USER/BUS_PASS from
 * the environment, else a password generated once and kept in the data dir's env file, so a local bus
 * keeps its password across restarts and the CLI and the seed's curl lines can read it from there.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { DEFAULT_BUS_USER, LOCAL_ENV_FILE_NAME } from "../../contract/defaults";
import { parseEnvFile, renderEnvFile } from "../../contract/envFile";
import { generatePassword } from "../../contract/password";
import type { CredentialSource } from "./credentials";

export interface ServeCredentials {
  source: CredentialSource;
  /** The data dir's env file, when the credential lives there (generated now or on an earlier start). */
  localFile?: string;
}

export function serveCredentials(env: NodeJS.ProcessEnv, dataDir: string): ServeCredentials {
  if (env.BUS_CREDENTIALS_FILE) return { source: { file: path.resolve(env.BUS_CREDENTIALS_FILE) } };
  if (env.BUS_PASS) return { source: { user: env.BUS_USER || DEFAULT_BUS_USER, pass: env.BUS_PASS } };
  if (env.BUS_USER) throw new Error("BUS_USER is set but BUS_PASS is not: give both, or neither to generate a local password");

  const localFile = path.join(dataDir, LOCAL_ENV_FILE_NAME);
  const existing = fs.existsSync(localFile) ? parseEnvFile(fs.readFileSync(localFile, "utf8"), localFile) : {};
  const user = existing.BUS_USER ?? DEFAULT_BUS_USER;
  const pass = existing.BUS_USER && existing.BUS_PASS ? existing.BUS_PASS : generatePassword();
  return { source: { user, pass }, localFile };
}

/**
 * Writes the data dir's env file for a bus listening at `url` (0600, atomically), only when it would
 * change: returns whether it did. The file stays as it is on a restart at the same address.
 */
export function writeLocalEnvFile(file: string, credential: { user: string; pass: string }, url: string): boolean {
  const text = renderEnvFile({ BUS_USER: credential.user, BUS_PASS: credential.pass, BUS_URL: url });
  if (fs.existsSync(file) && fs.readFileSync(file, "utf8") === text && (fs.statSync(file).mode & 0o777) === 0o600) return false;
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, text, { mode: 0o600 });
  fs.chmodSync(tmp, 0o600);
  fs.renameSync(tmp, file);
  return true;
}
