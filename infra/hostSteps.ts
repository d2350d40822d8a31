/**
 * The host, provisioned over SSH: wait until SSH answers (and learn the host's key), upload the service
 * bundle, then run provision/'s steps in order, one remote command each. No host logic lives here: every
 * script comes from provision/steps.ts.
 */
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { HostConfig } from "../provision/config";
import { BUNDLE_UPLOAD_PATH, type HostStep, hostStepPlans, hostSteps, type StepInput } from "../provision/steps";
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
  /** What must exist before the steps run: the data volume's attachment. */
  attached: pulumi.Resource[];
  /** The records the certificate step waits for; empty when DNS is managed elsewhere. */
  dnsRecords: pulumi.Resource[];
}

/** certbot's HTTP challenge succeeds only once the name resolves to this host. */
const NEEDS_DNS = "certificate";

/**
 * The host's ed25519 key as `type base64`, printed by the first command, which connects without knowing
 * it (trust on first contact); every later command is pinned to it.
 */
const PRINT_HOST_KEY = "cut -d ' ' -f 1,2 /etc/ssh/ssh_host_ed25519_key.pub";

/**
 * A step's command. Its triggers are the droplet's id and the step's hash: the step runs again exactly
 * when what it does changes, and once on every new droplet, even when an earlier `pulumi up` failed
 * half way through a replacement (triggers live in the state, unlike replaceWith, which acts within one
 * deployment only). A step that asks for a secret (the credentials, the backup bucket's env) gets it as
 * secret stdin, with logging off and its output kept secret, since a failing script may echo what it read.
 */
function stepCommand(
  step: pulumi.Output<HostStep>,
  stdin: HostStep["stdin"],
  connection: command.types.input.remote.ConnectionArgs,
  dropletId: pulumi.Output<string>,
  inputs: Partial<Record<StepInput, pulumi.Output<string>>>,
): { args: command.remote.CommandArgs; additionalSecretOutputs?: string[] } {
  const args = { connection, create: step.script, triggers: [dropletId, step.hash], addPreviousOutputInEnv: false };
  if (stdin === undefined) return { args };
  const input = inputs[stdin];
  if (input === undefined) throw new Error(`the ${stdin} input of a host step is missing`);
  return {
    args: { ...args, stdin: input, logging: command.types.enums.remote.Logging.None },
    additionalSecretOutputs: ["stdout", "stderr"],
  };
}

export function provisionHost(name: string, args: HostStepsArgs & HostTarget, opts: pulumi.CustomResourceOptions): void {
  const { droplet, assignment, reservedIp } = args.network;
  const firstContact: command.types.input.remote.ConnectionArgs = {
    host: assignment.ipAddress, // through the assignment, so SSH waits until the IP points here
    user: "root",
    privateKey: pulumi.secret(args.sshPrivateKey),
    dialErrorLimit: 60, // a fresh droplet refuses SSH for a minute or two while it boots
    perDialTimeout: 10,
  };
  // Host commands never run on delete: the droplet's deletion takes everything with it.
  const onHost = (dependsOn: pulumi.Resource[]): pulumi.CustomResourceOptions => ({
    ...opts,
    dependsOn,
    deletedWith: droplet,
    customTimeouts: { create: "20m", update: "20m" },
  });

  const wait = new command.remote.Command(
    `${name}-wait-ssh`,
    { connection: firstContact, create: PRINT_HOST_KEY, triggers: [droplet.id], addPreviousOutputInEnv: false },
    onHost([assignment]),
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
    onHost([wait, ...args.attached]),
  );
  // The certificate step checks that the name resolves to the reserved IP before it asks for a certificate.
  const steps = reservedIp.ipAddress.apply((publicIpv4) => hostSteps({ ...args.host, publicIpv4 }, args.bundle));
  // Each step runs after the one before it: only dependencies order execution.
  hostStepPlans(args.host, args.bundle).forEach((plan, i) => {
    const step = steps.apply((all) => all[i]);
    const inputs = { credentials: args.credentials, backupTarget: args.backupTarget };
    const { args: commandArgs, additionalSecretOutputs } = stepCommand(step, plan.stdin, connection, droplet.id, inputs);
    const after = plan.name === NEEDS_DNS ? [previous, ...args.dnsRecords] : [previous];
    previous = new command.remote.Command(`${name}-${plan.name}`, commandArgs, { ...onHost(after), additionalSecretOutputs });
  });
}
