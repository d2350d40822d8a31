/**
 * The machine and how it is reached: SSH key, the stack's tag, the cloud firewall (bound to the tag, so
 * a droplet is inside it from the moment it exists), droplet, and the reserved IPv4 with its assignment.
 */
import * as digitalocean from "@pulumi/digitalocean";
import * as pulumi from "@pulumi/pulumi";
import type { HostConfig } from "../provision/config";

export interface NetworkArgs {
  /** Validated host config (provision/config.ts); names the droplet, its key and its firewall. */
  host: HostConfig;
  region: string;
  size: string;
  image: string;
  /** An SSH key already in the DigitalOcean account: its fingerprint or id... */
  sshKeyFingerprint?: string;
  /** ...or a public key to register (only when no fingerprint is given). */
  sshPublicKey?: string;
  /** Who may reach port 22. */
  sshAllowedCidrs: string[];
  /** The stack's own DigitalOcean tag: its droplet carries it and the firewall applies to it. */
  stackTag: string;
}

/** When the reserved IP may move to the droplet. */
export interface AssignmentGate {
  /**
   * The step that proves the droplet serves the bus; the IP waits for it whenever it already points
   * at a droplet (an old one still serving, during a replacement).
   */
  healthy: Promise<pulumi.Resource>;
}

export interface Network {
  droplet: digitalocean.Droplet;
  /** The droplet's id as the number the resources that refer to it want (the provider's id is a string). */
  dropletId: pulumi.Output<number>;
  reservedIp: digitalocean.ReservedIp;
  assignment: digitalocean.ReservedIpAssignment;
  /**
   * Whether the reserved IP pointed at a droplet when this run began (read live from DigitalOcean): then
   * it moves only once the new droplet is healthy; otherwise (a first deploy) at once, since the first
   * certificate needs the name, and so the IP, to reach this droplet.
   */
  ipInUse: pulumi.Output<boolean>;
}

/** Every IPv4 and IPv6 address. */
export const EVERYWHERE = ["0.0.0.0/0", "::/0"];

/**
 * Cloud-init user data: deliberately tiny, stable and free of secrets (it is readable from the
 * droplet's metadata service). Everything else is provisioned over SSH.
 */
export const USER_DATA = `#cloud-config
# claude-bus: the host is provisioned over SSH by Pulumi (provision/ steps), not by cloud-init.
ssh_pwauth: false
`;

/** SSH from the allowed CIDRs, HTTP (ACME, redirect) and HTTPS from anyone; anything outbound (apt, ACME). */
function firewallRules(sshAllowedCidrs: string[]): Pick<digitalocean.FirewallArgs, "inboundRules" | "outboundRules"> {
  return {
    inboundRules: [
      { protocol: "tcp", portRange: "22", sourceAddresses: sshAllowedCidrs },
      { protocol: "tcp", portRange: "80", sourceAddresses: EVERYWHERE },
      { protocol: "tcp", portRange: "443", sourceAddresses: EVERYWHERE },
    ],
    outboundRules: [
      { protocol: "tcp", portRange: "1-65535", destinationAddresses: EVERYWHERE },
      { protocol: "udp", portRange: "1-65535", destinationAddresses: EVERYWHERE },
      { protocol: "icmp", destinationAddresses: EVERYWHERE },
    ],
  };
}

/**
 * The stack's tag, named like its data volume (the stack's name): one stack's firewall never covers another
 * stack's droplets. DigitalOcean allows letters, digits, ':', '-' and '_' in a tag.
 */
export const stackTagOf = (volumeName: string) => volumeName;

export function network(name: string, args: NetworkArgs, gate: AssignmentGate, opts: pulumi.CustomResourceOptions): Network {
  const { host } = args;
  const sshKeyId =
    args.sshKeyFingerprint === undefined
      ? new digitalocean.SshKey(
          `${name}-ssh-key`,
          { name: `${host.fqdn} deploy`, publicKey: requireValue(args.sshPublicKey, "sshKeyFingerprint or sshPublicKey") },
          opts,
        ).fingerprint
      : pulumi.output(args.sshKeyFingerprint);

  const tag = new digitalocean.Tag(`${name}-tag`, { name: args.stackTag }, opts);
  // Created before the droplet, and bound to its tag rather than its id: a new droplet (a replacement's
  // too) is inside the firewall from the moment it exists.
  const firewall = new digitalocean.Firewall(
    `${name}-firewall`,
    { name: host.fqdn.replace(/[^a-z0-9.-]/g, "-"), tags: [tag.name], ...firewallRules(args.sshAllowedCidrs) },
    opts,
  );

  const droplet = new digitalocean.Droplet(
    `${name}-droplet`,
    {
      name: host.fqdn, // a droplet named by its FQDN gets a matching reverse DNS (PTR) record
      region: args.region,
      size: args.size,
      image: args.image,
      ipv6: true,
      monitoring: true,
      // Only CPU and RAM change on a resize, so a later resize back down stays possible.
      resizeDisk: false,
      sshKeys: [sshKeyId],
      userData: USER_DATA,
      tags: ["claude-bus", tag.name],
      // A shutdown the OS is asked for (services stop, file systems sync) before a delete powers it off.
      gracefulShutdown: true,
    },
    // Both are ForceNew, and neither is worth a new droplet: changes reach the host through the steps
    // (root's authorized keys through the ssh-keys step). A new fingerprint, or the same key named by id,
    // must not replace the droplet.
    { ...opts, ignoreChanges: ["userData", "sshKeys"], dependsOn: [firewall] },
  );
  const dropletId = droplet.id.apply((id) => Number(id));

  // Protected whatever allowDataDestroy says: DNS records point at it, and whoever got it next could
  // get certificates for the name (infra/README.md says how to really delete it).
  const reservedIp = new digitalocean.ReservedIp(`${name}-ip`, { region: args.region }, { ...opts, protect: true });
  const ipInUse = digitalocean.getReservedIpOutput({ ipAddress: reservedIp.ipAddress }, opts).dropletId.apply((id) => Boolean(id));
  const assignment = new digitalocean.ReservedIpAssignment(
    `${name}-ip-assignment`,
    { ipAddress: reservedIp.ipAddress, dropletId },
    { ...opts, dependsOn: ipInUse.apply(async (inUse) => (inUse ? [await gate.healthy] : [])) },
  );
  return { droplet, dropletId, reservedIp, assignment, ipInUse };
}

function requireValue(value: string | undefined, what: string): string {
  if (value === undefined || value === "") throw new Error(`Bus: ${what} is required`);
  return value;
}
