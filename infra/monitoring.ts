/**
 * Monitoring that tells a person: an uptime check on the service's own unauthenticated liveness route
 * (`GET /live`, answered by the bus through nginx, not by nginx itself) with alerts when the bus is down,
 * slow, or its TLS certificate is about to expire, and droplet alerts on disk and memory. Let's Encrypt
 * no longer mails expiry notices (since June 2025): this does.
 */
import * as digitalocean from "@pulumi/digitalocean";
import type * as pulumi from "@pulumi/pulumi";
import type { HostConfig } from "../provision/config";

interface MonitoringArgs {
  host: HostConfig;
  droplet: digitalocean.Droplet;
  /** Who is told. DigitalOcean sends only to emails of members of the team that owns the droplet. */
  email: string;
  /** The health step and the reserved IP's assignment: the check starts once the name reaches a bus that answers. */
  after: pulumi.Resource[];
}

/** The service's liveness route: no credential, no store data (docs/API.md). */
export const LIVENESS_PATH = "/live";

/** Alert thresholds: down for 2 minutes, slower than 2 s, a certificate with fewer than 14 days left (certbot renews at 30). */
const UPTIME_ALERTS = [
  { kind: "down", type: "down", period: "2m" },
  { kind: "latency", type: "latency", threshold: 2000, comparison: "greater_than", period: "5m" },
  { kind: "tls", type: "ssl_expiry", threshold: 14, comparison: "less_than", period: "5m" },
] as const;

/** Disk and memory use above 85 % for 10 minutes. */
const DROPLET_ALERTS = [
  { kind: "disk", type: "v1/insights/droplet/disk_utilization_percent", what: "disk" },
  { kind: "memory", type: "v1/insights/droplet/memory_utilization_percent", what: "memory" },
] as const;
const DROPLET_ALERT_PERCENT = 85;

export function monitoring(name: string, { host, droplet, email, after }: MonitoringArgs, opts: pulumi.CustomResourceOptions): void {
  const check = new digitalocean.UptimeCheck(
    `${name}-uptime`,
    { name: `claude-bus ${host.fqdn}`, target: `https://${host.fqdn}${LIVENESS_PATH}`, type: "https", enabled: true },
    { ...opts, dependsOn: after },
  );
  for (const alert of UPTIME_ALERTS) {
    const { kind, ...rule } = alert;
    new digitalocean.UptimeAlert(
      `${name}-uptime-${kind}`,
      { name: `claude-bus ${host.fqdn} ${kind}`, checkId: check.id, notifications: [{ emails: [email] }], ...rule },
      opts,
    );
  }
  for (const { kind, type, what } of DROPLET_ALERTS) {
    new digitalocean.MonitorAlert(
      `${name}-alert-${kind}`,
      {
        description: `claude-bus ${host.fqdn}: ${what} above ${DROPLET_ALERT_PERCENT} %`,
        type,
        compare: "GreaterThan",
        value: DROPLET_ALERT_PERCENT,
        window: "10m",
        entities: [droplet.id],
        alerts: { emails: [email] },
        enabled: true,
      },
      opts,
    );
  }
}
