/**
 * The host, provisioned over SSH: wait until SSH answers, upload the service bundle, then run
 * provision/'s steps in order, one remote command each. No host logic lives here: every script
 * comes from provision/steps.ts.
 */
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { HostConfig } from "../provision/config";
import { BUNDLE_UPLOAD_PATH, hostSteps } from "../provision/steps";
import type { Network } from "./network";

type HostStep = ReturnType<typeof hostSteps>[number];

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
  /** The records the certificate step waits for; empty when DNS is managed elsewhere. */
  dnsRecords: pulumi.Resource[];
}

/** certbot's HTTP challenge succeeds only once the name resolves to this host. */
const NEEDS_DNS = "certificate";

/**
 * A step's command: its script, with its content hash as trigger (the step runs again exactly when
 * what it does changes). A step that asks for the credentials gets them as secret stdin, with
 * logging off and its output kept secret, since a failing script may echo what it read.
 */
function stepCommand(
  step: HostStep,
  connection: command.types.input.remote.ConnectionArgs,
  credentials: pulumi.Output<string>,
): { args: command.remote.CommandArgs; additionalSecretOutputs?: string[] } {
  const args = { connection, create: step.script, triggers: [step.hash], addPreviousOutputInEnv: false };
  if (step.stdin !== "credentials") return { args };
  return {
    args: { ...args, stdin: credentials, logging: command.types.enums.remote.Logging.None },
    additionalSecretOutputs: ["stdout", "stderr"],
  };
}

export function provisionHost(name: string, args: HostStepsArgs & HostTarget, opts: pulumi.CustomResourceOptions): void {
  const { droplet, assignment } = args.network;
  const connection: command.types.input.remote.ConnectionArgs = {
    host: assignment.ipAddress, // through the assignment, so SSH waits until the IP points here
    user: "root",
    privateKey: pulumi.secret(args.sshPrivateKey),
    dialErrorLimit: 60, // a fresh droplet refuses SSH for a minute or two while it boots
    perDialTimeout: 10,
  };
  // Host commands are replaced with the droplet (a new droplet must be provisioned from scratch)
  // and never run on delete: the droplet's deletion takes everything with it.
  const onHost = (dependsOn: pulumi.Resource[]): pulumi.CustomResourceOptions => ({
    ...opts,
    dependsOn,
    deletedWith: droplet,
    replaceWith: [droplet],
    customTimeouts: { create: "20m", update: "20m" },
  });

  const wait = new command.remote.Command(
    `${name}-wait-ssh`,
    { connection, create: "uname -a", addPreviousOutputInEnv: false },
    onHost([assignment]),
  );
  let previous: pulumi.Resource = new command.remote.CopyToRemote(
    `${name}-bundle-upload`,
    {
      connection,
      source: new pulumi.asset.FileAsset(args.bundle.file),
      remotePath: BUNDLE_UPLOAD_PATH,
      triggers: [args.bundle.sha256],
    },
    onHost([wait]),
  );
  // Each step runs after the one before it: only dependencies order execution.
  for (const step of hostSteps(args.host, args.bundle)) {
    const { args: commandArgs, additionalSecretOutputs } = stepCommand(step, connection, args.credentials);
    const after = step.name === NEEDS_DNS ? [previous, ...args.dnsRecords] : [previous];
    previous = new command.remote.Command(`${name}-${step.name}`, commandArgs, { ...onHost(after), additionalSecretOutputs });
  }
}
