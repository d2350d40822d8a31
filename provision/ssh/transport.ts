/**
 * Running a command on a host over OpenSSH: the target, ssh's arguments and environment, and the two
 * things sent over it (a step's script as the remote command, and the service bundle on stdin).
 */
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { shq } from "../compose";
import { bundleUploadScript } from "../steps";

export interface SshTarget {
  user: string;
  host: string;
  port: number;
  identityFile?: string;
  /** A known_hosts file of its own (the lab host's key, say); default: the user's. */
  knownHostsFile?: string;
  /** "accept-new" (default) trusts a host on first contact and refuses a changed key. */
  strictHostKeyChecking?: "yes" | "accept-new" | "no";
}

export type Log = (line: string) => void;

const hostPattern = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+)$/;

/** "root@203.0.113.7", "deploy@bus.example.com" or a bare host (user root). */
export function parseTarget(spec: string, opts: { port?: number; identityFile?: string; knownHostsFile?: string } = {}): SshTarget {
  const at = spec.lastIndexOf("@");
  const user = at >= 0 ? spec.slice(0, at) : "root";
  const host = at >= 0 ? spec.slice(at + 1) : spec;
  if (!/^[a-z_][a-z0-9_.-]{0,31}$/.test(user)) throw new Error(`--target: ${JSON.stringify(user)} is not a user name`);
  if (!hostPattern.test(host)) throw new Error(`--target: ${JSON.stringify(host)} is not a host name or IP address`);
  const port = opts.port ?? 22;
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`--port: ${port} is not a TCP port`);
  return { user, host: host.replace(/^\[(.*)\]$/, "$1"), port, identityFile: opts.identityFile, knownHostsFile: opts.knownHostsFile };
}

/** The remote command: the script itself, run by bash as root (through `sudo -n` for another user). */
export function remoteCommand(target: SshTarget, script: string): string {
  return `${target.user === "root" ? "" : "sudo -n "}bash -c ${shq(script)}`;
}

export function sshArgs(target: SshTarget, command: string): string[] {
  return [
    "-o",
    "BatchMode=yes",
    "-o",
    "LogLevel=ERROR",
    "-o",
    "ConnectTimeout=20",
    "-o",
    "ServerAliveInterval=15",
    "-o",
    `StrictHostKeyChecking=${target.strictHostKeyChecking ?? "accept-new"}`,
    ...(target.knownHostsFile ? ["-o", `UserKnownHostsFile=${target.knownHostsFile}`] : []),
    ...(target.identityFile ? ["-i", target.identityFile, "-o", "IdentitiesOnly=yes"] : []),
    "-p",
    String(target.port),
    "-l",
    target.user,
    "--",
    target.host,
    command,
  ];
}

/** What ssh needs from the environment: where programs and the user's keys are, and the agent. */
const SSH_ENV_KEYS = ["PATH", "HOME", "USER", "LOGNAME", "SSH_AUTH_SOCK"];

/** ssh's environment: only SSH_ENV_KEYS, so nothing else of ours (BUS_PASS, tokens) can reach it or a SendEnv. */
export function sshEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return Object.fromEntries(SSH_ENV_KEYS.filter((key) => env[key] !== undefined).map((key) => [key, env[key]]));
}

/**
 * Makes `key` the host's one known key in the target's known_hosts (the user's, unless the target has its
 * own), unless it is there already: a host given its earlier keys back from the data volume (a replaced
 * droplet) said so over the connection its current key authenticated, so the next connection expects it.
 */
export function pinHostKey(target: SshTarget, key: string, log: Log = () => {}): void {
  const file = target.knownHostsFile ?? path.join(os.homedir(), ".ssh", "known_hosts");
  const entry = target.port === 22 ? target.host : `[${target.host}]:${target.port}`;
  const known = spawnSync("ssh-keygen", ["-F", entry, "-f", file], { encoding: "utf8" }).stdout ?? "";
  if (known.split("\n").some((line) => line.endsWith(` ${key}`))) return;
  if (fs.existsSync(file)) spawnSync("ssh-keygen", ["-R", entry, "-f", file], { stdio: "ignore" });
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  fs.appendFileSync(file, `${entry} ${key}\n`, { mode: 0o600 });
  log(`known host key of ${entry} in ${file} is now ${key.split(" ")[0]} (the host's own, from its volume)`);
}

/** Runs one remote command; stdin (a secret or a file) is written to ssh's stdin only. */
export function runRemote(
  target: SshTarget,
  command: string,
  stdin: string | Buffer | undefined,
  onLine: Log = () => {},
): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("ssh", sshArgs(target, command), { stdio: ["pipe", "pipe", "pipe"], env: sshEnv() });
    let output = "";
    let partial = "";
    const take = (chunk: Buffer) => {
      const text = chunk.toString("utf8");
      output += text;
      const lines = (partial + text).split("\n");
      partial = lines.pop() ?? "";
      lines.forEach(onLine);
    };
    child.stdout.on("data", take);
    child.stderr.on("data", take);
    child.on("error", (err) => reject(new Error(`cannot run ssh: ${err.message}`)));
    child.on("close", (code, signal) => {
      if (partial) onLine(partial);
      resolve({ code: code ?? (signal ? 128 : 1), output });
    });
    child.stdin.on("error", () => {}); // the remote side may exit before reading everything; its exit code tells
    child.stdin.end(stdin ?? "");
  });
}

/** Copies the bundle to BUNDLE_UPLOAD_PATH: ssh's stdin into a temp file there, then an atomic rename. */
export function uploadBundle(target: SshTarget, file: string, log: Log = () => {}): Promise<{ code: number; output: string }> {
  return runRemote(target, remoteCommand(target, bundleUploadScript()), fs.readFileSync(file), log);
}
