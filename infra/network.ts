/** The machine and how it is reached: SSH key, droplet, reserved IPv4 and the cloud firewall. */
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
}

export interface Network {
  droplet: digitalocean.Droplet;
  /** The droplet's id as the number the resources that refer to it want (the provider's id is a string). */
  dropletId: pulumi.Output<number>;
  reservedIp: digitalocean.ReservedIp;
  /** Its ipAddress resolves only once the reserved IP points at the droplet. */
  assignment: digitalocean.ReservedIpAssignment;
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

export function network(name: string, args: NetworkArgs, opts: pulumi.CustomResourceOptions): Network {
  const { host } = args;
  const sshKeyId =
    args.sshKeyFingerprint === undefined
      ? new digitalocean.SshKey(
          `${name}-ssh-key`,
          { name: `${host.fqdn} deploy`, publicKey: requireValue(args.sshPublicKey, "sshKeyFingerprint or sshPublicKey") },
          opts,
        ).fingerprint
      : pulumi.output(args.sshKeyFingerprint);

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
      tags: ["claude-bus"],
    },
    // Both are ForceNew, and neither is worth a new droplet: changes reach the host through the steps
    // (root's authorized keys through the ssh-keys step). A new fingerprint, or the same key named by id,
    // must not replace the droplet.
    { ...opts, ignoreChanges: ["userData", "sshKeys"] },
  );
  const dropletId = droplet.id.apply((id) => Number(id));

  const reservedIp = new digitalocean.ReservedIp(`${name}-ip`, { region: args.region }, opts);
  const assignment = new digitalocean.ReservedIpAssignment(`${name}-ip-assignment`, { ipAddress: reservedIp.ipAddress, dropletId }, opts);

  new digitalocean.Firewall(
    `${name}-firewall`,
    { name: host.fqdn.replace(/[^a-z0-9.-]/g, "-"), dropletIds: [dropletId], ...firewallRules(args.sshAllowedCidrs) },
    opts,
  );
  return { droplet, dropletId, reservedIp, assignment };
}

function requireValue(value: string | undefined, what: string): string {
  if (value === undefined || value === "") throw new Error(`Bus: ${what} is required`);
  return value;
}
