/**
 * `claude-bus:index:Bus`: one droplet with a reserved IP, a firewall, a data volume, optional DNS
 * record, monitoring and a DigitalOcean project, then provision/'s host steps run over SSH in order.
 * Each part is built by its own module; this component only wires them together, in the order a
 * replacement needs: the new droplet prepared, the volume released and moved to it, its steps run, and
 * only then the reserved IP moved (see infra/README.md, "What a replacement costs").
 */
import * as pulumi from "@pulumi/pulumi";
import { busUrlOf, credentialsEnv } from "../provision/credentials";
import { backupStorage, type BackupStorageArgs } from "./backups";
import { dnsRecords } from "./dns";
import { type HostStepsArgs, prepareHost, provisionData } from "./hostSteps";
import { monitoring } from "./monitoring";
import { network, type NetworkArgs, stackTagOf } from "./network";
import { busPassword, type PasswordArgs } from "./password";
import { project } from "./project";
import { dataVolume, type VolumeArgs } from "./volume";

export interface BusArgs extends Omit<NetworkArgs, "stackTag">, PasswordArgs, HostStepsArgs, VolumeArgs {
  /** Create the A record in the domain's DigitalOcean-hosted zone. */
  manageDns: boolean;
  /** The data volume's name; the host config names its device. */
  volumeName: string;
  /** Who the uptime and droplet alerts go to. */
  alertEmail: string;
  /** The off-host backup bucket, when the stack config turns backups on. */
  backups?: BackupStorageArgs;
}

export class Bus extends pulumi.ComponentResource {
  public readonly fqdn: string;
  public readonly busUrl: string;
  public readonly ipv4: pulumi.Output<string>;
  public readonly busUser: string;
  public readonly busPassword: pulumi.Output<string>;
  /** The exact ~/.secrets/claude-bus.env text for clients. */
  public readonly clientEnv: pulumi.Output<string>;
  /** With backups: the bucket's name, and its env file text (a secret) for `claude-bus restore --from-s3`. */
  public readonly backupBucket?: pulumi.Output<string>;
  public readonly backupEnv?: pulumi.Output<string>;

  constructor(name: string, args: BusArgs, opts?: pulumi.ComponentResourceOptions) {
    super("claude-bus:index:Bus", name, {}, opts);
    const child = { parent: this };
    const { host } = args;

    // The reserved IP's assignment is made first but waits for the health step made last.
    let healthy!: (health: pulumi.Resource) => void;
    const machine = network(name, { ...args, stackTag: stackTagOf(args.volumeName) }, { healthy: new Promise((done) => (healthy = done)) }, child);
    const { droplet, dropletId, reservedIp } = machine;
    const password = busPassword(name, args, child);
    // One writer: the host's credentials file and the clients' env file are the same text.
    const credentials = pulumi.secret(password.apply((pass) => credentialsEnv(host, pass)));
    const backups = args.backups ? backupStorage(name, args.backups, child) : undefined;
    const target = { ...args, network: machine, credentials, backupTarget: backups?.env };
    const prepared = prepareHost(name, target, child);
    const { volume, attachment } = dataVolume(name, args.volumeName, args, dropletId, [prepared.ready], child);
    const records = args.manageDns ? dnsRecords(name, { host, ipv4: reservedIp.ipAddress }, child) : [];
    const health = provisionData(name, prepared, { ...target, attachment, dnsRecords: records }, child);
    healthy(health);
    project(name, { host, resources: [droplet.dropletUrn, volume.volumeUrn, ...(backups ? [backups.bucket.bucketUrn] : [])] }, child);
    monitoring(name, { host, droplet, email: args.alertEmail, after: [health, machine.assignment] }, child);

    this.fqdn = host.fqdn;
    this.busUrl = busUrlOf(host);
    this.ipv4 = reservedIp.ipAddress;
    this.busUser = host.busUser;
    this.busPassword = password;
    this.clientEnv = credentials;
    this.backupBucket = backups?.bucket.name;
    this.backupEnv = backups?.env;
    this.registerOutputs({
      busUrl: this.busUrl,
      fqdn: this.fqdn,
      ipv4: this.ipv4,
      busUser: this.busUser,
      busPassword: this.busPassword,
      clientEnv: this.clientEnv,
      ...(backups && { backupBucket: this.backupBucket, backupEnv: this.backupEnv }),
    });
  }
}
