/**
 * Runs the provision steps against any host over OpenSSH, without Pulumi: each step's script is the
 * remote command (`bash -c '<script>'`), and the only secret, the bus password, goes on stdin.
 */
import { spawn } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import { z } from "zod";
import { buildServiceBundle } from "./bundle";
import { HostConfig, busPasswordSchema, parseHostConfig } from "./config";
import { BUNDLE_UPLOAD_PATH, HostStep, hostSteps, rotationStep } from "./steps";
import { shq } from "./shell";

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

export interface StepResult {
  name: string;
  /** The `changed: ...` lines the step printed: empty when the step found everything in place. */
  changes: string[];
  output: string;
}

export type Log = (line: string) => void;

export class StepFailedError extends Error {
  constructor(
    readonly step: string,
    readonly exitCode: number,
    readonly output: string,
  ) {
    super(
      exitCode === 255
        ? `step ${step}: ssh could not reach the host or run the command (exit 255)\n${output.trim()}`
        : `step ${step} failed with exit code ${exitCode}\n${output.trim()}`,
    );
  }
}

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
    "-o", "BatchMode=yes",
    "-o", "LogLevel=ERROR",
    "-o", "ConnectTimeout=20",
    "-o", "ServerAliveInterval=15",
    "-o", `StrictHostKeyChecking=${target.strictHostKeyChecking ?? "accept-new"}`,
    ...(target.knownHostsFile ? ["-o", `UserKnownHostsFile=${target.knownHostsFile}`] : []),
    ...(target.identityFile ? ["-i", target.identityFile, "-o", "IdentitiesOnly=yes"] : []),
    "-p", String(target.port),
    "-l", target.user,
    "--", target.host,
    command,
  ];
}

/** Runs one remote command; stdin (a secret or a file) is written to ssh's stdin only. */
export function runRemote(
  target: SshTarget,
  command: string,
  stdin: string | Buffer | undefined,
  onLine: Log = () => {},
): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("ssh", sshArgs(target, command), { stdio: ["pipe", "pipe", "pipe"] });
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

/** Copies the bundle to BUNDLE_UPLOAD_PATH (through ssh's stdin into a temp file, then an atomic rename). */
export async function uploadBundle(target: SshTarget, file: string, log: Log = () => {}): Promise<void> {
  const script = `set -euo pipefail
tmp=$(mktemp ${BUNDLE_UPLOAD_PATH}.XXXXXX)
cat > "$tmp"
chmod 644 "$tmp"
mv -f "$tmp" ${BUNDLE_UPLOAD_PATH}`;
  const { code, output } = await runRemote(target, remoteCommand(target, script), fs.readFileSync(file), log);
  if (code !== 0) throw new StepFailedError("upload-bundle", code, output);
}

/** Runs steps in order, stopping at the first failure; the password is given to the steps that read stdin. */
export async function runSteps(
  target: SshTarget,
  steps: HostStep[],
  secrets: { busPassword?: string },
  log: Log = () => {},
): Promise<StepResult[]> {
  const results: StepResult[] = [];
  for (const step of steps) {
    let stdin: string | undefined;
    if (step.stdin === "busPassword") {
      if (secrets.busPassword === undefined) throw new Error(`step ${step.name} needs the bus password`);
      stdin = `${secrets.busPassword}\n`;
    }
    log(`==> ${step.name}: ${step.description}`);
    const { code, output } = await runRemote(target, remoteCommand(target, step.script), stdin, (line) => log(`    ${line}`));
    if (code !== 0) throw new StepFailedError(step.name, code, output);
    const changes = output
      .split("\n")
      .filter((l) => l.startsWith("changed: "))
      .map((l) => l.slice("changed: ".length));
    results.push({ name: step.name, changes, output });
    log(`<== ${step.name}: ${changes.length ? `${changes.length} change(s)` : "unchanged"}`);
  }
  return results;
}

/**
 * Everything `claude-bus provision` does: build (or take) the service bundle, upload it and run every
 * host step in order. Returns each step's changes, so a second run can be checked to change nothing.
 */
export async function provisionHost(
  target: SshTarget,
  cfg: HostConfig,
  opts: { busPassword: string; bundle?: { file: string; sha256: string }; log?: Log },
): Promise<StepResult[]> {
  const password = busPasswordSchema.safeParse(opts.busPassword);
  if (!password.success) throw new Error(`bus password: ${password.error.issues[0].message}`);
  const log = opts.log ?? (() => {});
  const bundle = opts.bundle ?? (await buildServiceBundle());
  log(`==> upload-bundle: ${bundle.file} (sha256 ${bundle.sha256}) to ${BUNDLE_UPLOAD_PATH}`);
  await uploadBundle(target, bundle.file, log);
  return runSteps(target, hostSteps(cfg, bundle), { busPassword: opts.busPassword }, log);
}

/** The provisioning side of `claude-bus rotate --ssh`: the new password replaces the old on the host. */
export async function rotateOverSsh(target: SshTarget | string, cfg: HostConfig, newPassword: string, log: Log = () => {}): Promise<StepResult> {
  const password = busPasswordSchema.safeParse(newPassword);
  if (!password.success) throw new Error(`new bus password: ${password.error.issues[0].message}`);
  const resolved = typeof target === "string" ? parseTarget(target) : target;
  const [result] = await runSteps(resolved, [rotationStep(cfg)], { busPassword: newPassword }, log);
  return result;
}

/** Reads and validates a host config JSON file; errors name the file and the bad key. */
export function loadHostConfigFile(file: string): HostConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (err) {
    throw new Error(`--config ${file}: ${(err as Error).message}`);
  }
  try {
    return parseHostConfig(raw);
  } catch (err) {
    throw new Error(`--config ${file}: ${(err as Error).message}`);
  }
}

export const PROVISION_USAGE = `usage: claude-bus provision --target [USER@]HOST --config host.json [--port 22] [--identity FILE]
                           [--known-hosts FILE] [--bundle FILE]
Runs every host step over SSH (as root, or through sudo -n for another user) against an existing
Debian 12 server. The bus password is read from BUS_PASS, or else from stdin; it is never an argument.
Exit codes: 0 done, 1 usage or bad config, 3 host unreachable over SSH, 4 a step failed.`;

const ProvisionArgs = z.strictObject({
  target: z.string({ error: "--target is required" }).min(1),
  config: z.string({ error: "--config is required" }).min(1),
  port: z.string().regex(/^\d{1,5}$/, "--port must be a number").transform(Number).optional(),
  identity: z.string().min(1).optional(),
  "known-hosts": z.string().min(1).optional(),
  bundle: z.string().min(1).optional(),
});

export const PROVISION_EXIT = { ok: 0, usage: 1, unreachable: 3, stepFailed: 4 } as const;

function parseProvisionArgs(argv: string[]): z.infer<typeof ProvisionArgs> {
  const raw: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const match = /^--([a-z-]+)(?:=(.*))?$/.exec(argv[i]);
    if (!match) throw new Error(`unexpected argument ${JSON.stringify(argv[i])}`);
    const value = match[2] ?? argv[++i];
    if (value === undefined) throw new Error(`--${match[1]} needs a value`);
    raw[match[1]] = value;
  }
  const parsed = ProvisionArgs.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(issue.code === "unrecognized_keys" ? `unknown option --${issue.keys.join(", --")}` : issue.message);
  }
  return parsed.data;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** `claude-bus provision ...`: see PROVISION_USAGE. */
export async function provisionCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const err = (line: string) => process.stderr.write(`${line}\n`);
  if (argv.includes("--help") || argv.includes("-h")) {
    out(PROVISION_USAGE);
    return PROVISION_EXIT.ok;
  }
  let target: SshTarget;
  let cfg: HostConfig;
  let bundle: { file: string; sha256: string } | undefined;
  let password: string;
  try {
    const args = parseProvisionArgs(argv);
    target = parseTarget(args.target, { port: args.port, identityFile: args.identity, knownHostsFile: args["known-hosts"] });
    cfg = loadHostConfigFile(args.config);
    if (args.bundle) {
      bundle = { file: args.bundle, sha256: createHash("sha256").update(fs.readFileSync(args.bundle)).digest("hex") };
    }
    if (env.BUS_PASS) password = env.BUS_PASS;
    else if (process.stdin.isTTY) throw new Error("no bus password: set BUS_PASS or pipe it on stdin");
    else password = (await readStdin()).replace(/\r?\n$/, "");
    const valid = busPasswordSchema.safeParse(password);
    if (!valid.success) throw new Error(`bus password: ${valid.error.issues[0].message}`);
  } catch (e) {
    err(`claude-bus provision: ${(e as Error).message}\n${PROVISION_USAGE}`);
    return PROVISION_EXIT.usage;
  }
  try {
    const results = await provisionHost(target, cfg, { busPassword: password, bundle, log: out });
    const changed = results.filter((r) => r.changes.length).map((r) => r.name);
    out(`done: https://${cfg.fqdn} is up; ${changed.length ? `changed: ${changed.join(", ")}` : "nothing changed"}`);
    return PROVISION_EXIT.ok;
  } catch (e) {
    err(`claude-bus provision: ${(e as Error).message}`);
    return e instanceof StepFailedError && e.exitCode === 255 ? PROVISION_EXIT.unreachable : PROVISION_EXIT.stepFailed;
  }
}
