/**
 * `claude-bus:index:Bus`: one droplet with a reserved IP, a firewall, a data volume, optional DNS
 * record, monitoring and a DigitalOcean project, then provision/'s host steps run over SSH in order.
 * Each part is built by its own module; this component only wires them together.
 */
import * as pulumi from "@pulumi/pulumi";
import { busUrlOf, credentialsEnv } from "../provision/credentials";
import { backupStorage, type BackupStorageArgs } from "./backups";
import { dnsRecords } from "./dns";
import { type HostStepsArgs, provisionHost } from "./hostSteps";
import { monitoring } from "./monitoring";
import { network, type NetworkArgs } from "./network";
import { busPassword, type PasswordArgs } from "./password";
import { project } from "./project";
import { dataVolume, type VolumeArgs } from "./volume";

export interface BusArgs extends NetworkArgs, PasswordArgs, HostStepsArgs, VolumeArgs {
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

    const machine = network(name, args, child);
    const { droplet, dropletId, reservedIp } = machine;
    const { volume, attachment } = dataVolume(name, args.volumeName, args, dropletId, child);
    const records = args.manageDns ? dnsRecords(name, { host, ipv4: reservedIp.ipAddress }, child) : [];
    const backups = args.backups ? backupStorage(name, args.backups, child) : undefined;
    project(name, { host, resources: [droplet.dropletUrn, volume.volumeUrn, ...(backups ? [backups.bucket.bucketUrn] : [])] }, child);
    monitoring(name, { host, droplet, email: args.alertEmail }, child);
    const password = busPassword(name, args, child);
    // One writer: the host's credentials file and the clients' env file are the same text.
    const credentials = pulumi.secret(password.apply((pass) => credentialsEnv(host, pass)));
    provisionHost(name, { ...args, network: machine, credentials, backupTarget: backups?.env, attached: [attachment], dnsRecords: records }, child);

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
