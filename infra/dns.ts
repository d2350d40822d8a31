/**
 * The A record of <subdomain>.<domain>, pointing at the reserved IPv4, in a zone hosted at DigitalOcean.
 * No AAAA record: the droplet's IPv6 address is its own and changes when the droplet is replaced. The zone itself is
 * not managed here: it usually holds other records, and destroying the stack must never delete a
 * whole zone, so it must already exist.
 */
import * as digitalocean from "@pulumi/digitalocean";
import type * as pulumi from "@pulumi/pulumi";
import type { HostConfig } from "../provision/config";

interface DnsArgs {
  host: HostConfig;
  ipv4: pulumi.Input<string>;
}

/** Short enough that moving the bus to a new droplet reaches clients within minutes. */
const TTL_SECONDS = 300;

export function dnsRecords(name: string, { host, ipv4 }: DnsArgs, opts: pulumi.CustomResourceOptions): digitalocean.DnsRecord[] {
  return [new digitalocean.DnsRecord(`${name}-dns-a`, { domain: host.domain, name: host.subdomain, type: "A", value: ipv4, ttl: TTL_SECONDS }, opts)];
}
