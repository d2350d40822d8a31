/**
 * The `claude-bus` commands and their options, in one table: the argument parser, `--help` of every
 * command and the overall usage all read it. Data only, so `--help` loads none of the commands.
 */
import {
  BACKUP_ENV_FILE_IN_HOME,
  DEFAULT_BACKUP_KEEP,
  DEFAULT_CLAIM_TTL_SECONDS,
  DEFAULT_DATA_DIR,
  DEFAULT_INVITE_SECONDS,
  DEFAULT_WAIT_READ_SECONDS,
  ENV_FILE_IN_HOME,
} from "../contract/defaults";
import { flagPlaceholder, type ServeFlag, serviceOption, SERVICE_OPTION_NAMES } from "../contract/serviceOptions";
import { EXIT_CODES } from "./exitCodes";

export interface OptionSpec {
  readonly type: "string" | "boolean";
  readonly multiple?: boolean;
  /** The value's placeholder in help text (string options). */
  readonly value?: string;
  readonly help: string;
}

export interface CommandSpec {
  /** Positional arguments, as shown in the synopsis. */
  readonly args?: string;
  readonly summary: string;
  readonly group: "bus" | "claude" | "setup";
  readonly options: Readonly<Record<string, OptionSpec>>;
  /** Lines printed after the options by `claude-bus COMMAND --help`. */
  readonly notes?: readonly string[];
}

/** Options of every command that talks to the bus. There is no password option: argv is visible to every user. */
export const CONNECTION = {
  url: { type: "string", value: "URL", help: "the bus URL (else BUS_URL, else the env file)" },
  user: { type: "string", value: "USER", help: "the Basic-auth user (else BUS_USER, else the env file)" },
  me: { type: "string", value: "NAME", help: "this machine's name on the bus (else BUS_ME, else the env file's BUS_ME, else hostname -s)" },
  "env-file": { type: "string", value: "FILE", help: `the credentials file (else BUS_ENV_FILE, else ~/${ENV_FILE_IN_HOME})` },
  "insecure-http": { type: "boolean", help: "allow a plain http:// URL to another host (the password then crosses the network unencrypted)" },
} as const satisfies Record<string, OptionSpec>;
export const JSON_OUTPUT = { json: { type: "boolean", help: "print the answer as JSON" } } as const satisfies Record<string, OptionSpec>;

/** The backup bucket's env file; its key pair is never an option either. */
export const S3_ENV = {
  "s3-env": {
    type: "string",
    value: "FILE",
    help: `the backup bucket's env file (else BACKUP_S3_ENV_FILE, else ~/${BACKUP_ENV_FILE_IN_HOME}, else BACKUP_S3_* variables)`,
  },
} as const satisfies Record<string, OptionSpec>;
export const BACKUP_BUCKET_NOTE =
  "The backup bucket: BACKUP_S3_ENDPOINT, BACKUP_S3_BUCKET, BACKUP_S3_ACCESS_KEY_ID, BACKUP_S3_SECRET_ACCESS_KEY (and optional BACKUP_S3_REGION, " +
  "BACKUP_S3_PREFIX) from the env file (the stack's backupEnv output) or the environment, never the command line.";

export const SSH_TARGET = {
  target: { type: "string", value: "[USER@]HOST", help: "the server (root, or another user with sudo -n)" },
  config: { type: "string", value: "host.json", help: "the host config (provision/host.example.json)" },
  port: { type: "string", value: "N", help: "SSH port (default 22)" },
  identity: { type: "string", value: "FILE", help: "SSH private key" },
  "known-hosts": { type: "string", value: "FILE", help: "known_hosts file of its own (default: the user's)" },
} as const satisfies Record<string, OptionSpec>;

/** serve's flags: one per service option, from their one table. */
const SERVE_OPTIONS = Object.fromEntries(
  SERVICE_OPTION_NAMES.map((name) => {
    const option = serviceOption(name);
    const value = flagPlaceholder(option);
    const { flag, help } = option;
    return [flag, value === undefined ? { type: "boolean", help } : { type: "string", value, help }];
  }),
) as Record<ServeFlag, OptionSpec>;

export const CREDENTIAL_NOTE =
  "Credentials: flags first, then BUS_URL/BUS_USER/BUS_PASS/BUS_ME in the environment, then the env file. " +
  "The password comes only from the environment or the file, never the command line.";

/**
 * `as const`: each command's option names stay in its type, so cli/args.ts can make reading an option a
 * command does not declare (or a misspelt one) a type error.
 */
export const COMMANDS = {
  health: { summary: "check the bus answers with this credential", group: "bus", options: { ...CONNECTION, ...JSON_OUTPUT }, notes: [CREDENTIAL_NOTE] },
  post: {
    args: "[BODY]",
    summary: 'post a message (BODY, or the body on stdin); --to defaults to "any" (everyone)',
    group: "bus",
    options: {
      ...CONNECTION,
      to: { type: "string", value: "NAME", help: 'recipient machine, or "any"' },
      tag: { type: "string", multiple: true, value: "TAG", help: "a tag (repeat for more)" },
      "reply-to": { type: "string", value: "ID", help: "the message this one answers (it joins that message's thread)" },
      attach: { type: "string", multiple: true, value: "FILE", help: "upload FILE and attach it (repeat for more); a dropped upload resumes" },
      "allow-secret-path": {
        type: "boolean",
        help: "attach from where secrets are kept (~/.ssh/, .env files, /proc/...); a file holding a bus credential never",
      },
      "wait-read": { type: "string", value: "NAME", help: "then wait until NAME has read (acked) it, and say when (exit 5 if not in time)" },
      "wait-read-for": { type: "string", value: "DURATION", help: `how long --wait-read waits: 90s, 10m, 1h (default ${DEFAULT_WAIT_READ_SECONDS / 60}m)` },
      ...JSON_OUTPUT,
    },
    notes: [CREDENTIAL_NOTE],
  },
  claim: {
    args: "RESOURCE",
    summary: "claim RESOURCE (repo:PATH, task:NAME, ...) for me, or renew my claim: prints its fencing token",
    group: "bus",
    options: {
      ...CONNECTION,
      ttl: { type: "string", value: "DURATION", help: `how long it lasts unless renewed: 30s, 30m, 2h (5s to 1d; default ${DEFAULT_CLAIM_TTL_SECONDS / 60}m)` },
      note: { type: "string", value: "TEXT", help: "what it is for, shown to others (a renewal without --note keeps the old one)" },
      wait: { type: "string", value: "DURATION", help: "if another holds it, wait up to this long for it to be free, then claim it" },
      ...JSON_OUTPUT,
    },
    notes: ["Held by another: exit 5, the holder, its token, until when and its note on stderr.", CREDENTIAL_NOTE],
  },
  release: {
    args: "RESOURCE",
    summary: "release my claim on RESOURCE (--force: break another's, team credential)",
    group: "bus",
    options: {
      ...CONNECTION,
      token: { type: "string", value: "N", help: "only if the claim still has this token (a newer claim is left alone)" },
      force: { type: "boolean", help: "break whoever's claim it is (team credential only; the bus records it)" },
      ...JSON_OUTPUT,
    },
    notes: [CREDENTIAL_NOTE],
  },
  claims: {
    summary: "list the live claims: resource, holder, token, until when, note",
    group: "bus",
    options: {
      ...CONNECTION,
      holder: { type: "string", value: "NAME", help: "only NAME's" },
      mine: { type: "boolean", help: "only mine" },
      prefix: { type: "string", value: "P", help: "only those whose resource starts with P (repo:infra/)" },
      ...JSON_OUTPUT,
    },
    notes: [CREDENTIAL_NOTE],
  },
  fetch: {
    args: "ID",
    summary: "save every file attached to message ID, each checked against its sha256, and say where it went",
    group: "bus",
    options: {
      ...CONNECTION,
      out: { type: "string", value: "DIR", help: "they go into DIR/ID/ (default DIR: the current directory; made if missing)" },
      force: { type: "boolean", help: "replace files of the same names (else an existing file is never overwritten)" },
      "allow-config-names": {
        type: "boolean",
        help: "save a dot file or a name agents and tools read as configuration (CLAUDE.md, AGENTS.md, .mcp.json, .envrc, ...) too; refused without it",
      },
    },
    notes: ["A download cut short resumes from what arrived (kept as DIR/ID/.claude-bus-<sha256>.part) when fetch runs again.", CREDENTIAL_NOTE],
  },
  inbox: {
    summary: 'print unread messages to me as "[ts] from: body", oldest first, and ack them (one batch ack)',
    group: "bus",
    options: { ...CONNECTION, "no-ack": { type: "boolean", help: "leave them unread" }, ...JSON_OUTPUT },
    notes: [CREDENTIAL_NOTE],
  },
  ack: { args: "ID", summary: "mark message ID read by me", group: "bus", options: { ...CONNECTION, ...JSON_OUTPUT }, notes: [CREDENTIAL_NOTE] },
  watch: {
    summary: "print each new message to me as one line the moment it arrives (long-poll; resumes where it stopped)",
    group: "bus",
    options: {
      ...CONNECTION,
      exec: { type: "string", value: "CMD", help: "run CMD (through the shell) per message, one at a time, the message as JSON on stdin" },
      cursor: { type: "string", value: "FILE", help: "where the last id seen is kept (default ~/.claude-bus/watch-NAME.cursor)" },
      "new-only": { type: "boolean", help: "only what is posted after it starts, keeping no cursor file (the plugin's monitor: the hooks deliver the rest)" },
      framed: {
        type: "boolean",
        help: "print each message as the one-line frame an agent reads (the plugin's monitor), not a line for a person; with --exec, CMD reads the whole frame instead of JSON",
      },
    },
    notes: [
      "Never for my own messages. The first run starts from my unread messages; later runs resume after the last one printed.",
      "CMD gets the environment without BUS_PASS, and BUS_MESSAGE_ID, BUS_MESSAGE_FROM and BUS_MESSAGE_THREAD. A failing CMD is reported and watching goes on.",
      CREDENTIAL_NOTE,
    ],
  },
  guard: {
    args: "install | check",
    summary: "a git pre-commit hook refusing commits of paths another machine has claimed (repo:PATH); check runs it",
    group: "bus",
    options: {
      ...CONNECTION,
      repo: { type: "string", value: "DIR", help: "the repository (default: the current directory)" },
      force: { type: "boolean", help: "install: replace a pre-commit hook that is not the guard's" },
    },
    notes: [
      "A claim repo:PATH covers the file PATH, or the directory PATH and everything under it; repo: alone the whole repository. Your own claims never block you.",
      "Commit anyway: git commit --no-verify, or CLAUDE_BUS_GUARD=off git commit. A bus that cannot be reached lets the commit through, with a warning.",
      CREDENTIAL_NOTE,
    ],
  },
  hook: {
    summary:
      "Claude Code hook (SessionStart, UserPromptSubmit, PostToolUse): deliver new messages (and at SessionStart others' claims) to the session as hook JSON",
    group: "claude",
    options: { ...CONNECTION },
    notes: ["Reads the hook event on stdin. The claude-bus plugin runs it; it always exits 0."],
  },
  live: {
    args: "[on|off]",
    summary: "turn live delivery into running Claude Code sessions on or off on this machine, or say which it is",
    group: "claude",
    options: {},
    notes: [
      "Off, sessions still hear the bus at session start and at every prompt. Running sessions follow the switch at their next delivery.",
      "BUS_LIVE=on or off in the environment overrides the switch (kept as the file ~/.claude-bus/live-off).",
    ],
  },
  mcp: {
    summary: "MCP server on stdio with the tools send, fetch, inbox, ack, thread, wait, who, claim, release and claims",
    group: "claude",
    options: { ...CONNECTION },
    notes: [
      "The claude-bus plugin's .mcp.json starts it.",
      "send attaches only files under the working directory (the session's) and BUS_ATTACH_ROOTS (directories, separated as in PATH), never a credential or a file from where secrets are kept.",
    ],
  },
  bootstrap: {
    summary: "set up this machine: credentials file, health, the Claude Code plugin, SSH key, hello broadcast",
    group: "setup",
    options: {
      ...CONNECTION,
      invite: { type: "string", value: "CODE", help: "enroll with an invite code (claude-bus invite): this machine gets a credential of its own" },
      "from-stack": { type: "boolean", help: "read `pulumi stack output --json --show-secrets` on stdin (the team credential)" },
      check: { type: "boolean", help: "check every item, change nothing" },
    },
    notes: [
      "Each item prints ✓ or ✗ with what to do; running it again changes nothing.",
      "With --invite CODE --url URL the machine's name is the one it was invited as; later runs need no --invite.",
      CREDENTIAL_NOTE,
    ],
  },
  invite: {
    args: "NAME",
    summary: "a one-time code that enrolls machine (or person) NAME with a credential of its own (team credential or an admin person)",
    group: "setup",
    options: {
      ...CONNECTION,
      ttl: { type: "string", value: "DURATION", help: `how long the code works: 10m, 1h, 7d (1m to 7d; default ${DEFAULT_INVITE_SECONDS / 3_600}h)` },
      person: { type: "boolean", help: "for a person, who signs in to the web app: prints a link that redeems the code in a browser" },
      admin: { type: "boolean", help: "with --person: the person may invite and revoke, as the team credential does" },
      ...JSON_OUTPUT,
    },
    notes: [
      "Prints the code and, for a machine, the command to run on it: claude-bus bootstrap --invite CODE --url URL; for a person, the link to open: URL/#join=CODE.",
      CREDENTIAL_NOTE,
    ],
  },
  revoke: {
    args: "NAME",
    summary: "end machine NAME's own credential (and any invite for it) at once; every other machine keeps working",
    group: "setup",
    options: { ...CONNECTION, ...JSON_OUTPUT },
    notes: [CREDENTIAL_NOTE],
  },
  notify: {
    args: "set URL | show | off",
    summary: "this credential's own phone notifications through ntfy: each new message to it (or to everyone) sent to the topic URL",
    group: "setup",
    options: {
      ...CONNECTION,
      "token-file": { type: "string", value: "FILE", help: "a file holding the topic's access token (tk_...), for a topic that needs one" },
      mode: { type: "string", value: "MODE", help: "ping (only that a message came; the default) or first-line (its sender and first line)" },
      ...JSON_OUTPUT,
    },
    notes: ["The token is kept by the bus, never shown again; notify show says only whether one is set.", CREDENTIAL_NOTE],
  },
  machines: {
    summary: "every machine the bus knows: its credential (own, revoked, invited, none), last used, last seen, unread",
    group: "setup",
    options: { ...CONNECTION, ...JSON_OUTPUT },
    notes: [CREDENTIAL_NOTE],
  },
  backup: {
    summary: "download a consistent copy of the whole store over HTTPS, the bus running (team credential)",
    group: "setup",
    options: {
      ...CONNECTION,
      out: { type: "string", value: "FILE", help: "where to write it (default claude-bus-backup-UTCTIME.tar.gz here)" },
      force: { type: "boolean", help: "replace FILE if it exists" },
      "to-s3": { type: "boolean", help: "upload it to the backup bucket instead, then delete all but the newest --keep there" },
      keep: { type: "string", value: "N", help: `with --to-s3: how many backups the bucket keeps (default ${DEFAULT_BACKUP_KEEP})` },
      ...S3_ENV,
    },
    notes: [
      "claude-bus restore FILE puts it into an empty data dir, here or on a host (--ssh); restore --from-s3 reads one from the bucket.",
      CREDENTIAL_NOTE,
      BACKUP_BUCKET_NOTE,
    ],
  },
  backups: {
    summary: "list the backups in the backup bucket (oldest first): time, bytes, key",
    group: "setup",
    options: { ...S3_ENV, ...JSON_OUTPUT },
    notes: [BACKUP_BUCKET_NOTE],
  },
  rotate: {
    summary: "a new password: this machine's own (on the bus), or the team's (through the Pulumi stack, or --ssh); verified, then saved",
    group: "setup",
    options: {
      ...CONNECTION,
      timeout: { type: "string", value: "SECONDS", help: "how long to wait for new → 200 and old → 401 (default 120)" },
      pulumi: { type: "string", value: "BIN", help: "the Pulumi CLI (default: pulumi, or PULUMI_BIN)" },
      stack: { type: "string", value: "STACK", help: "the Pulumi stack" },
      cwd: { type: "string", value: "DIR", help: "the stack's project directory" },
      ssh: { type: "boolean", help: "apply it over SSH with the host steps, for a server without Pulumi" },
      ...SSH_TARGET,
    },
    notes: [
      "A machine enrolled by invite rotates its own secret on the bus (no Pulumi, no SSH); the old one works until the new one is first used.",
      "The team credential rotates with the deployment: the Pulumi stack, or --ssh.",
    ],
  },
  serve: {
    summary: `run the bus service (data in ${DEFAULT_DATA_DIR} by default)`,
    group: "setup",
    options: {
      ...SERVE_OPTIONS,
    },
    notes: [
      "Team credential: BUS_CREDENTIALS_FILE, else BUS_USER/BUS_PASS, else a generated password kept in DIR/claude-bus.env.",
      "Machines enrolled by invite (claude-bus invite) sign in with their own credentials, kept hashed in DIR/machines.jsonl.",
      "Attached files are kept in DIR/files/, what is known of them in DIR/files.jsonl.",
      "SIGHUP re-reads BUS_CREDENTIALS_FILE; SIGTERM or SIGINT stops after in-flight writes are on disk.",
    ],
  },
  restore: {
    args: "FILE | --from-s3 [KEY]",
    summary: "put a backup (claude-bus backup's .tar.gz, or one from the backup bucket) into an empty data dir, here or on a host over SSH",
    group: "setup",
    options: {
      data: { type: "string", value: "DIR", help: `the data dir to restore into (default ${DEFAULT_DATA_DIR}); no bus may be running on it` },
      force: { type: "boolean", help: "replace a store the data dir already holds" },
      ssh: { type: "boolean", help: "restore on a host (--target, --config): its bus stops meanwhile" },
      ...SSH_TARGET,
      "from-s3": { type: "boolean", help: "read the backup from the backup bucket: KEY (as claude-bus backups lists it), else the newest" },
      ...S3_ENV,
    },
    notes: [BACKUP_BUCKET_NOTE],
  },
  import: {
    args: "FILE",
    summary: "bring a team-page (Flask) bus.jsonl in: new ids, original times, senders, tags and read state",
    group: "setup",
    options: {
      data: { type: "string", value: "DIR", help: `the data dir to import into (default ${DEFAULT_DATA_DIR}); no bus may be running on it` },
      ...JSON_OUTPUT,
      ssh: { type: "boolean", help: "import on a host (--target, --config): its bus stops meanwhile" },
      ...SSH_TARGET,
    },
    notes: ["Prints each old id and the new id it got. Every line is checked first: one bad line, and nothing is imported."],
  },
  provision: {
    args: "--target [USER@]HOST --config host.json",
    summary: "run every host step over SSH against a Debian server, without Pulumi",
    group: "setup",
    options: {
      ...SSH_TARGET,
      bundle: { type: "string", value: "FILE", help: "a prebuilt service bundle (default: build one)" },
      "s3-env": { type: "string", value: "FILE", help: "the backup bucket's env file, installed on the host when its config sets backups" },
    },
    notes: ["The bus password is read from BUS_PASS, or else from stdin; never from an argument.", BACKUP_BUCKET_NOTE],
  },
} as const satisfies Record<string, CommandSpec>;

export type CommandName = keyof typeof COMMANDS;
export const isCommandName = (name: string): name is CommandName => Object.hasOwn(COMMANDS, name);

export function synopsis(name: CommandName, spec: CommandSpec = COMMANDS[name]): string {
  return `claude-bus ${name}${spec.args ? ` ${spec.args}` : ""} [options]`;
}

function optionLine(name: string, spec: OptionSpec): string {
  const flag = `--${name}${spec.value ? ` ${spec.value}` : ""}${spec.multiple ? " ..." : ""}`;
  return `  ${flag.padEnd(26)} ${spec.help}`;
}

const exitCodeLines = () => Object.values(EXIT_CODES).map(({ code, meaning }) => `  ${code}  ${meaning}`);

/** `claude-bus --help`. */
export function usage(): string {
  const group = (g: CommandSpec["group"]) =>
    Object.entries(COMMANDS as Record<CommandName, CommandSpec>)
      .filter(([, spec]) => spec.group === g)
      .map(([name, spec]) => `  ${name.padEnd(10)} ${spec.summary}`);
  return [
    "usage: claude-bus <command> [options]      (claude-bus <command> --help for its options)",
    "",
    "Talking to the bus:",
    ...group("bus"),
    "",
    "Run by Claude Code (the claude-bus plugin):",
    ...group("claude"),
    "",
    "Setting up and maintaining:",
    ...group("setup"),
    "",
    CREDENTIAL_NOTE,
    "",
    "Exit codes:",
    ...exitCodeLines(),
  ].join("\n");
}

/** `claude-bus COMMAND --help`. */
export function commandHelp(name: CommandName): string {
  const spec: CommandSpec = COMMANDS[name];
  return [
    `usage: ${synopsis(name, spec)}`,
    spec.summary,
    "",
    "Options:",
    ...Object.entries(spec.options).map(([option, o]) => optionLine(option, o)),
    `  ${"--help".padEnd(26)} this text`,
    ...(spec.notes ? ["", ...spec.notes] : []),
    "",
    "Exit codes:",
    ...exitCodeLines(),
  ].join("\n");
}
