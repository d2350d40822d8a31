/**
 * The Pulumi stack config of claude-bus: one table says, for every key, its Pulumi.yaml type,
 * default and description, whether it must be stored secret, and the zod rule that checks it. The
 * key list, the defaults and the validation all come from that table; Pulumi.yaml declares the
 * same (test/infra/config.test.ts holds them equal).
 *
 * Pulumi hands every config value to the program as a string (lists as JSON text), so the rules
 * parse those strings. Any error names the key that is wrong and never echoes a secret value.
 */
import { isIP } from "node:net";
import * as pulumi from "@pulumi/pulumi";
import { isConfigSecret } from "@pulumi/pulumi/runtime/config";
import { z } from "zod";
import {
  BACKUP_KEEP_RANGE,
  DEFAULT_BACKUP_HOUR_UTC,
  DEFAULT_BACKUP_KEEP,
  DEFAULT_BUS_USER,
  DEFAULT_RATE_LIMIT,
  DEFAULT_SUBDOMAIN,
  GENERATED_PASSWORD_LENGTH,
} from "../contract/defaults";
import { describeIssues } from "../contract/issues";
import { DEPLOYED_OPTION_NAMES, type DeployedOptionName, serviceOption, type ServiceOptionValues, valueRule } from "../contract/serviceOptions";
import { BusUser } from "../contract/names";
import { HOST_PASSWORD_CHARS, HOST_PASSWORD_MAX, HOST_PASSWORD_MIN, HostPassword } from "../contract/password";
import { DNS_LABEL, DNS_LABEL_PATTERN, type HostConfig, parseHostConfig, SSH_PUBLIC_KEY } from "../provision/config";
import { EVERYWHERE } from "./network";

// The language host passes the list of secret keys to the program; the SDK reads it with this
// function, which it exports but leaves out of its type declarations (it is marked internal).
declare module "@pulumi/pulumi/runtime/config" {
  function isConfigSecret(fullKey: string): boolean;
}

/** Config namespace = project name in Pulumi.yaml. */
const CONFIG_NAMESPACE = "claude-bus";

const HOST_NAME = new RegExp(`^(?:${DNS_LABEL_PATTERN}\\.)+[a-z][a-z0-9-]*[a-z0-9]$`);

/** A required string; `what` says what to put there when it is missing. */
function required(what: string, { trim = true } = {}) {
  const text = z.string({ error: (issue) => (issue.input === undefined ? `is required: ${what}` : "must be a string") });
  return (trim ? text.trim() : text).min(1, `is required: ${what}`);
}

/** An optional string where "" (the Pulumi.yaml default) means unset. */
function optional<T extends z.ZodType>(inner: T) {
  return z.preprocess((v) => (v === "" ? undefined : v), inner.optional());
}

/** A list set as JSON text (`pulumi config set --path 'key[0]' value` stores it that way). */
function jsonList<T extends z.ZodType>(item: T) {
  return z.preprocess(
    (v) => {
      if (typeof v !== "string") return v;
      try {
        return JSON.parse(v);
      } catch {
        return v; // not JSON: the array check below reports it
      }
    },
    z.array(item, { error: "must be a list (set items with --path 'key[0]' value)" }),
  );
}

function isCidr(value: string): boolean {
  const [address, prefix, ...rest] = value.split("/");
  if (rest.length > 0 || prefix === undefined || !/^\d{1,3}$/.test(prefix)) return false;
  const family = isIP(address);
  return family !== 0 && Number(prefix) <= (family === 4 ? 32 : 128);
}

const booleanText = z.preprocess((v) => (v === "true" ? true : v === "false" ? false : v), z.boolean({ error: 'must be "true" or "false"' }));

/** Secrets are parsed as plain text once, then only ever travel as Pulumi secrets. */
const secretText = (schema: z.ZodString) => schema.transform((v) => pulumi.secret(v));

interface ConfigKey {
  /** The key's type in Pulumi.yaml; an array is a list of strings. */
  type: "string" | "boolean" | "integer" | "array";
  /** Pulumi.yaml's default, applied when the key is unset; none means the key is required. */
  default?: string | boolean | number | readonly string[];
  /** Pulumi.yaml's description. */
  description: string;
  /** Must be set with `pulumi config set --secret`; a value stored in plain text is refused. */
  secret?: boolean;
  /** Checks the text Pulumi passes for the key. */
  rule: z.ZodType;
}

const STACK_TYPE = { count: "integer", choice: "string", switch: "boolean", text: "string" } as const;

/** The stack config keys of the service's options (contract/serviceOptions.ts), each read from the text Pulumi passes. */
function serviceOptionKeys(): { [K in DeployedOptionName]: ConfigKey & { rule: z.ZodType<ServiceOptionValues[K]> } } {
  return Object.fromEntries(
    DEPLOYED_OPTION_NAMES.map((name) => {
      const option = serviceOption(name);
      const rule = option.kind === "switch" ? booleanText : valueRule(name, z.coerce.number());
      return [name, { type: STACK_TYPE[option.kind], default: option.default, description: option.config!.description, rule }];
    }),
  ) as never;
}

const HOST_PASSWORD_PUNCTUATION = HOST_PASSWORD_CHARS.replace("A-Za-z0-9", "");

/** Every key the program reads, in Pulumi.yaml's order. */
export const STACK_CONFIG = {
  region: {
    type: "string",
    default: "nyc3",
    description: "DigitalOcean region slug (nyc3, fra1, ams3, sfo3, lon1, sgp1, ...).",
    rule: z.string().regex(/^[a-z]{3}\d$/, "must be a DigitalOcean region slug like nyc3 or fra1"),
  },
  size: {
    type: "string",
    default: "s-1vcpu-1gb",
    description:
      "Droplet size slug. s-1vcpu-1gb (1 GB, about 6 USD/month) leaves room for apt, certbot and the bus's in-memory index; " +
      "s-1vcpu-512mb-10gb (about 4 USD/month) also works but is not sold in every region.",
    rule: z.string().regex(/^[a-z][a-z0-9]*(?:-[a-z0-9]+)+$/, "must be a DigitalOcean size slug like s-1vcpu-1gb (see `doctl compute size list`)"),
  },
  image: {
    type: "string",
    default: "debian-13-x64",
    description:
      "Droplet image slug. debian-13-x64 is the host the provisioning tests prove; debian-12-x64 runs the same steps. " +
      "A new image replaces the droplet (the data volume and its messages stay).",
    rule: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, "must be an image slug like debian-13-x64"),
  },
  volumeSizeGib: {
    type: "integer",
    default: 5,
    description: "Size of the data volume (messages, attached files and the drop dir) in GiB, about 0.10 USD per GiB a month. It can grow, never shrink.",
    rule: z.coerce.number().int("must be a whole number of GiB").min(1, "must be at least 1").max(16384, "must be at most 16384"),
  },
  allowDataDestroy: {
    type: "boolean",
    default: false,
    description:
      "false protects the data volume: pulumi destroy (and any change that would replace the volume) stops instead of deleting every message. " +
      "Set it true, run pulumi up, then pulumi destroy to really delete everything.",
    rule: booleanText,
  },
  domain: {
    type: "string",
    description: "Your DNS domain, e.g. example.com (required).",
    rule: required("pulumi config set domain example.com").pipe(z.string().toLowerCase().regex(HOST_NAME, "must be a DNS domain like example.com")),
  },
  subdomain: {
    type: "string",
    default: DEFAULT_SUBDOMAIN,
    description: "Host label under the domain; the bus answers at https://<subdomain>.<domain>.",
    rule: z.string().toLowerCase().regex(DNS_LABEL, "must be one DNS label like claude-bus"),
  },
  manageDns: {
    type: "boolean",
    default: false,
    description:
      "true when the domain's zone is hosted at DigitalOcean (it must already exist there): the program then creates the A record. " +
      "false: you point <subdomain>.<domain> at the ipv4 output yourself (no AAAA record: the bus has no stable IPv6 address).",
    rule: booleanText,
  },
  acmeEmail: {
    type: "string",
    description: "Email of the Let's Encrypt account, and where alerts go unless alertEmail is set (required).",
    rule: required("pulumi config set acmeEmail you@example.com").pipe(z.email("must be an email address")),
  },
  acmeServer: {
    type: "string",
    default: "",
    description: "ACME directory URL; empty means Let's Encrypt production (use the staging URL to try things out).",
    rule: optional(z.url({ protocol: /^https$/, error: "must be an https:// ACME directory URL" })),
  },
  alertEmail: {
    type: "string",
    default: "",
    description:
      "Where uptime (down, slow, certificate expiring) and disk/memory alerts go; empty means acmeEmail. " +
      "DigitalOcean sends alerts only to emails of members of your team.",
    rule: optional(z.email("must be an email address")),
  },
  sshKeyFingerprint: {
    type: "string",
    default: "",
    description:
      "Fingerprint (or id) of an SSH key already in your DigitalOcean account, for a new droplet's first login " +
      "(set this or sshPublicKey; with both set, sshPublicKey is only authorized on the host, not registered).",
    rule: optional(
      z.string().regex(/^(?:(?:[0-9a-f]{2}:){15}[0-9a-f]{2}|\d+)$/, "must be an MD5 fingerprint aa:bb:...:ff (or a numeric key id) as shown by DigitalOcean"),
    ),
  },
  sshPublicKey: {
    type: "string",
    default: "",
    description:
      "OpenSSH public key of the deploy key (sshPrivateKey's pair): registered with DigitalOcean for a new droplet's first login, " +
      "and root's authorized key on the host (set this or sshKeyFingerprint).",
    rule: optional(z.string().trim().regex(SSH_PUBLIC_KEY, "must be one OpenSSH public key line (ssh-ed25519 AAAA... comment)")),
  },
  sshNewPublicKey: {
    type: "string",
    default: "",
    description:
      "During a deploy-key rotation only: the new key's public half, authorized for root beside sshPublicKey, " +
      "so the next pulumi up can log in with the new private key (see infra/README.md).",
    rule: optional(z.string().trim().regex(SSH_PUBLIC_KEY, "must be one OpenSSH public key line (ssh-ed25519 AAAA... comment)")),
  },
  sshPrivateKey: {
    type: "string",
    secret: true,
    description: "The private key matching the droplet's SSH key; Pulumi logs in with it to provision (required, secret).",
    rule: secretText(
      required("cat ~/.ssh/id_ed25519 | pulumi config set --secret sshPrivateKey", { trim: false }).refine(
        (v) => /^-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(v) && /-----END [A-Z ]*PRIVATE KEY-----\s*$/.test(v),
        "must be a PEM/OpenSSH private key (-----BEGIN ... PRIVATE KEY-----)",
      ),
    ),
  },
  sshAllowedCidrs: {
    type: "array",
    default: EVERYWHERE,
    description: "Source CIDRs allowed to reach SSH (port 22). Defaults to everywhere; narrow it if you can.",
    rule: jsonList(z.string().refine(isCidr, "must be a CIDR like 203.0.113.7/32 or 2001:db8::/32")).pipe(
      z.array(z.string()).min(1, "must list at least one CIDR (0.0.0.0/0 and ::/0 allow everyone)"),
    ),
  },
  clientSshKeys: {
    type: "array",
    default: [],
    description: "OpenSSH public keys of client machines allowed to use the shared drop dir /opt/claude-bus-files.",
    rule: jsonList(z.string().trim().regex(SSH_PUBLIC_KEY, "must be an OpenSSH public key line")),
  },
  busUser: {
    type: "string",
    default: DEFAULT_BUS_USER,
    description: "HTTP basic-auth user of the bus.",
    rule: BusUser,
  },
  busPassword: {
    type: "string",
    // Optional, so it has a default; Pulumi.yaml cannot mark such a key secret, the program still does.
    default: "",
    secret: true,
    description:
      `Bus password (${HOST_PASSWORD_MIN}-${HOST_PASSWORD_MAX} characters: letters, digits and ${HOST_PASSWORD_PUNCTUATION}), ` +
      `set with --secret. Leave it unset to have a ${GENERATED_PASSWORD_LENGTH}-character alphanumeric one generated ` +
      "(and rotated whenever `rotation` changes).",
    rule: optional(secretText(HostPassword)),
  },
  rotation: {
    type: "string",
    default: "initial",
    description: "Rotation marker. Change it (e.g. to today's date) to generate a new bus password on the next `pulumi up`.",
    rule: z.string().min(1, "must not be empty"),
  },
  // The service's options (retainDays ... maxLongPolls) come from their one table.
  ...serviceOptionKeys(),
  rateLimit: {
    type: "integer",
    default: DEFAULT_RATE_LIMIT.perSecond,
    description: `Requests per second nginx allows each client IP (burst ${DEFAULT_RATE_LIMIT.burst}) before answering 429.`,
    rule: z.coerce.number().int("must be a whole number of requests per second").min(1, "must be at least 1").max(10000, "must be at most 10000"),
  },
  backups: {
    type: "boolean",
    default: false,
    description:
      "true: a daily backup of the bus to a private Spaces bucket the program creates, with a Spaces key for that bucket alone " +
      "(about 5 USD/month for Spaces; pulumi up then needs SPACES_ACCESS_KEY_ID and SPACES_SECRET_ACCESS_KEY, see infra/README.md).",
    rule: booleanText,
  },
  backupRegion: {
    type: "string",
    default: "",
    description:
      "Spaces region of the backup bucket (nyc3, sfo3, ams3, fra1, sgp1, syd1, ...); empty means the droplet's region. Another region survives a regional outage.",
    rule: optional(z.string().regex(/^[a-z]{3}\d$/, "must be a DigitalOcean region slug with Spaces, like fra1 or nyc3")),
  },
  backupKeep: {
    type: "integer",
    default: DEFAULT_BACKUP_KEEP,
    description: "How many daily backups the bucket keeps; each upload deletes the older ones.",
    rule: z.coerce
      .number()
      .int("must be a whole number of backups")
      .min(BACKUP_KEEP_RANGE.min, `must be at least ${BACKUP_KEEP_RANGE.min}`)
      .max(BACKUP_KEEP_RANGE.max, `must be at most ${BACKUP_KEEP_RANGE.max}`),
  },
  backupHourUtc: {
    type: "integer",
    default: DEFAULT_BACKUP_HOUR_UTC,
    description: "The hour (0-23, UTC) the daily backup starts, spread over the half hour after it.",
    rule: z.coerce.number().int("must be a whole hour").min(0, "must be 0 to 23").max(23, "must be 0 to 23"),
  },
} satisfies Record<string, ConfigKey>;

type StackConfigKey = keyof typeof STACK_CONFIG;
export type RawStackConfig = Partial<Record<StackConfigKey, string>>;
export const STACK_CONFIG_KEYS = Object.keys(STACK_CONFIG) as StackConfigKey[];
const KEYS: Record<StackConfigKey, ConfigKey> = STACK_CONFIG;
/** The keys that must be stored encrypted (as `pulumi config set --secret` marks them). */
export const SECRET_CONFIG_KEYS = STACK_CONFIG_KEYS.filter((key) => KEYS[key].secret);

/** A default as the Pulumi CLI passes it: strings as they are, everything else as JSON. */
const configText = (value: NonNullable<ConfigKey["default"]>): string => (typeof value === "string" ? value : JSON.stringify(value));

/** Each key's rule, given the key's default when it is unset. */
type Shape = { [K in StackConfigKey]: z.ZodPreprocess<(typeof STACK_CONFIG)[K]["rule"]> };
const shape = Object.fromEntries(
  STACK_CONFIG_KEYS.map((key) => {
    const { default: fallback, rule } = KEYS[key];
    return [key, z.preprocess((v) => (v === undefined && fallback !== undefined ? configText(fallback) : v), rule)];
  }),
) as Shape;

const StackConfigSchema = z.strictObject(shape).superRefine((cfg, ctx) => {
  if (cfg.sshKeyFingerprint === undefined && cfg.sshPublicKey === undefined) {
    ctx.addIssue({
      code: "custom",
      path: ["sshKeyFingerprint"],
      message: "set sshKeyFingerprint (a key already in DigitalOcean) or sshPublicKey (a key to register)",
    });
  }
  if (cfg.sshNewPublicKey !== undefined && cfg.sshPublicKey === undefined) {
    // Only root's whole key list can be written: without the current key it would lock Pulumi out.
    ctx.addIssue({
      code: "custom",
      path: ["sshNewPublicKey"],
      message: "needs sshPublicKey set to the current deploy key's public half (with sshKeyFingerprint it is not registered again)",
    });
  }
});

export type StackConfig = z.infer<typeof StackConfigSchema>;

const invalid = (lines: string[]) => new Error(`Invalid claude-bus stack config:\n${lines.map((line) => `  ${line}`).join("\n")}`);

/** Validates raw stack config; the Error lists every bad key as `key: what is wrong`. */
export function parseStackConfig(raw: RawStackConfig): StackConfig {
  const result = StackConfigSchema.safeParse(raw);
  if (result.success) return result.data;
  throw invalid(describeIssues(result.error, { root: "config", unknown: "key" }));
}

/** Reads every key from the running stack's config; a secret key set in plain text is refused. */
export function readStackConfig(config = new pulumi.Config(CONFIG_NAMESPACE)): StackConfig {
  const raw: RawStackConfig = {};
  for (const key of STACK_CONFIG_KEYS) {
    const value = config.get(key);
    if (value === undefined) continue;
    if (value !== "" && SECRET_CONFIG_KEYS.includes(key) && !isConfigSecret(`${CONFIG_NAMESPACE}:${key}`)) {
      throw invalid([
        `${key}: is stored in plain text in the stack file; ` + `remove it (pulumi config rm ${key}) and set it with: pulumi config set --secret ${key}`,
      ]);
    }
    raw[key] = value;
  }
  return parseStackConfig(raw);
}

/** The host config the provision steps render from; `volumeDevice` is where the data volume appears. */
/**
 * The service's memory ceiling for this droplet size: half the memory its slug names (s-1vcpu-1gb: 512
 * MiB, s-1vcpu-512mb-10gb: 256 MiB), so nginx and sshd keep the rest; the host's default otherwise.
 */
export function serviceMemoryOf(size: string): { serviceMemoryMiB?: number } {
  const match = /-(\d+)(mb|gb)\b/.exec(size);
  if (!match) return {};
  const mib = Number(match[1]) * (match[2] === "gb" ? 1024 : 1);
  return { serviceMemoryMiB: Math.max(128, Math.floor(mib / 2)) };
}

export function hostConfigOf(cfg: StackConfig, volumeDevice: string): HostConfig {
  try {
    return parseHostConfig({
      domain: cfg.domain,
      subdomain: cfg.subdomain,
      busUser: cfg.busUser,
      acmeEmail: cfg.acmeEmail,
      ...(cfg.acmeServer !== undefined && { acmeServer: cfg.acmeServer }),
      rateLimit: { perSecond: cfg.rateLimit, burst: DEFAULT_RATE_LIMIT.burst },
      ...serviceMemoryOf(cfg.size),
      clientSshKeys: cfg.clientSshKeys,
      rootSshKeys: [cfg.sshPublicKey, cfg.sshNewPublicKey].filter((key) => key !== undefined),
      volume: { device: volumeDevice },
      ...Object.fromEntries(DEPLOYED_OPTION_NAMES.map((name) => [name, cfg[name]])),
      ...(cfg.backups && { backups: { keep: cfg.backupKeep, hourUtc: cfg.backupHourUtc } }),
    });
  } catch (err) {
    throw new Error(`Invalid claude-bus stack config: ${(err as Error).message}`);
  }
}
