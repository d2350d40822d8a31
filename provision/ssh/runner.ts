/**
 * The host steps over SSH, in order, stopping at the first failure: what `claude-bus provision` and
 * `claude-bus rotate --ssh` do on a host without Pulumi. Each step's script is the remote command; the
 * secrets (the credentials env text, the backup bucket's env text) go on stdin to the steps that read them.
 */
import { describeIssue } from "../../contract/issues";
import { HostPassword } from "../../contract/password";
import { buildServiceBundle } from "../bundle";
import type { HostConfig } from "../config";
import { credentialsEnv } from "../credentials";
import { BUNDLE_UPLOAD_PATH, dataCommandScript, type HostStep, hostKeyIn, hostSteps, rotationSteps, type StepInput } from "../steps";
import { type Log, type SshTarget, parseTarget, pinHostKey, remoteCommand, runRemote, uploadBundle } from "./transport";

export interface StepResult {
  name: string;
  /** The `changed: ...` lines the step printed: empty when the step found everything in place. */
  changes: string[];
  output: string;
}

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

const changesIn = (output: string): string[] =>
  output
    .split("\n")
    .filter((line) => line.startsWith("changed: "))
    .map((line) => line.slice("changed: ".length));

/**
 * Runs steps in order, stopping at the first failure. Each step with `stdin` gets that input as Pulumi
 * gives it: `credentials` is credentialsEnv(cfg, password) (provision/credentials.ts), `backupTarget` the
 * backup bucket's env text. A step whose input is missing stops the run before anything runs.
 */
export async function runSteps(target: SshTarget, steps: HostStep[], input: Partial<Record<StepInput, string>>, log: Log = () => {}): Promise<StepResult[]> {
  const missing = steps.find((step) => step.stdin !== undefined && input[step.stdin] === undefined);
  if (missing)
    throw new Error(`step ${missing.name} needs the ${missing.stdin === "credentials" ? "credentials env text" : "backup bucket's env file (--s3-env FILE)"}`);
  const results: StepResult[] = [];
  for (const step of steps) {
    log(`==> ${step.name}: ${step.description}`);
    const stdin = step.stdin === undefined ? undefined : input[step.stdin];
    const { code, output } = await runRemote(target, remoteCommand(target, step.script), stdin, (line) => log(`    ${line}`));
    if (code !== 0) throw new StepFailedError(step.name, code, output);
    const hostKey = hostKeyIn(output);
    if (hostKey) pinHostKey(target, hostKey, log);
    const changes = changesIn(output);
    results.push({ name: step.name, changes, output });
    log(`<== ${step.name}: ${changes.length ? `${changes.length} change(s)` : "unchanged"}`);
  }
  return results;
}

/** The credentials env text for a password the host accepts; `what` names the password in the error. */
function credentialsFor(cfg: HostConfig, password: string, what: string): string {
  const valid = HostPassword.safeParse(password);
  if (!valid.success) throw new Error(describeIssue(valid.error.issues[0], { root: what }));
  return credentialsEnv(cfg, password);
}

/**
 * Everything `claude-bus provision` does: build (or take) the service bundle, upload it and run every
 * host step in order. Returns each step's changes, so a second run can be checked to change nothing.
 */
export async function provisionHost(
  target: SshTarget,
  cfg: HostConfig,
  opts: { busPassword: string; backupTarget?: string; bundle?: { file: string; sha256: string }; log?: Log },
): Promise<StepResult[]> {
  const credentials = credentialsFor(cfg, opts.busPassword, "bus password");
  const log = opts.log ?? (() => {});
  const bundle = opts.bundle ?? (await buildServiceBundle());
  log(`==> upload-bundle: ${bundle.file} (sha256 ${bundle.sha256}) to ${BUNDLE_UPLOAD_PATH}`);
  const upload = await uploadBundle(target, bundle.file, log);
  if (upload.code !== 0) throw new StepFailedError("upload-bundle", upload.code, upload.output);
  return runSteps(target, hostSteps(cfg, bundle), { credentials, backupTarget: opts.backupTarget }, log);
}

/**
 * The host side of `claude-bus rotate --ssh`: the credentials and health steps with the new password,
 * exactly as `pulumi up` runs them after a password change.
 */
export async function rotateOverSsh(target: SshTarget | string, cfg: HostConfig, newPassword: string, log: Log = () => {}): Promise<StepResult[]> {
  const credentials = credentialsFor(cfg, newPassword, "new bus password");
  const resolved = typeof target === "string" ? parseTarget(target) : target;
  return runSteps(resolved, rotationSteps(cfg), { credentials }, log);
}

/** Runs `restore` or `import` on the host: `file`'s bytes go on stdin; resolves with what it printed. */
export async function dataCommandOverSsh(
  target: SshTarget,
  cfg: HostConfig,
  command: "restore" | "import",
  file: Buffer,
  args: string[],
  log: Log = () => {},
): Promise<string> {
  log(`==> ${command} on ${target.user}@${target.host} (the bus stops meanwhile)`);
  const { code, output } = await runRemote(target, remoteCommand(target, dataCommandScript(cfg, command, args)), file, (line) => log(`    ${line}`));
  if (code !== 0) throw new StepFailedError(command, code, output);
  return output;
}
