/** Runs the Pulumi CLI for a rotation: the secret goes on stdin, never in argv. */
import { spawn } from "node:child_process";

export interface PulumiOptions {
  /** The pulumi executable (a path or a name looked up in PATH). */
  bin: string;
  stack?: string;
  /** The stack's project directory (where Pulumi.yaml is). */
  cwd?: string;
  env: NodeJS.ProcessEnv;
}

export class PulumiError extends Error {}

/** One resource in `pulumi preview --json`'s plan. */
export interface PreviewStep {
  op: string;
  urn: string;
}

/** `pulumi config set --secret busPassword` reads the value from stdin when no value argument is given. */
export async function setSecretConfig(options: PulumiOptions, key: string, value: string): Promise<void> {
  await runPulumi(options, ["config", "set", "--secret", ...stackArgs(options), key], value);
}

/** `pulumi up` of exactly these resources (by URN): nothing else pending in the stack is applied. */
export async function pulumiUpTargets(options: PulumiOptions, urns: string[]): Promise<void> {
  if (urns.length === 0) throw new PulumiError("pulumi up --target needs at least one resource");
  await runPulumi(options, ["up", "--yes", "--non-interactive", ...stackArgs(options), ...urns.flatMap((urn) => ["--target", urn])]);
}

/** What `pulumi up` would do now, resource by resource. */
export async function pulumiPreview(options: PulumiOptions): Promise<PreviewStep[]> {
  const out = await runPulumi(options, ["preview", "--json", "--non-interactive", ...stackArgs(options)], undefined, { keepStdout: true });
  try {
    const steps = (JSON.parse(out) as { steps?: PreviewStep[] }).steps ?? [];
    return steps.map(({ op, urn }) => ({ op, urn }));
  } catch {
    throw new PulumiError("`pulumi preview --json` printed no JSON plan");
  }
}

function stackArgs(options: PulumiOptions): string[] {
  return options.stack ? ["--stack", options.stack] : [];
}

/**
 * Why a Pulumi command failed, when its error says: a stack whose secrets are encrypted with a
 * passphrase (`pulumi login --local`'s default) cannot read or write a secret without it.
 */
function failureHint(stderr: string): string {
  return /passphrase/i.test(stderr)
    ? ": the stack's secrets are encrypted with a passphrase; set PULUMI_CONFIG_PASSPHRASE_FILE (a file holding it) " +
        "or PULUMI_CONFIG_PASSPHRASE in this shell and run claude-bus rotate again"
    : "";
}

/**
 * Pulumi's own output goes to our stderr so stdout carries only this command's summary; with keepStdout
 * its stdout (a preview's JSON) is returned instead. Its stderr is also kept to explain a failure.
 */
function runPulumi(options: PulumiOptions, args: string[], stdin?: string, { keepStdout = false } = {}): Promise<string> {
  const { BUS_PASS: _hidden, ...env } = options.env; // the child has no use for the old password
  const command = `pulumi ${args.join(" ")}`;
  return new Promise((resolve, reject) => {
    const child = spawn(options.bin, args, { cwd: options.cwd, env, stdio: [stdin === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      if (keepStdout) stdout += chunk.toString("utf8");
      else process.stderr.write(chunk);
    });
    child.stderr!.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8");
      process.stderr.write(chunk);
    });
    child.on("error", (err) => reject(new PulumiError(`cannot run ${options.bin}: ${err.message} (install the Pulumi CLI or pass --pulumi PATH)`)));
    child.on("close", (code, signal) => {
      if (code === 0) resolve(stdout);
      else reject(new PulumiError(`\`${command}\` failed (${signal ? `signal ${signal}` : `exit ${code}`})${failureHint(stderr)}`));
    });
    if (stdin !== undefined) {
      child.stdin!.on("error", () => undefined); // a child that exits unread is reported by "close" above
      child.stdin!.end(stdin);
    }
  });
}
