/**
 * `claude-bus provision`: every host step over SSH against an existing Debian server, without Pulumi.
 * The bus password comes from BUS_PASS or stdin, never an argument.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { renderBackupTarget } from "../../contract/backupTarget";
import { describeIssue } from "../../contract/issues";
import { HostPassword } from "../../contract/password";
import { provisionHost, StepFailedError } from "../../provision/ssh/runner";
import { noPositionals, type ParsedCommand, stringOption } from "../args";
import { EXIT } from "../exitCodes";
import { type Io, UsageError } from "../io";
import { sshHost } from "../sshHost";

export async function provision(parsed: ParsedCommand<"provision">, io: Io): Promise<number> {
  noPositionals("provision", parsed);
  const { target, cfg } = sshHost("provision", parsed);
  const bundleFile = stringOption(parsed, "bundle");
  const bundle = bundleFile ? { file: bundleFile, sha256: createHash("sha256").update(readFileSync(bundleFile)).digest("hex") } : undefined;
  const password = await busPassword(io);
  const backupTarget = await backupTargetText(parsed, cfg.backups !== undefined, io);

  try {
    const results = await provisionHost(target, cfg, { busPassword: password, backupTarget, bundle, log: io.out });
    const changed = results.filter((r) => r.changes.length).map((r) => r.name);
    io.out(`done: https://${cfg.fqdn} is up; ${changed.length ? `changed: ${changed.join(", ")}` : "nothing changed"}`);
    return EXIT.ok;
  } catch (err) {
    io.err(`claude-bus provision: ${(err as Error).message}`);
    return err instanceof StepFailedError && err.exitCode === 255 ? EXIT.unreachable : EXIT.stepFailed;
  }
}

/** The backup bucket's env text (checked here first), when the host config sets backups. */
async function backupTargetText(parsed: ParsedCommand<"provision">, wanted: boolean, io: Io): Promise<string | undefined> {
  if (!wanted) {
    if (parsed.values["s3-env"] !== undefined) throw new UsageError("provision: --s3-env, but the host config sets no backups");
    return undefined;
  }
  const { resolveBackupTarget } = await import("../backupTargetSource");
  return renderBackupTarget(await resolveBackupTarget(parsed, io));
}

async function busPassword(io: Io): Promise<string> {
  let password: string;
  if (io.env.BUS_PASS) password = io.env.BUS_PASS;
  else if (io.stdinIsTTY) throw new UsageError("provision: no bus password: set BUS_PASS or pipe it on stdin");
  else password = (await io.readStdin()).replace(/\r?\n$/, "");
  const valid = HostPassword.safeParse(password);
  if (!valid.success) throw new UsageError(`provision: ${describeIssue(valid.error.issues[0], { root: "bus password" })}`);
  return password;
}
