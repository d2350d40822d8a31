/** The typed host config: everything the provision steps render comes from here. */
import { z } from "zod";
import {
  BACKUP_KEEP_RANGE,
  DEFAULT_BACKUP_HOUR_UTC,
  DEFAULT_BACKUP_KEEP,
  DEFAULT_BUS_USER,
  DEFAULT_NGINX_MAX_BODY_KIB,
  DEFAULT_PORT,
  DEFAULT_RATE_LIMIT,
  DEFAULT_SERVICE_MEMORY_MIB,
  DEFAULT_SUBDOMAIN,
} from "../contract/defaults";
import { describeIssues } from "../contract/issues";
import { BusUser } from "../contract/names";
import { hostConfigShape } from "../contract/serviceOptions";

/** One DNS label (1-63 of a-z, 0-9, '-', not starting or ending with '-'); a pattern so infra can build on it. */
export const DNS_LABEL_PATTERN = "[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?";
export const DNS_LABEL = new RegExp(`^${DNS_LABEL_PATTERN}$`);
export const SSH_PUBLIC_KEY =
  /^(?:ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(?:256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com) [A-Za-z0-9+/]+={0,3}(?: [^\r\n]*)?$/;

const domainName = z
  .string()
  .trim()
  .toLowerCase()
  .refine((d) => d.length <= 253 && d.split(".").length >= 2 && d.split(".").every((l) => DNS_LABEL.test(l)), {
    message: "must be a DNS name such as example.com",
  });
const unixName = z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/, "must be a unix name (lowercase letters, digits, _ and -, at most 32 chars)");
const sshPublicKey = z.string().trim().regex(SSH_PUBLIC_KEY, "must be one OpenSSH public key line (type, base64 key, optional comment)");
const pem = z.string().refine((s) => /-----BEGIN CERTIFICATE-----[\s\S]+-----END CERTIFICATE-----/.test(s), {
  message: "must hold at least one PEM certificate",
});

export const LETS_ENCRYPT_PRODUCTION = "https://acme-v02.api.letsencrypt.org/directory";
/** A public DNS-over-HTTPS resolver (JSON API): what the world sees the bus's name resolve to. */
export const PUBLIC_DOH_URL = "https://cloudflare-dns.com/dns-query";

/** A whole number within `range`. */
const inRange = ({ min, max }: { min: number; max: number }) => z.number().int().min(min).max(max);

const ipv4 = z.ipv4({ error: "must be an IPv4 address like 203.0.113.7" });
/** In its canonical text (lowercase, zeros compressed), the form a resolver answers with. */
const ipv6 = z.ipv6({ error: "must be an IPv6 address like 2001:db8::7" }).transform((a) => new URL(`http://[${a}]/`).hostname.slice(1, -1));
/** https, or http to a loopback address only (a test's local stand-in). */
const dohUrl = z
  .url({ protocol: /^https?$/, error: "must be the https:// URL of a DNS-over-HTTPS resolver" })
  .refine((u) => u.startsWith("https://") || /^http:\/\/127\.\d+\.\d+\.\d+[:/]/.test(u), "must be https:// (plain http only to a loopback address)");

export const HostConfigSchema = z
  .object({
    /** The zone, e.g. example.com; the bus lives at <subdomain>.<domain>. */
    domain: domainName,
    subdomain: z.string().regex(DNS_LABEL, `must be one DNS label such as ${DEFAULT_SUBDOMAIN}`).default(DEFAULT_SUBDOMAIN),
    /** HTTP Basic-auth user (the password never lives in this config: it travels on stdin). */
    busUser: BusUser.default(DEFAULT_BUS_USER),
    acmeEmail: z.email(),
    acmeServer: z.url({ protocol: /^https$/, error: "must be the https:// URL of an ACME directory" }).default(LETS_ENCRYPT_PRODUCTION),
    /** PEM of the CA that signs the ACME server's own TLS certificate (Pebble, a private CA); absent for Let's Encrypt. */
    acmeCaBundle: pem.optional(),
    hsts: z.boolean().default(true),
    /** Also listen on IPv6 (droplets have it; a host without IPv6 must turn it off or nginx cannot bind). */
    ipv6: z.boolean().default(true),
    servicePort: z.number().int().min(1024).max(65535).default(DEFAULT_PORT),
    /** The service's MemoryMax in MiB (MemoryHigh is 80% of it): size it to about half the host's memory. */
    serviceMemoryMiB: z.number().int().min(128).max(65536).default(DEFAULT_SERVICE_MEMORY_MIB),
    /** nginx client_max_body_size in KiB: by default just above the service's own request limit, so the service answers 413 itself. */
    maxBodyKiB: z.number().int().min(80).max(10240).default(DEFAULT_NGINX_MAX_BODY_KIB),
    rateLimit: z
      .object({
        perSecond: z.number().int().min(1).max(10000).default(DEFAULT_RATE_LIMIT.perSecond),
        burst: z.number().int().min(0).max(100000).default(DEFAULT_RATE_LIMIT.burst),
      })
      .strict()
      .default({ ...DEFAULT_RATE_LIMIT }),
    sharedDir: z
      .object({
        group: unixName.default("claude-bus-files"),
        /** The SSH login the clients' keys are authorized for; it is in the group. */
        dropUser: unixName.default("claude-drop"),
        /** Files older than this are removed by systemd-tmpfiles-clean; absent: fileMaxAgeDays, as for attached files. */
        maxAgeDays: z.number().int().min(1).max(3650).optional(),
      })
      .strict()
      .default({ group: "claude-bus-files", dropUser: "claude-drop" }),
    clientSshKeys: z.array(sshPublicKey).default([]),
    /**
     * root's authorized keys (the deploy keys Pulumi or `claude-bus provision` logs in with), written by the
     * ssh-keys step. Empty leaves root's authorized_keys as the image made it.
     */
    rootSshKeys: z.array(sshPublicKey).default([]),
    /** The block device of the data volume; the data and drop dirs live on it. Absent: they stay on the root disk. */
    volume: z
      .object({ device: z.string().regex(/^\/dev\/[A-Za-z0-9._/:-]+$/, "must be a block device path under /dev") })
      .strict()
      .optional(),
    /** The address the bus's name must resolve to before certbot runs (the host's public IPv4); absent: no check. */
    publicIpv4: ipv4.optional(),
    /**
     * The host's public IPv6, the one address an AAAA record for the bus's name may hold (Let's Encrypt
     * validates over IPv6 when there is one); absent: the name must have no AAAA record. Checked with publicIpv4.
     */
    publicIpv6: ipv6.optional(),
    /** The DNS-over-HTTPS resolver (JSON API) that check asks. */
    dohUrl: dohUrl.default(PUBLIC_DOH_URL),
    /** The service's options a deployment sets (retainDays ... maxLongPolls): contract/serviceOptions.ts, 0 meaning none. */
    ...hostConfigShape(),
    /**
     * A daily backup to the off-host bucket (its endpoint and key pair travel on stdin, never in this
     * config), keeping the newest `keep`; absent: no scheduled backup.
     */
    backups: z
      .object({
        keep: inRange(BACKUP_KEEP_RANGE).default(DEFAULT_BACKUP_KEEP),
        hourUtc: z.number().int().min(0).max(23).default(DEFAULT_BACKUP_HOUR_UTC),
      })
      .strict()
      .optional(),
    /** When unattended-upgrades may reboot for a security update that needs it (HH:MM, host time), or "never". */
    autoReboot: z
      .string()
      .regex(/^(?:never|(?:[01]\d|2[0-3]):[0-5]\d)$/, 'must be a time like 04:00 or "never"')
      .default("04:00"),
  })
  .strict()
  .transform((c) => ({ ...c, fqdn: `${c.subdomain}.${c.domain}` }));

export type HostConfig = z.infer<typeof HostConfigSchema>;
export type HostConfigInput = z.input<typeof HostConfigSchema>;

/** Validates a host config; the error message names every bad key by its path, as `a.b[2]`. */
export function parseHostConfig(input: unknown): HostConfig {
  const result = HostConfigSchema.safeParse(input);
  if (result.success) return result.data;
  throw new Error(`invalid host config: ${describeIssues(result.error, { root: "(config)", unknown: "key" }).join("; ")}`);
}
