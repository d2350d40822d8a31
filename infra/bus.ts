/**
 * `claude-bus:index:Bus`: one droplet with a reserved IP, a firewall, optional DNS records and a
 * DigitalOcean project, then provision/'s host steps run over SSH in order. No host logic lives
 * here: every script comes from provision/steps.ts.
 */
import * as command from "@pulumi/command";
import * as digitalocean from "@pulumi/digitalocean";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { renderEnvFile } from "../client/envFile";
import type { HostConfig } from "../provision/config";
import { BUNDLE_UPLOAD_PATH, hostSteps } from "../provision/steps";

export interface BusArgs {
  /** Validated host config (provision/config.ts); gives the fqdn and everything the steps render. */
  host: HostConfig;
  /** The self-contained service bundle built by provision/bundle.ts. */
  bundle: { file: string; sha256: string };
  region: string;
  size: string;
  image: string;
  /** Create the A/AAAA records in the domain's DigitalOcean-hosted zone. */
  manageDns: boolean;
  /** An SSH key already in the DigitalOcean account: its fingerprint or id... */
  sshKeyFingerprint?: string;
  /** ...or a public key to register. Exactly one of the two. */
  sshPublicKey?: string;
  /** Private key Pulumi logs in with as root (a secret). */
  sshPrivateKey: pulumi.Input<string>;
  sshAllowedCidrs: string[];
  /** A fixed bus password (a secret); when absent one is generated. */
  busPassword?: pulumi.Input<string>;
  /** Changing this generates a new password (only when busPassword is absent). */
  rotation: string;
}

/** Generated passwords: letters and digits only, safe in a shell-sourced dotenv file. */
export const GENERATED_PASSWORD_LENGTH = 28;

const EVERYWHERE = ["0.0.0.0/0", "::/0"];

/**
 * Cloud-init user data: deliberately tiny, stable and free of secrets (it is readable from the
 * droplet's metadata service). Everything else is provisioned over SSH.
 */
export const USER_DATA = `#cloud-config
# claude-bus: the host is provisioned over SSH by Pulumi (provision/ steps), not by cloud-init.
ssh_pwauth: false
`;

export class Bus extends pulumi.ComponentResource {
  public readonly fqdn: string;
  public readonly busUrl: string;
  public readonly ipv4: pulumi.Output<string>;
  public readonly ipv6: pulumi.Output<string>;
  public readonly busUser: string;
  public readonly busPassword: pulumi.Output<string>;
  /** The exact ~/.secrets/claude-bus.env text for clients. */
  public readonly clientEnv: pulumi.Output<string>;
  public readonly droplet: digitalocean.Droplet;
  /** The provision steps in order, by step name. */
  public readonly steps: { name: string; command: command.remote.Command }[];

  constructor(name: string, args: BusArgs, opts?: pulumi.ComponentResourceOptions) {
    super("claude-bus:index:Bus", name, {}, opts);
    const child = { parent: this };
    const { host } = args;
    this.fqdn = host.fqdn;
    this.busUrl = `https://${host.fqdn}`;
    this.busUser = host.busUser;

    const sshKeyId =
      args.sshPublicKey !== undefined
        ? new digitalocean.SshKey(`${name}-ssh-key`, { name: `${host.fqdn} deploy`, publicKey: args.sshPublicKey }, child).fingerprint
        : pulumi.output(requireValue(args.sshKeyFingerprint, "sshKeyFingerprint or sshPublicKey"));

    const droplet = new digitalocean.Droplet(
      `${name}-droplet`,
      {
        name: host.fqdn, // a droplet named by its FQDN gets a matching reverse DNS (PTR) record
        region: args.region,
        size: args.size,
        image: args.image,
        ipv6: true,
        monitoring: true,
        sshKeys: [sshKeyId],
        userData: USER_DATA,
        tags: ["claude-bus"],
      },
      // A droplet is never rebuilt for a user-data edit; changes reach the host through the steps.
      { ...child, ignoreChanges: ["userData"] },
    );
    this.droplet = droplet;
    const dropletId = droplet.id.apply((id) => Number(id));

    const reservedIp = new digitalocean.ReservedIp(`${name}-ip`, { region: args.region }, child);
    const assignment = new digitalocean.ReservedIpAssignment(
      `${name}-ip-assignment`,
      { ipAddress: reservedIp.ipAddress, dropletId },
      child,
    );
    this.ipv4 = reservedIp.ipAddress;
    this.ipv6 = droplet.ipv6Address;

    new digitalocean.Firewall(
      `${name}-firewall`,
      {
        name: host.fqdn.replace(/[^a-z0-9.-]/g, "-"),
        dropletIds: [dropletId],
        inboundRules: [
          { protocol: "tcp", portRange: "22", sourceAddresses: args.sshAllowedCidrs },
          { protocol: "tcp", portRange: "80", sourceAddresses: EVERYWHERE },
          { protocol: "tcp", portRange: "443", sourceAddresses: EVERYWHERE },
        ],
        outboundRules: [
          { protocol: "tcp", portRange: "1-65535", destinationAddresses: EVERYWHERE },
          { protocol: "udp", portRange: "1-65535", destinationAddresses: EVERYWHERE },
          { protocol: "icmp", destinationAddresses: EVERYWHERE },
        ],
      },
      child,
    );

    // The zone itself is not managed here: it usually holds other records, and destroying the
    // stack must never delete a whole zone. manageDns needs the zone to exist at DigitalOcean.
    const dnsRecords = args.manageDns
      ? [
          new digitalocean.DnsRecord(
            `${name}-dns-a`,
            { domain: host.domain, name: host.subdomain, type: "A", value: reservedIp.ipAddress, ttl: 300 },
            child,
          ),
          new digitalocean.DnsRecord(
            `${name}-dns-aaaa`,
            { domain: host.domain, name: host.subdomain, type: "AAAA", value: droplet.ipv6Address, ttl: 300 },
            child,
          ),
        ]
      : [];

    new digitalocean.Project(
      `${name}-project`,
      {
        name: host.fqdn,
        description: `claude-bus message bus at https://${host.fqdn}`,
        purpose: "Service or API",
        environment: "Production",
        resources: [droplet.dropletUrn, reservedIp.reservedIpUrn],
      },
      child,
    );

    const password =
      args.busPassword !== undefined
        ? pulumi.secret(args.busPassword)
        : pulumi.secret(
            new random.RandomPassword(
              `${name}-password`,
              {
                length: GENERATED_PASSWORD_LENGTH,
                special: false,
                minUpper: 1,
                minLower: 1,
                minNumeric: 1,
                keepers: { rotation: args.rotation },
              },
              child,
            ).result,
          );
    this.busPassword = password;

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
      ...child,
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
    const upload = new command.remote.CopyToRemote(
      `${name}-bundle-upload`,
      {
        connection,
        source: new pulumi.asset.FileAsset(args.bundle.file),
        remotePath: BUNDLE_UPLOAD_PATH,
        triggers: [args.bundle.sha256],
      },
      onHost([wait]),
    );

    let previous: pulumi.Resource = upload;
    this.steps = hostSteps(host, args.bundle).map((step) => {
      const secret = step.stdin === "busPassword";
      const after = step.name === "certificate" ? [previous, ...dnsRecords] : [previous];
      const cmd = new command.remote.Command(
        `${name}-${step.name}`,
        {
          connection,
          create: step.script,
          // The step's content hash: the step runs again exactly when what it does changes.
          triggers: [step.hash],
          stdin: secret ? password : undefined,
          logging: secret ? command.types.enums.remote.Logging.None : undefined,
          addPreviousOutputInEnv: false,
        },
        { ...onHost(after), additionalSecretOutputs: secret ? ["stdout", "stderr"] : undefined },
      );
      previous = cmd;
      return { name: step.name, command: cmd };
    });

    // The client's own renderer: the text bootstrap writes and parses, quoted where bash needs it.
    this.clientEnv = pulumi.secret(
      password.apply((pass) => renderEnvFile({ BUS_USER: host.busUser, BUS_PASS: pass, BUS_URL: `https://${host.fqdn}` })),
    );

    this.registerOutputs({
      busUrl: this.busUrl,
      fqdn: this.fqdn,
      ipv4: this.ipv4,
      ipv6: this.ipv6,
      busUser: this.busUser,
      busPassword: this.busPassword,
      clientEnv: this.clientEnv,
    });
  }
}

function requireValue(value: string | undefined, what: string): string {
  if (value === undefined || value === "") throw new Error(`Bus: ${what} is required`);
  return value;
}
