/**
 * The A/AAAA records of <subdomain>.<domain>, in a zone hosted at DigitalOcean. The zone itself is
 * not managed here: it usually holds other records, and destroying the stack must never delete a
 * whole zone, so it must already exist.
 */
import * as digitalocean from "@pulumi/digitalocean";
import type * as pulumi from "@pulumi/pulumi";
import type { HostConfig } from "../provision/config";

interface DnsArgs {
  host: HostConfig;
  ipv4: pulumi.Input<string>;
  ipv6: pulumi.Input<string>;
}

/** Short enough that moving the bus to a new droplet reaches clients within minutes. */
const TTL_SECONDS = 300;

export function dnsRecords(name: string, { host, ipv4, ipv6 }: DnsArgs, opts: pulumi.CustomResourceOptions): digitalocean.DnsRecord[] {
  const record = (type: "A" | "AAAA", value: pulumi.Input<string>) =>
    new digitalocean.DnsRecord(
      `${name}-dns-${type.toLowerCase()}`,
      { domain: host.domain, name: host.subdomain, type, value, ttl: TTL_SECONDS },
      opts,
    );
  return [record("A", ipv4), record("AAAA", ipv6)];
}
