/**
 * The host, provisioned over SSH at the droplet's own address (the reserved IP may still point at an old
 * droplet): wait until SSH answers (and learn the host's key), upload the service bundle, run provision/'s
 * steps that need no data volume; then, once the volume is attached, the release command that lets go of
 * it again before it is ever detached, and the remaining steps in order, one remote command each. No host
 * logic lives here: every script comes from provision/steps.ts.
 */
import * as command from "@pulumi/command";
import type * as digitalocean from "@pulumi/digitalocean";
import * as pulumi from "@pulumi/pulumi";
import type { HostConfig } from "../provision/config";
import { BUNDLE_UPLOAD_PATH, type HostStep, hostKeyIn, hostStepPlans, hostSteps, releaseScript, type StepInput, type StepPlan } from "../provision/steps";
import type { Network } from "./network";

export interface HostStepsArgs {
  /** Validated host config (provision/config.ts): everything the steps render. */
  host: HostConfig;
  /** The self-contained service bundle built by provision/bundle.ts. */
  bundle: { file: string; sha256: string };
  /** Private key Pulumi logs in with as root (a secret). */
  sshPrivateKey: pulumi.Input<string>;
}

interface HostTarget {
  network: Network;
  /** The credentials env text (a secret): the stdin of the steps that ask for it. */
  credentials: pulumi.Output<string>;
  /** The backup bucket's env text (a secret), when backups are on: the backups step's stdin. */
  backupTarget?: pulumi.Output<string>;
}

interface DataTarget {
  /** The data volume's attachment to this droplet. */
  attachment: digitalocean.VolumeAttachment;
  /** The records the certificate step waits for; empty when DNS is managed elsewhere. */
  dnsRecords: pulumi.Resource[];
}

/** The host half provisioned: how to reach it, and the steps still to run once the volume is attached. */
export interface PreparedHost {
  /** The last command before the volume is needed: the attachment waits for it. */
  ready: pulumi.Resource;
  connection: command.types.input.remote.ConnectionArgs;
  steps: pulumi.Output<HostStep[]>;
  /** The plans of the steps still to run, from the volume step on, with their index in `steps`. */
  remaining: { plan: StepPlan; index: number }[];
}

/** SSH dial attempts (10 s each) for a droplet that is already running. */
const RUNNING_HOST_DIALS = 5;

/** certbot's HTTP challenge succeeds only once the name resolves to this host. */
const NEEDS_DNS = "certificate";
/** The first step that needs the data volume attached; every step from it on runs again on a new attachment. */
const NEEDS_VOLUME = "volume";

/**
 * The host's ed25519 key as `type base64`, printed by the first command, which connects without knowing
 * it (trust on first contact); the commands before the volume step are pinned to it.
 */
const PRINT_HOST_KEY = "cut -d ' ' -f 1,2 /etc/ssh/ssh_host_ed25519_key.pub";

/**
 * A step's command. Its triggers are the droplet's id (from the volume step on, the attachment's id too)
 * and the step's hash: the step runs again exactly when what it does changes, and once on every new
 * droplet (and new attachment), even when an earlier `pulumi up` failed
 * half way through a replacement (triggers live in the state, unlike replaceWith, which acts within one
 * deployment only). A step that asks for a secret (the credentials, the backup bucket's env) gets it as
 * secret stdin, with logging off and its output kept secret, since a failing script may echo what it read.
 */
/** The secret texts a step may read on stdin, by the name its plan gives. */
function stepInputs(args: HostTarget): Partial<Record<StepInput, pulumi.Output<string>>> {
  return { credentials: args.credentials, backupTarget: args.backupTarget };
}

function stepCommand(
  step: pulumi.Output<HostStep>,
  stdin: HostStep["stdin"],
  connection: command.types.input.remote.ConnectionArgs,
  triggers: pulumi.Input<string>[],
  inputs: Partial<Record<StepInput, pulumi.Output<string>>>,
): { args: command.remote.CommandArgs; additionalSecretOutputs?: string[] } {
  const args = { connection, create: step.script, triggers: [...triggers, step.hash], addPreviousOutputInEnv: false };
  if (stdin === undefined) return { args };
  const input = inputs[stdin];
  if (input === undefined) throw new Error(`the ${stdin} input of a host step is missing`);
  return {
    args: { ...args, stdin: input, logging: command.types.enums.remote.Logging.None },
    additionalSecretOutputs: ["stdout", "stderr"],
  };
}

/** Host commands never run on delete (the droplet's deletion takes everything with it), and may take a while. */
function onHost(droplet: digitalocean.Droplet, opts: pulumi.CustomResourceOptions, dependsOn: pulumi.Input<pulumi.Input<pulumi.Resource>[]>) {
  return { ...opts, dependsOn, deletedWith: droplet, customTimeouts: { create: "20m", update: "20m" } };
}

/** SSH to the droplet, the bundle uploaded, and every step before the volume step. */
export function prepareHost(name: string, args: HostStepsArgs & HostTarget, opts: pulumi.CustomResourceOptions): PreparedHost {
  const { droplet, reservedIp } = args.network;
  const firstContact: command.types.input.remote.ConnectionArgs = {
    // The droplet's own address: the reserved IP moves here only once the bus answers here.
    host: droplet.ipv4Address,
    user: "root",
    privateKey: pulumi.secret(args.sshPrivateKey),
    dialErrorLimit: 60, // a fresh droplet refuses SSH for a minute or two while it boots
    perDialTimeout: 10,
  };
  // The certificate step checks that the name resolves to the reserved IP before it asks for a certificate.
  // The steps before the volume step, and their hashes: the first contact learns the key again whenever
  // one of them is to run again, as the host then presents the volume's key, not the one it booted with.
  const steps = reservedIp.ipAddress.apply((publicIpv4) => hostSteps({ ...args.host, publicIpv4 }, args.bundle));
  const plans = hostStepPlans(args.host, args.bundle);
  const firstOnVolume = plans.findIndex((plan) => plan.name === NEEDS_VOLUME);
  if (firstOnVolume < 0) throw new Error("Bus: the host config names no data volume");
  const earlyHashes = steps.apply((all) => all.slice(0, firstOnVolume).map((step) => step.hash));
  const wait = new command.remote.Command(
    `${name}-wait-ssh`,
    { connection: firstContact, create: PRINT_HOST_KEY, triggers: [droplet.id, earlyHashes], addPreviousOutputInEnv: false },
    onHost(droplet, opts, [droplet]),
  );
  const connection = { ...firstContact, hostKey: wait.stdout.apply((key) => key.trim()) };
  let previous: pulumi.Resource = new command.remote.CopyToRemote(
    `${name}-bundle-upload`,
    {
      connection,
      source: new pulumi.asset.FileAsset(args.bundle.file),
      remotePath: BUNDLE_UPLOAD_PATH,
      triggers: [droplet.id, args.bundle.sha256],
    },
    onHost(droplet, opts, [wait]),
  );
  // Each step runs after the one before it: only dependencies order execution.
  plans.slice(0, firstOnVolume).forEach((plan, i) => {
    const step = steps.apply((all) => all[i]);
    const { args: commandArgs, additionalSecretOutputs } = stepCommand(step, plan.stdin, connection, [droplet.id], stepInputs(args));
    previous = new command.remote.Command(`${name}-${plan.name}`, commandArgs, { ...onHost(droplet, opts, [previous]), additionalSecretOutputs });
  });
  return { ready: previous, connection, steps, remaining: plans.slice(firstOnVolume).map((plan, i) => ({ plan, index: firstOnVolume + i })) };
}

/**
 * The release command: its delete, on the droplet, stops the bus and unmounts the volume. Not deletedWith
 * the droplet: a replacement deletes the old droplet too, and the engine would then skip this delete,
 * which must run before the old attachment goes. Its trigger is taken from the attachment: when the
 * attachment is replaced (deleted before its replacement is made), the engine replaces every resource
 * whose replace-on-change inputs come from it, and deletes those first, this one among them. The value
 * is the droplet's id, so an attachment re-made on the same droplet releases nothing. The droplet it runs
 * on is up and serving: a few dials, not a fresh droplet's minutes of them.
 */
function release(
  name: string,
  connection: command.types.input.remote.ConnectionArgs,
  attachment: digitalocean.VolumeAttachment,
  host: HostConfig,
  opts: pulumi.CustomResourceOptions,
): void {
  new command.remote.Command(
    `${name}-release`,
    {
      connection: { ...connection, dialErrorLimit: RUNNING_HOST_DIALS },
      delete: releaseScript(host),
      triggers: [attachment.dropletId],
      addPreviousOutputInEnv: false,
    },
    { ...opts, dependsOn: [attachment] },
  );
}

/**
 * The steps from the volume step on, and after the volume step the release command; the steps after
 * it are pinned to the host key it reports. Returns the last, the health check.
 */
export function provisionData(
  name: string,
  prepared: PreparedHost,
  args: HostStepsArgs & HostTarget & DataTarget,
  opts: pulumi.CustomResourceOptions,
): pulumi.Resource {
  const { droplet, assignment, ipInUse } = args.network;
  const { attachment, connection, steps } = { ...args, ...prepared };
  let previous = prepared.ready;
  let pinned = connection;
  for (const { plan, index } of prepared.remaining) {
    const step = steps.apply((all) => all[index]);
    const triggers = [droplet.id, attachment.id];
    const { args: commandArgs, additionalSecretOutputs } = stepCommand(step, plan.stdin, pinned, triggers, stepInputs(args));
    const before: pulumi.Resource[] = [previous, ...(plan.name === NEEDS_VOLUME ? [attachment] : [])];
    // On a first deploy the certificate needs the reserved IP here; otherwise it is restored from the volume.
    const after = plan.name === NEEDS_DNS ? ipInUse.apply((inUse) => [...before, ...args.dnsRecords, ...(inUse ? [] : [assignment])]) : before;
    const created = new command.remote.Command(`${name}-${plan.name}`, commandArgs, { ...onHost(droplet, opts, after), additionalSecretOutputs });
    if (plan.name === NEEDS_VOLUME) {
      const hostKey = pulumi.all([created.stdout, connection.hostKey]).apply(([out, first]) => hostKeyIn(out) ?? (first as string));
      pinned = { ...connection, hostKey };
      release(name, pinned, attachment, args.host, opts);
    }
    previous = created;
  }
  return previous;
}
