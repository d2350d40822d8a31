/**
 * What may leave this machine as an attachment, checked for every file before the first byte is uploaded
 * (`post --attach` and the MCP `send` tool). A file is refused when it
 *   - is a file that holds a bus credential here (the same device and inode: a hard link is that file too),
 *   - lies where secrets are kept (SECRET_PLACES, .env files, /proc, /sys, /dev), unless the person passed
 *     --allow-secret-path (the agent's tool cannot),
 *   - for the agent, is not under the session's directory or a root the user added (BUS_ATTACH_ROOTS),
 *   - or contains a bus credential kept on this machine, raw or encoded (a copy, /proc/<pid>/environ):
 *     never, whatever the flags.
 * The content check rides on the read that hashes the file, and the upload is named by that hash: the bus
 * stores exactly the bytes checked (a file changed since is refused by the bus's own sha256 check).
 * A refusal names the file and the rule, never the secret.
 */
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { DEFAULT_DATA_DIR, ENV_FILE_IN_HOME, LOCAL_ENV_FILE_NAME } from "../contract/defaults";
import { parseEnvFile } from "../contract/envFile";
import { hashFile } from "../contract/hashFile";
import { CONFIG_DIR, CREDENTIALS_FILE } from "../provision/paths";
import type { ClientConfig } from "./config";
import { pendingEnvFile } from "./envFileStore";
import { type KnownSecret, secretScanner } from "./secretScan";

/**
 * Where secrets are kept, under the home directory (a trailing "/" is a directory and all below it); a
 * person attaches from here only with --allow-secret-path, the agent never.
 */
export const SECRET_PLACES_IN_HOME = [
  ".ssh/",
  ".gnupg/",
  ".aws/",
  ".azure/",
  ".kube/",
  ".config/gcloud/",
  ".config/gh/",
  ".config/doctl/",
  ".secrets/",
  ".netrc",
  ".git-credentials",
  ".npmrc",
  ".pypirc",
  ".docker/config.json",
  ".pulumi/credentials.json",
  ".claude/.credentials.json",
];
/** The same, anywhere on the machine: the kernel's views of processes and devices, and the bus host's credentials. */
export const SECRET_PLACES = ["/proc/", "/sys/", "/dev/", `${CONFIG_DIR}/`];
/** Env files, wherever they are: `.env`, `.env.local`, `.envrc`, `claude-bus.env`. */
const ENV_FILE_NAME = /^\.env(\..*)?$|^\.envrc$|\.env$/;

/** Who attaches: the person at the command line, or an agent through the MCP `send` tool. */
export type AttachPolicy =
  | { by: "person"; allowSecretPaths: boolean }
  /** The agent's files must be under the session's directory or a directory the user added (real paths). */
  | { by: "agent"; sessionDir: string; addedRoots: string[] };

/** A file that passed, with the sha256 and size of the bytes that were checked (the upload is named by them). */
export interface CheckedFile {
  file: string;
  sha256: string;
  size: number;
}

export class AttachRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AttachRefused";
  }
}

/** `claude-bus post --attach`: the person's own choice; secret places only with --allow-secret-path. */
export const personPolicy = (allowSecretPaths: boolean): AttachPolicy => ({ by: "person", allowSecretPaths });

/** The MCP `send` tool: the session's directory (the server's cwd) and BUS_ATTACH_ROOTS (the user's environment, which the agent cannot set). */
export async function agentPolicy(env: NodeJS.ProcessEnv): Promise<AttachPolicy> {
  const sessionDir = await fs.realpath(process.cwd()).catch(() => process.cwd());
  const added = (env.BUS_ATTACH_ROOTS ?? "").split(path.delimiter).filter((dir) => dir !== "");
  const addedRoots = await Promise.all(added.map((dir) => fs.realpath(path.resolve(dir)).catch(() => undefined)));
  return { by: "agent", sessionDir, addedRoots: unique(addedRoots) };
}

/** Checks every file (all before any upload) and resolves with what to upload; an AttachRefused says which file and why. */
export async function checkAttachments(files: string[], cfg: ClientConfig, env: NodeJS.ProcessEnv, policy: AttachPolicy): Promise<CheckedFile[]> {
  if (files.length === 0) return [];
  const credentials = await credentialsOnThisMachine(cfg, env);
  const home = os.homedir();
  const homes = unique([home, await fs.realpath(home).catch(() => undefined)]);
  const checked: CheckedFile[] = [];
  for (const file of files) checked.push(await checkOne(file, credentials, homes, policy));
  return checked;
}

interface Credentials {
  /** dev:ino of each file that holds a credential, with its path. */
  files: Map<string, string>;
  secrets: KnownSecret[];
}

async function checkOne(given: string, credentials: Credentials, homes: string[], policy: AttachPolicy): Promise<CheckedFile> {
  const file = path.resolve(given);
  const stat = await fs.stat(file, { bigint: true }).catch(() => undefined);
  if (!stat?.isFile()) throw new AttachRefused(`${given}: no such file to attach`);
  const credentialFile = credentials.files.get(identity(stat));
  if (credentialFile !== undefined) {
    throw new AttachRefused(
      `${given} ${credentialFile === file ? "" : `is the same file as ${credentialFile}, which `}holds a bus credential: it is never attached`,
    );
  }
  const real = await fs.realpath(file);
  const place = secretPlace(file, homes) ?? secretPlace(real, homes);
  if (place && !(policy.by === "person" && policy.allowSecretPaths)) {
    const how = policy.by === "person" ? "attach it with --allow-secret-path if you mean to" : "the send tool does not attach from there";
    throw new AttachRefused(`${given}: ${place} is where secrets are kept; ${how}`);
  }
  if (policy.by === "agent" && ![policy.sessionDir, ...policy.addedRoots].some((root) => isInside(root, real))) {
    const added = policy.addedRoots.length > 0 ? ` and BUS_ATTACH_ROOTS (${policy.addedRoots.join(", ")})` : "";
    throw new AttachRefused(
      `${given}${real === file ? "" : ` (really ${real})`} is outside this session's directory ${policy.sessionDir}${added}: the send tool attaches only files under ${added ? "them" : "it"}`,
    );
  }
  const scanner = secretScanner(credentials.secrets);
  const { sha256, size } = await hashFile(file, scanner.update);
  const found = scanner.found();
  if (found) throw new AttachRefused(`${given} contains ${found.source} (${found.encoding}): a file holding a bus credential is never attached`);
  return { file, sha256, size };
}

/**
 * The credentials kept on this machine that this user can see: the password in use, BUS_PASS of the
 * environment, and BUS_PASS / BUS_PASS_PREVIOUS of every env file the CLI and a local bus use (the one in
 * use, ~/.secrets/claude-bus.env, BUS_ENV_FILE, each one's pending `.rotating` file, a serve's
 * BUS_CREDENTIALS_FILE, `./data/claude-bus.env` of a local bus started here, the host's credentials file).
 */
async function credentialsOnThisMachine(cfg: ClientConfig, env: NodeJS.ProcessEnv): Promise<Credentials> {
  const envFiles = unique([cfg.envFile, path.join(os.homedir(), ENV_FILE_IN_HOME), env.BUS_ENV_FILE && path.resolve(env.BUS_ENV_FILE)]);
  const candidates = unique([
    ...envFiles.flatMap((file) => [file, pendingEnvFile(file)]),
    env.BUS_CREDENTIALS_FILE && path.resolve(env.BUS_CREDENTIALS_FILE),
    path.resolve(DEFAULT_DATA_DIR, LOCAL_ENV_FILE_NAME),
    CREDENTIALS_FILE,
  ]);
  const files = new Map<string, string>();
  const secrets: KnownSecret[] = [{ value: cfg.pass, source: "the bus password in use" }];
  if (env.BUS_PASS) secrets.push({ value: env.BUS_PASS, source: "BUS_PASS of the environment" });
  for (const file of candidates) {
    const stat = await fs.stat(file, { bigint: true }).catch(() => undefined);
    if (!stat?.isFile()) continue;
    files.set(identity(stat), file);
    // A file that cannot be read or parsed is still never attached itself (by its identity above).
    const values = await fs
      .readFile(file, "utf8")
      .then((text) => parseEnvFile(text, file))
      .catch(() => undefined);
    if (values?.BUS_PASS) secrets.push({ value: values.BUS_PASS, source: `BUS_PASS of ${file}` });
    if (values?.BUS_PASS_PREVIOUS) secrets.push({ value: values.BUS_PASS_PREVIOUS, source: `BUS_PASS_PREVIOUS of ${file}` });
  }
  return { files, secrets };
}

const identity = (stat: { dev: bigint; ino: bigint }) => `${stat.dev}:${stat.ino}`;

/**
 * Which secret place `file` (absolute) is in, as the refusal names it; undefined when none. Compared
 * ignoring case, as the file systems of macOS and Windows do; `homes` is the home directory and its real path.
 */
function secretPlace(file: string, homes: string[]): string | undefined {
  if (ENV_FILE_NAME.test(path.basename(file).toLowerCase())) return "an env file";
  for (const home of homes.filter((dir) => isInside(dir, file))) {
    const inHome = posix(path.relative(home, file)).toLowerCase();
    const place = SECRET_PLACES_IN_HOME.find((p) => (p.endsWith("/") ? inHome.startsWith(p) : inHome === p));
    if (place) return `~/${place}`;
  }
  return SECRET_PLACES.find((place) => posix(file).toLowerCase().startsWith(place));
}

/** Whether `file` is below `dir` (both absolute). */
function isInside(dir: string, file: string): boolean {
  const rel = path.relative(dir, file);
  return rel !== "" && rel !== ".." && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel);
}

const posix = (file: string) => file.split(path.sep).join("/");

function unique(items: Array<string | undefined | "">): string[] {
  return [...new Set(items.filter((item): item is string => !!item))];
}
