/**
 * The service's options, in one table: for each, `claude-bus serve`'s flag and help line, its type,
 * range, default and unit, and (for the knobs a deployment sets) the description of the stack config
 * and host config key of the same name. Every layer reads it: the stack config (infra/config.ts), the
 * host config (provision/config.ts), the systemd unit's serve arguments (provision/render/systemd.ts),
 * serve's usage lines (cli/usage.ts) and serve's parsing (cli/commands/serve.ts);
 * test/contract/serviceOptions.test.ts proves they agree.
 *
 * "None" has one encoding: 0, which is then the default (`zero` says what it means: keep every
 * message, or a share of something larger). Absent, a key or a flag means its default.
 */
import { z } from "zod";
import {
  DEFAULT_DATA_DIR,
  DEFAULT_FILE_MAX_AGE_DAYS,
  DEFAULT_FILE_QUOTA_SHARE,
  DEFAULT_HOST,
  DEFAULT_MAX_FILE_MIB,
  DEFAULT_MAX_LONG_POLLS,
  DEFAULT_PORT,
  DEFAULT_UPLOADER_MAX_FILES,
  DEFAULT_UPLOADER_MAX_PARTIALS,
  DEFAULT_UPLOADER_QUOTA_SHARE,
  MAX_STORED_FILES,
} from "./defaults";

/** What the team credential may do: everything, as the seed's single user did (the default), or only administer. */
export const TEAM_CREDENTIAL_ROLES = ["member", "admin-only"] as const;
export type TeamCredentialRole = (typeof TEAM_CREDENTIAL_ROLES)[number];

/** A knob a deployment sets: the stack config key and the host config key, both named as the option. */
interface Deployed {
  /** Pulumi.yaml's description of the stack config key (infra/README.md's key table says the same, shorter). */
  description: string;
}

interface Common {
  /** serve's flag, without the dashes. */
  flag: string;
  /** serve's help line for the flag. */
  help: string;
  /** Set by the stack config and the host config; absent: a serve flag only (the host's unit sets it itself). */
  config?: Deployed;
  /** Acts only while that option is not 0: serve refuses the flag without it, the unit leaves it out. */
  needs?: string;
}

/** A whole number (of `unit`) from min to max. */
interface Count extends Common {
  kind: "count";
  unit?: string;
  min: number;
  max: number;
  default: number;
  /** What 0 means, when 0 is "none" (min is then 0, and so is the default). */
  zero?: string;
}

/** One of `values`. */
interface Choice extends Common {
  kind: "choice";
  values: readonly string[];
  default: string;
}

/** On or off; serve's flag takes `flagValues` (on, off), or is a bare flag that turns it on. */
interface Switch extends Common {
  kind: "switch";
  default: boolean;
  flagValues?: readonly [on: string, off: string];
}

/** Text that may not be empty; `value` is its placeholder in serve's help. */
interface Text extends Common {
  kind: "text";
  value: string;
  default: string;
}

export type ServiceOption = Count | Choice | Switch | Text;

/** The most MiB of files a bus, or one credential, may be given (16 TiB). */
const MAX_QUOTA_MIB = 16_777_216;
const wholeNumber = (option: Count) => `a whole number${option.unit ? ` of ${option.unit}` : ""}`;
const percent = (share: number) => `${share * 100}%`;

/** Every option, in serve's usage order (which is also the stack config's and the unit's). */
export const SERVICE_OPTIONS = {
  host: { kind: "text", flag: "host", value: "ADDRESS", default: DEFAULT_HOST, help: `interface to listen on (default ${DEFAULT_HOST})` },
  port: { kind: "count", flag: "port", min: 0, max: 65_535, default: DEFAULT_PORT, help: `TCP port, 0 for any free one (default ${DEFAULT_PORT})` },
  data: { kind: "text", flag: "data", value: "DIR", default: DEFAULT_DATA_DIR, help: `data directory (default ${DEFAULT_DATA_DIR}); one bus per directory` },
  retainDays: {
    kind: "count",
    flag: "retain-days",
    unit: "days",
    min: 0,
    max: 36_500,
    default: 0,
    zero: "keep everything",
    help: "remove messages older than N days (default 0: keep everything)",
    config: { description: "Remove messages (and their acks) older than this many days, archived on the data volume; 0 keeps everything." },
  },
  archiveRemoved: {
    kind: "switch",
    flag: "archive",
    flagValues: ["gzip", "none"],
    default: true,
    needs: "retainDays",
    help: "what happens to removed lines: a gzip archive per month in DIR/archive (default), or nothing",
    config: { description: "Keep what retention removes in a gzip archive per month on the data volume (archive/YYYY-MM/); false drops it." },
  },
  teamCredential: {
    kind: "choice",
    flag: "team-credential",
    values: TEAM_CREDENTIAL_ROLES,
    default: "member",
    help: "what the team credential may do: everything (default), or only invite, revoke, list and back up",
    config: {
      description:
        'What the team credential (busUser) may do: "member" (everything, as in the seed) or "admin-only" ' +
        "(invite, revoke, list and back up; machines post with their own credentials).",
    },
  },
  maxFileMiB: {
    kind: "count",
    flag: "max-file-mib",
    unit: "MiB",
    min: 1,
    max: 10_240,
    default: DEFAULT_MAX_FILE_MIB,
    help: `the largest file an upload may hold, in MiB (default ${DEFAULT_MAX_FILE_MIB})`,
    config: { description: "The largest file a message may carry, in MiB (nginx's body limit for uploads follows it)." },
  },
  fileQuotaMiB: {
    kind: "count",
    flag: "file-quota-mib",
    unit: "MiB",
    min: 0,
    max: MAX_QUOTA_MIB,
    default: 0,
    zero: `${percent(DEFAULT_FILE_QUOTA_SHARE)} of the data volume`,
    help: `MiB of stored files and partial uploads in all (default 0: ${percent(DEFAULT_FILE_QUOTA_SHARE)} of the size of DIR's filesystem)`,
    config: {
      description: `MiB of attached files (and partial uploads) the bus keeps in all; 0 means ${percent(DEFAULT_FILE_QUOTA_SHARE)} of the data volume.`,
    },
  },
  fileMaxAgeDays: {
    kind: "count",
    flag: "file-max-age-days",
    unit: "days",
    min: 1,
    max: 3_650,
    default: DEFAULT_FILE_MAX_AGE_DAYS,
    help: `delete a file N days after its last upload, unless a message younger than that attaches it (default ${DEFAULT_FILE_MAX_AGE_DAYS})`,
    config: {
      description:
        "Days an attached file is kept after its last upload and after the newest message that attaches it; " +
        "files in the scp drop dir are removed after as many days.",
    },
  },
  uploaderMaxFiles: {
    kind: "count",
    flag: "uploader-max-files",
    unit: "files",
    min: 1,
    max: MAX_STORED_FILES,
    default: DEFAULT_UPLOADER_MAX_FILES,
    help: `files one credential holds, stored and partial (default ${DEFAULT_UPLOADER_MAX_FILES})`,
    config: { description: "Attached files (stored and partial uploads) one credential holds at once; beyond, its uploads alone get 507." },
  },
  uploaderQuotaMiB: {
    kind: "count",
    flag: "uploader-quota-mib",
    unit: "MiB",
    min: 0,
    max: MAX_QUOTA_MIB,
    default: 0,
    zero: `${percent(DEFAULT_UPLOADER_QUOTA_SHARE)} of the file quota`,
    help: `MiB of one credential's stored files and partial uploads (default 0: ${percent(DEFAULT_UPLOADER_QUOTA_SHARE)} of the file quota)`,
    config: {
      description: `MiB of attached files (and partial uploads) one credential holds; 0 means ${percent(DEFAULT_UPLOADER_QUOTA_SHARE)} of fileQuotaMiB.`,
    },
  },
  uploaderMaxPartials: {
    kind: "count",
    flag: "uploader-max-partials",
    unit: "uploads",
    min: 1,
    max: MAX_STORED_FILES,
    default: DEFAULT_UPLOADER_MAX_PARTIALS,
    help: `partial uploads one credential has open at once (default ${DEFAULT_UPLOADER_MAX_PARTIALS})`,
    config: { description: "Partial (resumable) uploads one credential has open at once; beyond, its new ones alone get 429." },
  },
  maxLongPolls: {
    kind: "count",
    flag: "max-long-polls",
    unit: "long-polls",
    min: 1,
    max: 100_000,
    default: DEFAULT_MAX_LONG_POLLS,
    help: `long-polls one credential holds at once, the team credential's counted per client address (default ${DEFAULT_MAX_LONG_POLLS})`,
    config: { description: "Long-polls one credential holds at once (the team credential's counted per client address); beyond, 429 with Retry-After." },
  },
  behindProxy: {
    kind: "switch",
    flag: "behind-proxy",
    default: false,
    help: "nginx on this host is in front: believe its X-Real-IP from loopback (the host's unit sets it)",
  },
} as const satisfies Record<string, ServiceOption>;

type Options = typeof SERVICE_OPTIONS;
export type ServiceOptionName = keyof Options;
/** The value each option takes. */
export type ServiceOptionValues = {
  [K in ServiceOptionName]: Options[K] extends { kind: "count" }
    ? number
    : Options[K] extends { kind: "switch" }
      ? boolean
      : Options[K] extends { kind: "choice"; values: readonly (infer V)[] }
        ? V
        : string;
};
/** serve's flags. */
export type ServeFlag = Options[ServiceOptionName]["flag"];
/** The options a deployment sets: keys of the stack config and of the host config alike. */
export type DeployedOptionName = { [K in ServiceOptionName]: Options[K] extends { config: Deployed } ? K : never }[ServiceOptionName];

const ALL: Record<ServiceOptionName, ServiceOption> = SERVICE_OPTIONS;
export const SERVICE_OPTION_NAMES = Object.keys(SERVICE_OPTIONS) as ServiceOptionName[];
export const DEPLOYED_OPTION_NAMES = SERVICE_OPTION_NAMES.filter((name): name is DeployedOptionName => ALL[name].config !== undefined);
export const serviceOption = (name: ServiceOptionName): ServiceOption => ALL[name];
/** Every option at its default. */
export const SERVICE_OPTION_DEFAULTS = Object.fromEntries(SERVICE_OPTION_NAMES.map((name) => [name, ALL[name].default])) as ServiceOptionValues;

/**
 * The rule for an option's value, with the messages the stack and host config give. `number` is the
 * base of a count: z.coerce.number() where values arrive as text (the stack config), z.number() else.
 */
export function valueRule<K extends ServiceOptionName>(name: K, number: z.ZodNumber | z.ZodCoercedNumber = z.number()): z.ZodType<ServiceOptionValues[K]> {
  const option = ALL[name];
  const rule = (): z.ZodType => {
    switch (option.kind) {
      case "count":
        return number
          .int(`must be ${wholeNumber(option)}`)
          .min(option.min, option.zero ? `must be 0 (${option.zero}) or more` : `must be at least ${option.min}`)
          .max(option.max, `must be at most ${option.max}`);
      case "choice":
        return z.enum(option.values as [string, ...string[]], { message: `must be ${option.values.map((v) => `"${v}"`).join(" or ")}` });
      case "switch":
        return z.boolean();
      case "text":
        return z.string().min(1, "must not be empty");
    }
  };
  return rule() as z.ZodType<ServiceOptionValues[K]>;
}

/** The host config's keys for the deployed options, each defaulting as the table says. */
export function hostConfigShape(): { [K in DeployedOptionName]: z.ZodDefault<z.ZodType<ServiceOptionValues[K]>> } {
  return Object.fromEntries(DEPLOYED_OPTION_NAMES.map((name) => [name, valueRule(name).default(ALL[name].default as never)])) as never;
}

/** What serve's help shows after the flag: N, the choices, or the text's placeholder; none for a bare switch. */
export function flagPlaceholder(option: ServiceOption): string | undefined {
  switch (option.kind) {
    case "count":
      return "N";
    case "choice":
      return option.values.join("|");
    case "switch":
      return option.flagValues?.join("|");
    case "text":
      return option.value;
  }
}

/** An option's value as serve's flag says it (a bare switch has none). */
function flagText(option: ServiceOption, value: number | string | boolean): string | undefined {
  if (option.kind !== "switch") return String(value);
  return option.flagValues?.[value ? 0 : 1];
}

/**
 * serve's arguments for these values, in the table's order. A value at its default is left out, unless
 * `always` (the unit always names its address, port and data dir), and so is one whose `needs` is 0.
 */
export function serveArguments(values: Partial<ServiceOptionValues>, { always = false } = {}): string[] {
  const given = values as Partial<Record<ServiceOptionName, number | string | boolean>>;
  return SERVICE_OPTION_NAMES.flatMap((name) => {
    const option = ALL[name];
    const value = given[name];
    if (value === undefined || (!always && value === option.default)) return [];
    if (option.needs && (given[option.needs as ServiceOptionName] ?? ALL[option.needs as ServiceOptionName].default) === 0) return [];
    const text = flagText(option, value);
    return text === undefined ? [`--${option.flag}`] : [`--${option.flag}`, text];
  });
}

/**
 * One flag's text as serve was given it, checked: the value, or an Error that says what the flag
 * takes. Counts are plain digits (no sign, exponent or spaces), as a person types them.
 */
export function parseFlagText<K extends ServiceOptionName>(name: K, text: string): ServiceOptionValues[K] {
  const option = ALL[name];
  const fail = (takes: string) => new Error(`--${option.flag} must be ${takes}`);
  let value: number | string | boolean;
  switch (option.kind) {
    case "count": {
      value = Number(text);
      if (!/^\d{1,9}$/.test(text) || value < option.min || value > option.max) {
        throw fail(`${wholeNumber(option)} from ${option.min}${option.zero ? ` (${option.zero})` : ""} to ${option.max}`);
      }
      break;
    }
    case "choice":
      if (!option.values.includes(text)) throw fail(option.values.map((v) => `"${v}"`).join(" or "));
      value = text;
      break;
    case "switch":
      if (!option.flagValues?.includes(text)) throw fail((option.flagValues ?? []).map((v) => `"${v}"`).join(" or "));
      value = text === option.flagValues[0];
      break;
    case "text":
      if (text === "") throw new Error(`--${option.flag} must not be empty`);
      value = text;
      break;
  }
  return value as ServiceOptionValues[K];
}
