/**
 * `claude-bus bootstrap`: the seed's "Bootstrap checklist for a new machine" (section 10) as one
 * idempotent command. Each item prints ✓ or ✗ with what to do; a second run changes nothing.
 * `--check` verifies every item and changes nothing.
 */
import { constants as fsConstants, promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { EnvFileError, type EnvFileValues, renderEnvFile } from "../../contract/envFile";
import { allMessages, AuthError, type BusClient, BusError, createBusClient, enroll, type MachineCredential, UnreachableError } from "../../client/index";
import { booleanOption, noPositionals, type ParsedCommand, stringOption } from "../args";
import { ConfigError, type ConfigFlags, connectionFlags, type Credential, envFilePath, insecureHttp, machineName, validateCredential } from "../config";
import { octal, readEnvFile, writeEnvFile } from "../envFileStore";
import { EXIT, exitCodeFor } from "../exitCodes";
import { type Io, UsageError } from "../io";
import { installPlugin, marketplaceRoot, PLUGIN_ID, pluginReady, pluginState, type PluginState } from "../claudePlugin";
import { SettingsError, settingsPath } from "../claudeSettings";
import { findExecutable, shellEnv } from "../findExecutable";
import { credentialFromStackOutputs } from "../stackOutputs";

export const HELLO_TAG = "hello";

/** What an item found or did: ✓ done, ✗ failed (the exit code says so), or ! a warning that is no failure. */
interface Outcome {
  ok: boolean | "warning";
  detail: string;
  /** The exit code a ✗ gives, when not plain failure (a bus error's own code). */
  exitCode?: number;
  /** Nothing after this item can work: the command ends here. */
  stop?: true;
}

/** One run of the checklist: its inputs, and what the items before found for the items after. */
interface Run {
  io: Io;
  check: boolean;
  flags: ConfigFlags;
  envFile: string;
  invite?: string;
  stack?: Credential;
  existing?: EnvFileValues;
  existingError?: EnvFileError;
  enrolled?: MachineCredential & { url: string };
  me?: string;
  credential?: Credential;
  client?: BusClient;
}

/** An item of the checklist: it checks, and unless --check makes it so; undefined when it has nothing to say on this run. */
interface ChecklistItem {
  label: string;
  run: (run: Run) => Outcome | undefined | Promise<Outcome | undefined>;
}

/** The seed's checklist, in order: each item may use what the ones before it found. */
const CHECKLIST: ChecklistItem[] = [
  { label: "invite", run: enrollItem },
  { label: "machine name", run: machineNameItem },
  { label: "credentials file", run: credentialItem },
  { label: "environment", run: staleEnvironmentItem },
  { label: "bus health", run: healthItem },
  { label: "claude-bus command", run: commandItem },
  { label: "Claude Code plugin", run: pluginItem },
  { label: "SSH key", run: sshKeyItem },
  { label: "hello broadcast", run: helloItem },
];

export async function bootstrap(parsed: ParsedCommand<"bootstrap">, io: Io): Promise<number> {
  noPositionals("bootstrap", parsed);
  const run: Run = { io, check: booleanOption(parsed, "check"), flags: connectionFlags(parsed), envFile: "", invite: stringOption(parsed, "invite") };
  run.envFile = envFilePath(run.flags, io.env).file;
  const fromStack = booleanOption(parsed, "from-stack");
  if (fromStack && io.stdinIsTTY) {
    throw new UsageError("--from-stack reads the stack outputs on stdin: pulumi stack output --json --show-secrets | claude-bus bootstrap --from-stack");
  }
  if (run.invite !== undefined) {
    if (run.check) throw new UsageError("--invite enrolls this machine, a change: run it without --check");
    if (fromStack) throw new UsageError("--invite and --from-stack are two ways to a credential: give one");
    if (run.flags.user !== undefined) throw new UsageError("--invite takes no --user: the bus names the machine's credential");
  }
  run.stack = fromStack ? credentialFromStackOutputs(await io.readStdin()) : undefined;
  try {
    run.existing = await readEnvFile(run.envFile, () => undefined, io.platform); // the credentials item reports the file's mode
  } catch (err) {
    if (!(err instanceof EnvFileError)) throw err;
    run.existingError = err;
  }

  let exitCode: number = EXIT.ok;
  for (const item of CHECKLIST) {
    const outcome = await item.run(run);
    if (!outcome) continue;
    io.out(`${outcome.ok === "warning" ? "!" : outcome.ok ? "✓" : "✗"} ${item.label}: ${outcome.detail}`);
    if (outcome.stop) return EXIT.failure;
    if (outcome.exitCode !== undefined) exitCode = outcome.exitCode;
    else if (outcome.ok === false && exitCode === EXIT.ok) exitCode = EXIT.failure;
  }
  return exitCode;
}

/** The name the bus knows this machine by: the one it was invited as, else --me, BUS_ME, the env file's, the host name. */
function machineNameItem(run: Run): Outcome {
  const { io, flags, enrolled } = run;
  if (enrolled) {
    run.me = enrolled.name;
    const asked = askedMe(run);
    const differs = asked !== undefined && asked !== run.me ? `; the bus knows it by its invite, not as ${asked}` : "";
    return { ok: differs ? "warning" : true, detail: `${run.me} (the name it was invited as${differs})` };
  }
  try {
    run.me = machineName(flags, io.env, run.existing?.BUS_ME, io.platform);
    return { ok: true, detail: `${run.me} (change it with --me NAME or BUS_ME)` };
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return { ok: false, detail: `${err.message}: pass --me NAME` };
  }
}

const askedMe = ({ flags, io }: Run) => flags.me ?? (io.env.BUS_ME || undefined);

/** The environment comes before the file for every later command: a stale team password there would win. */
function staleEnvironmentItem({ io, enrolled, envFile }: Run): Outcome | undefined {
  if (!enrolled) return undefined;
  const stale = (["BUS_USER", "BUS_PASS"] as const).filter((key) => io.env[key] && io.env[key] !== { BUS_USER: enrolled.user, BUS_PASS: enrolled.pass }[key]);
  if (stale.length) return { ok: "warning", detail: `${stale.join(", ")} set in this shell override ${envFile} for every command: unset them` };
  return undefined;
}

/** The bus answers /health with that credential. */
async function healthItem(run: Run): Promise<Outcome> {
  const { credential } = run;
  if (!credential) return { ok: false, detail: "not checked: needs the credential above" };
  const client = createBusClient({ ...credential, ...insecureHttp(credential.url, run.flags, run.io) });
  try {
    const health = await client.health();
    run.client = client;
    return { ok: true, detail: `${credential.url} answers with ${health.count} messages stored` };
  } catch (err) {
    return { ok: false, detail: busAdvice(err), exitCode: exitCodeFor(err) };
  }
}

/** The command the plugin runs. Claude Code finds it on the PATH of the shell that starts it, not on the one npx gives us. */
function commandItem({ io }: Run): Outcome {
  const command = findExecutable("claude-bus", shellEnv(io.env, io.platform), io.platform);
  if (command) return { ok: true, detail: `${command} (the plugin's hooks and tools run it)` };
  const onlyThroughNpm = findExecutable("claude-bus", io.env, io.platform);
  const install = "`npm link` in the clone (or `npm install -g` it), then re-run";
  return {
    ok: false,
    detail: onlyThroughNpm
      ? `only on the PATH npm or npx gave this run (${onlyThroughNpm}), which Claude Code will not have, and the plugin's hooks and tools run it: ${install}`
      : `not on PATH, and the plugin's hooks and tools run it: ${install}`,
  };
}
/**
 * Trades the invite code for this machine's own credential. The secret exists only in this process until
 * the credentials item writes it: a code works once, so a lost answer means asking for a new invite.
 */
async function enrollItem(run: Run): Promise<Outcome | undefined> {
  const { invite: code, envFile, flags, io } = run;
  if (code === undefined) return undefined;
  const url = flags.url ?? (io.env.BUS_URL || undefined) ?? run.existing?.BUS_URL;
  if (!url) return { ok: false, detail: "no bus URL to enroll with: pass --url URL (claude-bus invite printed it)", stop: true };
  // The secret the code yields is shown once: the file it goes into must be writable before it is asked for.
  const dir = path.dirname(envFile);
  try {
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    await fs.access(dir, fsConstants.W_OK);
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    return { ok: false, detail: `${dir} cannot be written (${why}): fix that first; the code is still unused`, stop: true };
  }
  try {
    const credential = await enroll({ url, code, ...insecureHttp(url, flags, io) });
    run.enrolled = { ...credential, url: url.replace(/\/+$/, "") };
    return { ok: true, detail: `enrolled at ${url} as ${credential.name}, with a credential of its own` };
  } catch (err) {
    if (!(err instanceof BusError || err instanceof UnreachableError)) throw err;
    const used =
      err instanceof BusError && err.status === 403
        ? "; a code works once: if this machine used it already, run `claude-bus bootstrap` without --invite; if not, someone else " +
          "may have: ask the team to run `claude-bus revoke NAME`, then `claude-bus invite NAME` again"
        : "";
    return { ok: false, detail: `${busAdvice(err)}${used}`, stop: true };
  }
}

/**
 * Precedence: flags, then stack outputs on stdin (an explicit pipe beats a stale BUS_PASS exported
 * in the shell), then the environment, then the existing file.
 */
async function credentialItem(run: Run): Promise<Outcome> {
  const { check, envFile, existing, existingError, flags, enrolled } = run;
  const env = run.io.env;
  const stack = enrolled ? { url: enrolled.url, user: enrolled.user, pass: enrolled.pass } : run.stack;
  const wanted = {
    url: flags.url ?? stack?.url ?? (env.BUS_URL || undefined) ?? existing?.BUS_URL,
    user: flags.user ?? stack?.user ?? (env.BUS_USER || undefined) ?? existing?.BUS_USER,
    pass: stack?.pass ?? (env.BUS_PASS || undefined) ?? existing?.BUS_PASS,
  };
  if (existingError && (check || !wanted.url || !wanted.user || !wanted.pass)) {
    return { ok: false, detail: `${existingError.message}: fix it, or pipe the stack outputs in with --from-stack to replace it` };
  }
  if (!wanted.url || !wanted.user || !wanted.pass) {
    return {
      ok: false,
      detail:
        `${envFile} missing and no credential given: run \`pulumi stack output --json --show-secrets | claude-bus bootstrap --from-stack\` ` +
        "in the stack's directory, or set BUS_URL, BUS_USER and BUS_PASS in the environment",
    };
  }
  let credential: Credential;
  try {
    credential = validateCredential(wanted, "the given credential");
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return { ok: false, detail: err.message };
  }
  run.credential = credential;
  const me = enrolled?.name ?? askedMe(run) ?? existing?.BUS_ME;
  const sameValues =
    existing !== undefined &&
    existing.BUS_URL?.replace(/\/+$/, "") === credential.url &&
    existing.BUS_USER === credential.user &&
    existing.BUS_PASS === credential.pass &&
    existing.BUS_ME === me;
  const modes = await modeProblems(envFile, run.io.platform);

  if (check) {
    if (!existing) return { ok: false, detail: `${envFile} missing: run \`claude-bus bootstrap\` to write it` };
    if (!sameValues) return { ok: false, detail: `${envFile} differs from the given credential: run without --check to update it` };
    if (modes.length) return { ok: false, detail: `${modes.join(", ")}: run without --check to fix` };
    return { ok: true, detail: `${envFile} (mode 0600, dir 0700)` };
  }
  if (!sameValues) {
    await writeEnvFile(envFile, renderEnvFile({ BUS_URL: credential.url, BUS_USER: credential.user, BUS_PASS: credential.pass, BUS_ME: me }));
    return { ok: true, detail: `${existing || existingError ? "updated" : "wrote"} ${envFile} (mode 0600, dir 0700)` };
  }
  if (modes.length) {
    await fs.chmod(path.dirname(envFile), 0o700); // (modes is empty on Windows, which has no such modes)
    await fs.chmod(envFile, 0o600);
    return { ok: true, detail: `${envFile} unchanged; fixed ${modes.join(", ")}` };
  }
  return { ok: true, detail: `${envFile} up to date (mode 0600, dir 0700)` };
}

/**
 * The file and its directory must be private to this user: they hold the bus password. Windows has no
 * such modes (stat reports 0666 or 0444 whatever the ACL says): there this check would report ✗ forever.
 */
export async function modeProblems(envFile: string, platform: NodeJS.Platform): Promise<string[]> {
  const problems: string[] = [];
  if (platform === "win32") return problems;
  const checks: Array<[string, number]> = [
    [path.dirname(envFile), 0o700],
    [envFile, 0o600],
  ];
  for (const [target, wanted] of checks) {
    try {
      const mode = (await fs.stat(target)).mode & 0o777;
      if (mode !== wanted) problems.push(`${target} has mode ${octal(mode)}, wants ${octal(wanted)}`);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
  }
  return problems;
}

function busAdvice(err: unknown): string {
  if (err instanceof AuthError) {
    return (
      `${err.message}; the team password may have been rotated (re-run with the current stack outputs, --from-stack), ` +
      "or this machine's own credential revoked (ask for a new invite: claude-bus invite NAME)"
    );
  }
  if (err instanceof UnreachableError) return `${err.message}; check BUS_URL, DNS and that the bus is up`;
  return (err as Error).message;
}

/** The plugin enabled in ~/.claude/settings.json, and nothing left of the seed-era poll hook. */
async function pluginItem({ check, io }: Run): Promise<Outcome> {
  try {
    return await plugin(check, io);
  } catch (err) {
    if (!(err instanceof SettingsError)) throw err;
    return { ok: false, detail: err.message };
  }
}

async function plugin(check: boolean, io: Io): Promise<Outcome> {
  const before = await pluginState();
  if (pluginReady(before)) return { ok: true, detail: `${PLUGIN_ID} enabled in ${settingsPath()}` };
  if (check) return { ok: false, detail: `${pluginProblems(before).join("; ")}: run \`claude-bus bootstrap\`` };
  const claude = findExecutable("claude", io.env, io.platform);
  const how = await installPlugin(marketplaceRoot(), claude, io.env);
  const legacy = before.legacyHooks > 0 || before.legacyScript ? "; removed the old SessionStart poll hook" : "";
  if (before.marketplaceKnown && before.enabled) return { ok: true, detail: `${PLUGIN_ID} already enabled${legacy}` };
  return {
    ok: true,
    detail: `${PLUGIN_ID} installed ${how === "claude CLI" ? "with `claude plugin install`" : `into ${settingsPath()} (no \`claude\` on PATH)`}${legacy}; new sessions load it`,
  };
}

function pluginProblems(state: PluginState): string[] {
  const problems: string[] = [];
  if (!state.marketplaceKnown || !state.enabled) problems.push(`${PLUGIN_ID} not installed`);
  if (state.legacyHooks > 0 || state.legacyScript) problems.push("the old SessionStart poll hook is still installed");
  return problems;
}

const SSH_KEY_FILES = ["id_ed25519.pub", "id_ecdsa.pub", "id_rsa.pub"];

/** An SSH key for the shared drop dir. */
async function sshKeyItem(): Promise<Outcome> {
  for (const name of SSH_KEY_FILES) {
    const file = path.join(os.homedir(), ".ssh", name);
    let key: string;
    try {
      key = (await fs.readFile(file, "utf8")).trim();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") continue;
      throw err;
    }
    return {
      ok: true,
      detail:
        `${file}; for the shared drop dir add it to the stack's client keys (next free index N):\n` +
        `    pulumi config set --path 'clientSshKeys[N]' '${key}' && pulumi up`,
    };
  }
  // Only the optional drop dir needs a key: its absence is a warning, not a failed bootstrap.
  return {
    ok: "warning",
    detail:
      `none in ${path.join(os.homedir(), ".ssh")}; only the shared drop dir needs one: create it with \`ssh-keygen -t ed25519\`, ` +
      "then re-run bootstrap to see where to add it",
  };
}

/** The machine announced once. */
async function helloItem({ client, me, check }: Run): Promise<Outcome> {
  if (!client || !me) return { ok: false, detail: "not checked: needs a machine name and a working bus" };
  try {
    return await hello(client, me, check);
  } catch (err) {
    if (!(err instanceof BusError || err instanceof AuthError || err instanceof UnreachableError)) throw err;
    const what = check ? `could not check whether ${me} was announced` : `${me} not announced`;
    const rerun = `claude-bus bootstrap${check ? " --check" : ""}`;
    return { ok: false, detail: `${what}: ${busAdvice(err)}; re-run \`${rerun}\` when that is fixed`, exitCode: exitCodeFor(err) };
  }
}

/** Idempotent by asking the bus itself: my own earlier message tagged `hello` means I was announced. */
async function hello(client: BusClient, me: string, check: boolean): Promise<Outcome> {
  for await (const message of allMessages(client, { from: me })) {
    if (message.tags.includes(HELLO_TAG)) return { ok: true, detail: `${me} already announced (#${message.id}, ${message.ts})` };
  }
  if (check) return { ok: false, detail: `${me} not announced yet: run \`claude-bus bootstrap\`` };
  const message = await client.post({
    from: me,
    to: "any",
    body: `hello: ${me} joined the bus (${os.type()} ${os.release()} ${os.arch()}); its Claude Code sessions get bus messages through the claude-bus plugin`,
    tags: [HELLO_TAG, "bootstrap"],
  });
  return { ok: true, detail: `posted #${message.id} announcing ${me}` };
}
