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

/** `pulumi config set --secret busPassword` reads the value from stdin when no value argument is given. */
export async function setSecretConfig(options: PulumiOptions, key: string, value: string): Promise<void> {
  await runPulumi(options, ["config", "set", "--secret", ...stackArgs(options), key], value);
}

export async function pulumiUp(options: PulumiOptions): Promise<void> {
  await runPulumi(options, ["up", "--yes", "--non-interactive", ...stackArgs(options)]);
}

function stackArgs(options: PulumiOptions): string[] {
  return options.stack ? ["--stack", options.stack] : [];
}

/** Pulumi's own output goes to our stderr so stdout carries only this command's summary. */
function runPulumi(options: PulumiOptions, args: string[], stdin?: string): Promise<void> {
  const { BUS_PASS: _hidden, ...env } = options.env; // the child has no use for the old password
  const command = `pulumi ${args.join(" ")}`;
  return new Promise((resolve, reject) => {
    const child = spawn(options.bin, args, { cwd: options.cwd, env, stdio: [stdin === undefined ? "ignore" : "pipe", 2, 2] });
    child.on("error", (err) =>
      reject(new PulumiError(`cannot run ${options.bin}: ${err.message} (install the Pulumi CLI or pass --pulumi PATH)`)),
    );
    child.on("exit", (code, signal) => {
      if (code === 0) resolve();
      else reject(new PulumiError(`\`${command}\` failed (${signal ? `signal ${signal}` : `exit ${code}`})`));
    });
    if (stdin !== undefined) {
      child.stdin!.on("error", () => undefined); // a child that exits unread is reported by "exit" above
      child.stdin!.end(stdin);
    }
  });
}
