/**
 * The Pulumi stack config of claude-bus, validated with zod.
 *
 * Pulumi hands every config value to the program as a string (lists as JSON text), so the schema
 * parses those strings. Any error names the key that is wrong and never echoes a secret value.
 */
import { isIP } from "node:net";
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { busPasswordSchema, DNS_LABEL, DNS_LABEL_PATTERN, type HostConfig, parseHostConfig, SSH_PUBLIC_KEY } from "../provision/config";

/** Config namespace = project name in Pulumi.yaml. */
export const CONFIG_NAMESPACE = "claude-bus";

/** Every key the program reads (all declared in Pulumi.yaml). */
export const STACK_CONFIG_KEYS = [
  "region",
  "size",
  "image",
  "domain",
  "subdomain",
  "manageDns",
  "acmeEmail",
  "acmeServer",
  "sshKeyFingerprint",
  "sshPublicKey",
  "sshPrivateKey",
  "sshAllowedCidrs",
  "clientSshKeys",
  "busUser",
  "busPassword",
  "rotation",
  "rateLimit",
] as const;
export type StackConfigKey = (typeof STACK_CONFIG_KEYS)[number];
export type RawStackConfig = Partial<Record<StackConfigKey, string>>;

const HOST_NAME = new RegExp(`^(?:${DNS_LABEL_PATTERN}\\.)+[a-z][a-z0-9-]*[a-z0-9]$`);

/** A required string; `what` says what to put there when it is missing. */
function required(what: string, { trim = true } = {}) {
  const text = z.string({ error: (issue) => (issue.input === undefined ? `is required: ${what}` : "must be a string") });
  return (trim ? text.trim() : text).min(1, `is required: ${what}`);
}

/** An optional string where "" (the Pulumi.yaml default) means unset. */
function optional<T extends z.ZodType>(inner: T) {
  return z.preprocess((v) => (v === "" || v === undefined ? undefined : v), inner.optional());
}

/** A list set as JSON text (`pulumi config set --path 'key[0]' value` stores it that way). */
function jsonList<T extends z.ZodType>(item: T, fallback: z.infer<T>[]) {
  return z.preprocess(
    (v) => {
      if (v === undefined || v === "") return fallback;
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

const booleanText = z.preprocess(
  (v) => (v === undefined || v === "" ? false : v === "true" ? true : v === "false" ? false : v),
  z.boolean({ error: 'must be "true" or "false"' }),
);

/** Secrets are parsed as plain text once, then only ever travel as Pulumi secrets. */
const secretText = (schema: z.ZodString) => schema.transform((v) => pulumi.secret(v));

export const StackConfigSchema = z
  .object({
    region: z.string().default("nyc3").pipe(z.string().regex(/^[a-z]{3}\d$/, "must be a DigitalOcean region slug like nyc3 or fra1")),
    size: z
      .string()
      .default("s-1vcpu-1gb")
      .pipe(
        z.string().regex(/^[a-z][a-z0-9]*(?:-[a-z0-9]+)+$/, "must be a DigitalOcean size slug like s-1vcpu-1gb (see `doctl compute size list`)"),
      ),
    image: z.string().default("debian-12-x64").pipe(z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, "must be an image slug like debian-12-x64")),
    domain: required("pulumi config set domain example.com").pipe(
      z.string().toLowerCase().regex(HOST_NAME, "must be a DNS domain like example.com"),
    ),
    subdomain: z
      .string()
      .default("claude-bus")
      .pipe(z.string().toLowerCase().regex(DNS_LABEL, "must be one DNS label like claude-bus")),
    manageDns: booleanText,
    acmeEmail: required("pulumi config set acmeEmail you@example.com").pipe(z.email("must be an email address")),
    acmeServer: optional(z.url({ protocol: /^https$/, error: "must be an https:// ACME directory URL" })),
    sshKeyFingerprint: optional(
      z.string().regex(/^(?:(?:[0-9a-f]{2}:){15}[0-9a-f]{2}|\d+)$/, "must be an MD5 fingerprint aa:bb:...:ff (or a numeric key id) as shown by DigitalOcean"),
    ),
    sshPublicKey: optional(z.string().trim().regex(SSH_PUBLIC_KEY, "must be one OpenSSH public key line (ssh-ed25519 AAAA... comment)")),
    sshPrivateKey: secretText(
      required("cat ~/.ssh/id_ed25519 | pulumi config set --secret sshPrivateKey", { trim: false }).refine(
        (v) => /^-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(v) && /-----END [A-Z ]*PRIVATE KEY-----\s*$/.test(v),
        "must be a PEM/OpenSSH private key (-----BEGIN ... PRIVATE KEY-----)",
      ),
    ),
    sshAllowedCidrs: jsonList(z.string().refine(isCidr, "must be a CIDR like 203.0.113.7/32 or 2001:db8::/32"), ["0.0.0.0/0", "::/0"]).pipe(
      z.array(z.string()).min(1, "must list at least one CIDR (0.0.0.0/0 and ::/0 allow everyone)"),
    ),
    clientSshKeys: jsonList(z.string().trim().regex(SSH_PUBLIC_KEY, "must be an OpenSSH public key line"), []),
    busUser: z.string().default("claude"), // checked by parseHostConfig
    // provision's rule: characters that are safe in a shell-sourced, dotenv-parsed env file.
    busPassword: optional(secretText(busPasswordSchema)),
    rotation: z.string().default("initial").pipe(z.string().min(1, "must not be empty")),
    rateLimit: optional(
      z.coerce.number().int("must be a whole number of requests per second").min(1, "must be at least 1").max(10000, "must be at most 10000"),
    ),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    const keys = [cfg.sshKeyFingerprint, cfg.sshPublicKey].filter((v) => v !== undefined);
    if (keys.length !== 1) {
      ctx.addIssue({
        code: "custom",
        path: ["sshKeyFingerprint"],
        message: "set exactly one of sshKeyFingerprint (a key already in DigitalOcean) or sshPublicKey (a key to register)",
      });
    }
  });

export type StackConfig = z.infer<typeof StackConfigSchema>;

/** Validates raw stack config; the Error lists every bad key as `key: what is wrong`. */
export function parseStackConfig(raw: RawStackConfig): StackConfig {
  const result = StackConfigSchema.safeParse(raw);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => {
    const key = issue.path.map((p) => (typeof p === "number" ? `[${p}]` : String(p))).join("");
    return `  ${key || "config"}: ${issue.message}`;
  });
  throw new Error(`Invalid claude-bus stack config:\n${lines.join("\n")}`);
}

const SECRET_KEYS: StackConfigKey[] = ["sshPrivateKey", "busPassword"];

/**
 * Whether the stack stores this key encrypted. The language host passes the list of secret keys to
 * the program; the SDK's reader for it is internal, hence the typed require.
 */
function isStoredSecret(key: StackConfigKey): boolean {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const runtimeConfig = require("@pulumi/pulumi/runtime/config") as { isConfigSecret(fullKey: string): boolean };
  return runtimeConfig.isConfigSecret(`${CONFIG_NAMESPACE}:${key}`);
}

/** Reads every key from the running stack's config; a secret set in plain text is refused. */
export function readStackConfig(config = new pulumi.Config(CONFIG_NAMESPACE)): StackConfig {
  const raw: RawStackConfig = {};
  for (const key of STACK_CONFIG_KEYS) {
    const value = config.get(key);
    if (value === undefined) continue;
    if (value !== "" && SECRET_KEYS.includes(key) && !isStoredSecret(key)) {
      throw new Error(
        `Invalid claude-bus stack config:\n  ${key}: is stored in plain text in the stack file; ` +
          `remove it (pulumi config rm ${key}) and set it with: pulumi config set --secret ${key}`,
      );
    }
    raw[key] = value;
  }
  return parseStackConfig(raw);
}

/** The host config the provision steps render from; unset options keep provision's defaults. */
export function hostConfigOf(cfg: StackConfig): HostConfig {
  try {
    return parseHostConfig({
      domain: cfg.domain,
      subdomain: cfg.subdomain,
      busUser: cfg.busUser,
      acmeEmail: cfg.acmeEmail,
      ...(cfg.acmeServer !== undefined && { acmeServer: cfg.acmeServer }),
      ...(cfg.rateLimit !== undefined && { rateLimit: { perSecond: cfg.rateLimit } }),
      clientSshKeys: cfg.clientSshKeys,
    });
  } catch (err) {
    throw new Error(`Invalid claude-bus stack config: ${(err as Error).message}`);
  }
}
