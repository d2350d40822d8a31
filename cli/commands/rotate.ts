/**
 * `claude-bus rotate`: a new password, verified live (new → 200, old → 401), and only then written into
 * the local env file. A machine enrolled by invite gets its new secret from the bus itself; the team
 * credential's 28-character password is applied through the Pulumi stack (or over SSH for a server
 * without Pulumi). The new password is kept in a 0600 pending file beside the env file from before it
 * takes effect until it is verified, so no outcome can lose it; it is never posted on the bus.
 */
import { renderEnvFile } from "../../contract/envFile";
import { generatePassword } from "../../contract/password";
import { AuthError, type BusClient, createBusClient, type Machine } from "../../client/index";
import { booleanOption, noPositionals, type ParsedCommand, stringOption } from "../args";
import { moveDurably } from "../../contract/durableFile";
import { type ClientConfig, connectionFlags, type Credential, resolveConfig } from "../config";
import { pendingEnvFile, readEnvFile, writeEnvFile } from "../envFileStore";
import { EXIT } from "../exitCodes";
import { type Io, UsageError } from "../io";
import { type PreviewStep, PulumiError, pulumiPreview, pulumiUpTargets, setSecretConfig } from "../pulumiCli";

export const ROTATION_TAG = "rotation";

/** Puts a new password into effect on the bus, handing it to `keep` before it can take effect. */
interface Applier {
  describe: string;
  apply(keep: (newPass: string) => Promise<void>): Promise<void>;
  /** Whether other machines hold this credential too, and so must be told to re-bootstrap. */
  shared: boolean;
}

export async function rotate(parsed: ParsedCommand<"rotate">, io: Io): Promise<number> {
  noPositionals("rotate", parsed);
  const timeoutSeconds = Number(stringOption(parsed, "timeout") ?? "120");
  if (!Number.isInteger(timeoutSeconds) || timeoutSeconds < 1) throw new UsageError("rotate: --timeout must be a whole number of seconds");
  const given = (keys: readonly (keyof typeof parsed.values)[]) => keys.filter((key) => parsed.values[key] !== undefined);
  const sshOnly = given(["target", "config", "port", "identity", "known-hosts"] as const);
  const pulumiOnly = given(["pulumi", "stack", "cwd"] as const);
  const ssh = booleanOption(parsed, "ssh");
  if (ssh && pulumiOnly.length) throw new UsageError(`rotate --ssh does not take --${pulumiOnly.join(", --")}`);
  if (!ssh && sshOnly.length) throw new UsageError(`rotate: --${sshOnly.join(", --")} need --ssh`);

  const cfg = await resolveConfig(connectionFlags(parsed), io);
  // Refuse to start from a credential that does not work: verification would prove nothing.
  const client = createBusClient(cfg);
  await client.health();
  if (await isOwnMachineCredential(client, cfg.user)) {
    const deployment = [...(ssh ? ["ssh"] : []), ...pulumiOnly, ...sshOnly];
    if (deployment.length)
      throw new UsageError(
        `rotate: ${cfg.user} signs in with its own credential, which rotates on the bus: --${deployment.join(", --")} are for the team password`,
      );
    return rotateWith(cfg, machineApplier(client, cfg.user), timeoutSeconds * 1000, io);
  }
  const applier = ssh ? await sshApplier(parsed, io) : pulumiApplier(parsed, io);
  return rotateWith(cfg, applier, timeoutSeconds * 1000, io);
}

/** Whether a machine signs in with a credential of its own that still works (else with the team password). */
const hasOwnCredential = (m: Machine) => !!m.credential && !m.credential.revoked;

/** Whether `user` is a machine enrolled by invite whose credential still works (else it is the team credential). */
async function isOwnMachineCredential(client: BusClient, user: string): Promise<boolean> {
  const { machines } = await client.roster();
  return machines.some((m) => m.name === user && hasOwnCredential(m));
}

/** The bus issues the new secret; the old one keeps working until the new one is first used. */
function machineApplier(client: BusClient, name: string): Applier {
  return {
    describe: `bus (POST /machines/${name}/rotate)`,
    shared: false,
    async apply(keep) {
      await keep(await client.rotateOwnSecret(name));
    },
  };
}

/**
 * The resources a rotation changes, and so `pulumi up --target`s: the stack and the Bus (their outputs
 * carry the password), the generated password (replaced by the configured one), and the two host steps
 * that read the password.
 */
function changesWithRotation({ urn }: PreviewStep): boolean {
  const { type, name } = urnParts(urn);
  if (["pulumi:pulumi:Stack", "claude-bus:index:Bus", "random:index/randomPassword:RandomPassword"].includes(type)) return true;
  return type === "command:remote:Command" && ROTATION_STEPS.some((step) => name.endsWith(`-${step}`));
}

/** The host steps that put a new password into effect and prove it (provision/steps.ts's rotationSteps). */
const ROTATION_STEPS = ["credentials", "health"];

/** A resource's type and name from its URN (urn:pulumi:STACK::PROJECT::PARENT-TYPE$TYPE::NAME). */
function urnParts(urn: string): { type: string; name: string } {
  const at = urn.lastIndexOf("::");
  return { type: urn.slice(0, at).split("::").pop()!.split("$").pop()!, name: urn.slice(at + 2) };
}

/** Preview ops that leave a resource as it is. */
const UNCHANGED_OPS = ["same", "read", "refresh"];

function pulumiApplier(parsed: ParsedCommand<"rotate">, io: Io): Applier {
  const stack = stringOption(parsed, "stack");
  const pulumi = { bin: stringOption(parsed, "pulumi") ?? io.env.PULUMI_BIN ?? "pulumi", stack, cwd: stringOption(parsed, "cwd"), env: io.env };
  return {
    describe: `Pulumi stack${stack ? ` ${stack}` : ""} (pulumi preview; pulumi config set --secret busPassword; pulumi up --target the password's resources)`,
    shared: true,
    async apply(keep) {
      // `pulumi up` would apply everything pending, a new droplet included: only the rotation's own
      // resources are targeted, by the URNs the preview names.
      const plan = await pulumiPreview(pulumi);
      const targets = plan.filter(changesWithRotation).map(({ urn }) => urn);
      const missing = ROTATION_STEPS.filter((step) => !targets.some((urn) => urnParts(urn).name.endsWith(`-${step}`)));
      if (missing.length > 0) {
        throw new PulumiError(
          `the stack has no ${missing.join(" and ")} step to put a new password into effect: deploy it with pulumi up first; nothing was changed`,
        );
      }
      const left = plan.filter((step) => !UNCHANGED_OPS.includes(step.op) && !changesWithRotation(step));
      if (left.length > 0) {
        io.err("left for a later pulumi up (this rotation changes only the password's resources):");
        for (const { op, urn } of left) io.err(`  ${op} ${urnParts(urn).name} (${urnParts(urn).type})`);
      }
      const newPass = generatePassword();
      await keep(newPass);
      await setSecretConfig(pulumi, "busPassword", newPass);
      await pulumiUpTargets(pulumi, targets);
    },
  };
}

async function sshApplier(parsed: ParsedCommand<"rotate">, io: Io): Promise<Applier> {
  if (!parsed.values.target || !parsed.values.config) throw new UsageError("rotate --ssh needs --target [USER@]HOST and --config host.json");
  const { sshHost } = await import("../sshHost");
  const { rotateOverSsh } = await import("../../provision/ssh/runner");
  const { target, cfg } = sshHost("rotate", parsed);
  return {
    describe: `credentials and health steps over SSH on ${target.user}@${target.host}`,
    shared: true,
    async apply(keep) {
      const newPass = generatePassword();
      await keep(newPass);
      await rotateOverSsh(target, cfg, newPass, (line: string) => io.err(line));
    },
  };
}

async function rotateWith(cfg: ClientConfig, applier: Applier, timeoutMs: number, io: Io): Promise<number> {
  const pending = pendingEnvFile(cfg.envFile);
  const existing = await readEnvFile(cfg.envFile, io.err, io.platform);
  let newPass = "";
  const keep = async (pass: string) => {
    await writeEnvFile(pending, renderEnvFile({ BUS_URL: cfg.url, BUS_USER: cfg.user, BUS_PASS: pass, BUS_ME: existing?.BUS_ME }));
    newPass = pass; // only once it is kept: the messages below say where it is
  };

  io.err(`rotating ${applier.shared ? "the bus password" : `${cfg.user}'s own secret`} through the ${applier.describe}`);
  try {
    await applier.apply(keep);
  } catch (err) {
    io.err(`claude-bus rotate: applying the new password failed: ${(err as Error).message}`);
    if (newPass) io.err(`${cfg.envFile} is unchanged. The new password is kept in ${pending} (0600) in case it was applied in part;`);
    else io.err(`${cfg.envFile} is unchanged, and so is the bus;`);
    io.err("re-run `claude-bus rotate` once the problem is fixed (it makes a fresh password).");
    return EXIT.failure;
  }

  io.err("verifying: the new password must get 200 and the old one 401");
  const failure = await verify(cfg, newPass, timeoutMs);
  if (failure) {
    io.err(`claude-bus rotate: verification failed: ${failure}`);
    io.err(`${cfg.envFile} still holds the old password. The new one is in ${pending} (0600): if`);
    io.err(`\`claude-bus health --env-file ${pending}\` succeeds, install it with: mv ${pending} ${cfg.envFile}`);
    return EXIT.failure;
  }
  await moveDurably(pending, cfg.envFile);
  io.out(`✓ rotated: the bus at ${cfg.url} accepts only the new password; ${cfg.envFile} updated (mode 0600)`);
  if (io.env.BUS_PASS) io.out("  BUS_PASS is set in this shell's environment and is now stale: re-source the env file");
  if (!applier.shared) {
    io.out(`  only ${cfg.user}'s credential changed: every other machine keeps its own`);
    return EXIT.ok;
  }

  try {
    await announce(createBusClient({ ...cfg, pass: newPass }), cfg.me, io);
  } catch (err) {
    // the rotation itself is done and verified: a failed notice must not look like a failed rotation
    io.err(`warning: could not post the rotation notice: ${(err as Error).message}`);
    io.out("  re-run bootstrap with the new credential on every other machine that uses this bus");
  }
  return EXIT.ok;
}

/** Tells the bus (without the password) and the user which machines need the new credential. */
async function announce(client: BusClient, me: string, io: Io): Promise<void> {
  const notice = await client.post({
    from: me,
    to: "any",
    body:
      `the team password was rotated by ${me}; machines still on the old one get 401 until they re-run ` +
      "`claude-bus bootstrap` with the new credential (pulumi stack output --json --show-secrets | claude-bus bootstrap --from-stack); " +
      "machines enrolled with their own credential are untouched",
    tags: [ROTATION_TAG],
  });
  io.out(`  posted notice #${notice.id} (without the password)`);
  const { shared, own } = await machinesByCredential(client, me);
  io.out(
    shared.length
      ? `  re-run bootstrap with the new credential on: ${shared.join(", ")} (every other name the bus has seen without a credential of its own) and any other machine`
      : "  re-run bootstrap with the new credential on every other machine that uses the team password",
  );
  io.out("  e.g. pulumi stack output --json --show-secrets | claude-bus bootstrap --from-stack");
  if (own.length) io.out(`  untouched, and to be left on their own credentials: ${own.join(", ")}`);
}

/** Polls until new → 200 and old → 401 (a rotation may accept both for a moment); a reason string on timeout. */
async function verify(cfg: ClientConfig, newPass: string, timeoutMs: number): Promise<string | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [fresh, old] = await Promise.all([probe({ ...cfg, pass: newPass }), probe(cfg)]);
    if (fresh === "200" && old === "401") return undefined;
    if (Date.now() >= deadline) {
      return `after ${Math.round(timeoutMs / 1000)} s the new password gets ${fresh} and the old one ${old} (wanted 200 and 401)`;
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

async function probe(credential: Credential): Promise<string> {
  try {
    await createBusClient(credential).health();
    return "200";
  } catch (err) {
    return err instanceof AuthError ? "401" : `an error (${(err as Error).message})`;
  }
}

/** Every other name the bus has seen (GET /machines): those that may hold the team password, and those enrolled with their own. */
async function machinesByCredential(client: BusClient, me: string): Promise<{ shared: string[]; own: string[] }> {
  const others = (await client.roster()).machines.filter((m) => m.name !== me);
  return { shared: others.filter((m) => !hasOwnCredential(m)).map((m) => m.name), own: others.filter(hasOwnCredential).map((m) => m.name) };
}
