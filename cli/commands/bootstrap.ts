/**
 * `claude-bus bootstrap`: the seed's "Bootstrap checklist for a new machine" (section 10) as one
 * idempotent command. Each item prints ✓ or ✗ with what to do; a second run changes nothing.
 * `--check` verifies every item and changes nothing.
 */
import { constants as fsConstants, promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { EnvFileError, EnvFileValues, renderEnvFile } from "../../contract/envFile";
import { allMessages, AuthError, BusClient, BusError, createBusClient, enroll, MachineCredential, UnreachableError } from "../../client/index";
import { booleanOption, noPositionals, ParsedCommand, stringOption } from "../args";
import { ConfigError, ConfigFlags, connectionFlags, Credential, envFilePath, insecureHttp, machineName, validateCredential } from "../config";
import { octal, readEnvFile, writeEnvFile } from "../envFileStore";
import { EXIT, exitCodeFor } from "../exitCodes";
import { Io, UsageError } from "../io";
import { installPlugin, marketplaceRoot, PLUGIN_ID, pluginReady, pluginState, PluginState } from "../claudePlugin";
import { SettingsError, settingsPath } from "../claudeSettings";
import { findExecutable, shellEnv } from "../findExecutable";
import { credentialFromStackOutputs } from "../stackOutputs";

export const HELLO_TAG = "hello";

/** A checklist item: ✓ done, ✗ failed (the exit code says so), or ! a warning that is no failure. */
interface Item {
  ok: boolean | "warning";
  label: string;
  detail: string;
}

export async function bootstrap(parsed: ParsedCommand<"bootstrap">, io: Io): Promise<number> {
  noPositionals("bootstrap", parsed);
  const check = booleanOption(parsed, "check");
  const flags = connectionFlags(parsed);
  const envFile = envFilePath(flags, io.env).file;
  let exitCode: number = EXIT.ok;
  const report = (item: Item) => {
    io.out(`${item.ok === "warning" ? "!" : item.ok ? "✓" : "✗"} ${item.label}: ${item.detail}`);
    if (item.ok === false && exitCode === EXIT.ok) exitCode = EXIT.failure;
  };

  // 1. the credentials file
  if (booleanOption(parsed, "from-stack") && io.stdinIsTTY) {
    throw new UsageError("--from-stack reads the stack outputs on stdin: pulumi stack output --json --show-secrets | claude-bus bootstrap --from-stack");
  }
  const invite = stringOption(parsed, "invite");
  if (invite !== undefined) {
    if (check) throw new UsageError("--invite enrolls this machine, a change: run it without --check");
    if (booleanOption(parsed, "from-stack")) throw new UsageError("--invite and --from-stack are two ways to a credential: give one");
    if (flags.user !== undefined) throw new UsageError("--invite takes no --user: the bus names the machine's credential");
  }
  const stack = booleanOption(parsed, "from-stack") ? credentialFromStackOutputs(await io.readStdin()) : undefined;
  let existing: EnvFileValues | undefined;
  let existingError: EnvFileError | undefined;
  try {
    existing = await readEnvFile(envFile, () => undefined, io.platform); // the item below reports the file's mode
  } catch (err) {
    if (!(err instanceof EnvFileError)) throw err;
    existingError = err;
  }
  const enrolled = invite === undefined ? undefined : await enrollItem(invite, flags.url ?? (io.env.BUS_URL || undefined) ?? existing?.BUS_URL, envFile, flags, io, report);
  if (invite !== undefined && !enrolled) return EXIT.failure;
  let me: string | undefined;
  const askedMe = flags.me ?? (io.env.BUS_ME || undefined);
  if (enrolled) {
    me = enrolled.name;
    const differs = askedMe !== undefined && askedMe !== me ? `; the bus knows it by its invite, not as ${askedMe}` : "";
    report({ ok: differs ? "warning" : true, label: "machine name", detail: `${me} (the name it was invited as${differs})` });
  } else {
    try {
      me = machineName(flags, io.env, existing?.BUS_ME, io.platform);
      report({ ok: true, label: "machine name", detail: `${me} (change it with --me NAME or BUS_ME)` });
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      report({ ok: false, label: "machine name", detail: `${err.message}: pass --me NAME` });
    }
  }
  const explicitMe = enrolled?.name ?? askedMe;
  const given = enrolled ? { url: enrolled.url, user: enrolled.user, pass: enrolled.pass } : stack;
  const credential = await credentialItem({ check, envFile, existing, existingError, stack: given, flags, env: io.env, explicitMe, platform: io.platform }, report);
  if (enrolled) {
    // The environment comes before the file for every later command: a stale team password there would win.
    const stale = (["BUS_USER", "BUS_PASS"] as const).filter((key) => io.env[key] && io.env[key] !== { BUS_USER: enrolled.user, BUS_PASS: enrolled.pass }[key]);
    if (stale.length) report({ ok: "warning", label: "environment", detail: `${stale.join(", ")} set in this shell override ${envFile} for every command: unset them` });
  }

  // 2. the bus answers /health with that credential
  let client: BusClient | undefined;
  if (credential) {
    client = createBusClient({ ...credential, ...insecureHttp(credential.url, flags, io) });
    try {
      const health = await client.health();
      report({ ok: true, label: "bus health", detail: `${credential.url} answers with ${health.count} messages stored` });
    } catch (err) {
      report({ ok: false, label: "bus health", detail: busAdvice(err) });
      exitCode = exitCodeFor(err);
      client = undefined;
    }
  } else {
    report({ ok: false, label: "bus health", detail: "not checked: needs the credential above" });
  }

  // 3 + 4. the command the plugin runs, and the Claude Code plugin
  // Claude Code finds the command on the PATH of the shell that starts it, not on the one npx gives us.
  const command = findExecutable("claude-bus", shellEnv(io.env, io.platform), io.platform);
  const onlyThroughNpm = command === undefined ? findExecutable("claude-bus", io.env, io.platform) : undefined;
  const install = "`npm link` in the clone (or `npm install -g` it), then re-run";
  report(
    command
      ? { ok: true, label: "claude-bus command", detail: `${command} (the plugin's hooks and tools run it)` }
      : {
          ok: false,
          label: "claude-bus command",
          detail: onlyThroughNpm
            ? `only on the PATH npm or npx gave this run (${onlyThroughNpm}), which Claude Code will not have, and the plugin's hooks and tools run it: ${install}`
            : `not on PATH, and the plugin's hooks and tools run it: ${install}`,
        },
  );
  try {
    report(await pluginItem(check, io));
  } catch (err) {
    if (!(err instanceof SettingsError)) throw err;
    report({ ok: false, label: "Claude Code plugin", detail: err.message });
  }

  // 5. an SSH key for the shared drop dir
  report(await sshKeyItem());

  // 6. announce the machine once
  if (client && me) {
    try {
      report(await helloItem(client, me, check));
    } catch (err) {
      if (!(err instanceof BusError || err instanceof AuthError || err instanceof UnreachableError)) throw err;
      const what = check ? `could not check whether ${me} was announced` : `${me} not announced`;
      const rerun = `claude-bus bootstrap${check ? " --check" : ""}`;
      report({ ok: false, label: "hello broadcast", detail: `${what}: ${busAdvice(err)}; re-run \`${rerun}\` when that is fixed` });
      exitCode = exitCodeFor(err);
    }
  } else report({ ok: false, label: "hello broadcast", detail: "not checked: needs a machine name and a working bus" });

  return exitCode;
}

/**
 * Trades the invite code for this machine's own credential. The secret exists only in this process until
 * the credentials item writes it: a code works once, so a lost answer means asking for a new invite.
 */
async function enrollItem(
  code: string,
  url: string | undefined,
  envFile: string,
  flags: ConfigFlags,
  io: Io,
  report: (item: Item) => void,
): Promise<(MachineCredential & { url: string }) | undefined> {
  const label = "invite";
  if (!url) {
    report({ ok: false, label, detail: "no bus URL to enroll with: pass --url URL (claude-bus invite printed it)" });
    return undefined;
  }
  // The secret the code yields is shown once: the file it goes into must be writable before it is asked for.
  const dir = path.dirname(envFile);
  try {
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    await fs.access(dir, fsConstants.W_OK);
  } catch (err) {
    report({ ok: false, label, detail: `${dir} cannot be written (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): fix that first; the code is still unused` });
    return undefined;
  }
  try {
    const credential = await enroll({ url, code, ...insecureHttp(url, flags, io) });
    report({ ok: true, label, detail: `enrolled at ${url} as ${credential.name}, with a credential of its own` });
    return { ...credential, url: url.replace(/\/+$/, "") };
  } catch (err) {
    if (!(err instanceof BusError || err instanceof UnreachableError)) throw err;
    const used =
      err instanceof BusError && err.status === 403
        ? "; a code works once: if this machine used it already, run `claude-bus bootstrap` without --invite; if not, someone else " +
          "may have: ask the team to run `claude-bus revoke NAME`, then `claude-bus invite NAME` again"
        : "";
    report({ ok: false, label, detail: `${busAdvice(err)}${used}` });
    return undefined;
  }
}

interface CredentialInputs {
  check: boolean;
  envFile: string;
  existing?: EnvFileValues;
  existingError?: EnvFileError;
  stack?: Credential;
  flags: ConfigFlags;
  env: NodeJS.ProcessEnv;
  explicitMe?: string;
  platform: NodeJS.Platform;
}

/**
 * Precedence: flags, then stack outputs on stdin (an explicit pipe beats a stale BUS_PASS exported
 * in the shell), then the environment, then the existing file.
 */
async function credentialItem(inputs: CredentialInputs, report: (item: Item) => void): Promise<Credential | undefined> {
  const { check, envFile, existing, existingError, stack, flags, env } = inputs;
  const label = "credentials file";
  const wanted = {
    url: flags.url ?? stack?.url ?? (env.BUS_URL || undefined) ?? existing?.BUS_URL,
    user: flags.user ?? stack?.user ?? (env.BUS_USER || undefined) ?? existing?.BUS_USER,
    pass: stack?.pass ?? (env.BUS_PASS || undefined) ?? existing?.BUS_PASS,
  };
  if (existingError && (check || !wanted.url || !wanted.user || !wanted.pass)) {
    report({ ok: false, label, detail: `${existingError.message}: fix it, or pipe the stack outputs in with --from-stack to replace it` });
    return undefined;
  }
  if (!wanted.url || !wanted.user || !wanted.pass) {
    report({
      ok: false,
      label,
      detail:
        `${envFile} missing and no credential given: run \`pulumi stack output --json --show-secrets | claude-bus bootstrap --from-stack\` ` +
        "in the stack's directory, or set BUS_URL, BUS_USER and BUS_PASS in the environment",
    });
    return undefined;
  }
  let credential: Credential;
  try {
    credential = validateCredential(wanted, "the given credential");
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    report({ ok: false, label, detail: err.message });
    return undefined;
  }
  const me = inputs.explicitMe ?? existing?.BUS_ME;
  const sameValues =
    existing !== undefined &&
    existing.BUS_URL?.replace(/\/+$/, "") === credential.url &&
    existing.BUS_USER === credential.user &&
    existing.BUS_PASS === credential.pass &&
    existing.BUS_ME === me;
  const modes = await modeProblems(envFile, inputs.platform);

  if (check) {
    if (!existing) report({ ok: false, label, detail: `${envFile} missing: run \`claude-bus bootstrap\` to write it` });
    else if (!sameValues) report({ ok: false, label, detail: `${envFile} differs from the given credential: run without --check to update it` });
    else if (modes.length) report({ ok: false, label, detail: `${modes.join(", ")}: run without --check to fix` });
    else report({ ok: true, label, detail: `${envFile} (mode 0600, dir 0700)` });
    return credential;
  }

  if (!sameValues) {
    await writeEnvFile(envFile, renderEnvFile({ BUS_URL: credential.url, BUS_USER: credential.user, BUS_PASS: credential.pass, BUS_ME: me }));
    report({ ok: true, label, detail: `${existing || existingError ? "updated" : "wrote"} ${envFile} (mode 0600, dir 0700)` });
  } else if (modes.length) {
    await fs.chmod(path.dirname(envFile), 0o700); // (modes is empty on Windows, which has no such modes)
    await fs.chmod(envFile, 0o600);
    report({ ok: true, label, detail: `${envFile} unchanged; fixed ${modes.join(", ")}` });
  } else {
    report({ ok: true, label, detail: `${envFile} up to date (mode 0600, dir 0700)` });
  }
  return credential;
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
async function pluginItem(check: boolean, io: Io): Promise<Item> {
  const label = "Claude Code plugin";
  const before = await pluginState();
  if (pluginReady(before)) return { ok: true, label, detail: `${PLUGIN_ID} enabled in ${settingsPath()}` };
  if (check) return { ok: false, label, detail: `${pluginProblems(before).join("; ")}: run \`claude-bus bootstrap\`` };
  const claude = findExecutable("claude", io.env, io.platform);
  const how = await installPlugin(marketplaceRoot(), claude, io.env);
  const legacy = before.legacyHooks > 0 || before.legacyScript ? "; removed the old SessionStart poll hook" : "";
  if (before.marketplaceKnown && before.enabled) return { ok: true, label, detail: `${PLUGIN_ID} already enabled${legacy}` };
  return {
    ok: true,
    label,
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

async function sshKeyItem(): Promise<Item> {
  const label = "SSH key";
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
      label,
      detail:
        `${file}; for the shared drop dir add it to the stack's client keys (next free index N):\n` +
        `    pulumi config set --path 'clientSshKeys[N]' '${key}' && pulumi up`,
    };
  }
  // Only the optional drop dir needs a key: its absence is a warning, not a failed bootstrap.
  return {
    ok: "warning",
    label,
    detail:
      `none in ${path.join(os.homedir(), ".ssh")}; only the shared drop dir needs one: create it with \`ssh-keygen -t ed25519\`, ` +
      "then re-run bootstrap to see where to add it",
  };
}

/** Idempotent by asking the bus itself: my own earlier message tagged `hello` means I was announced. */
async function helloItem(client: BusClient, me: string, check: boolean): Promise<Item> {
  const label = "hello broadcast";
  for await (const message of allMessages(client, { from: me })) {
    if (message.tags.includes(HELLO_TAG)) return { ok: true, label, detail: `${me} already announced (#${message.id}, ${message.ts})` };
  }
  if (check) return { ok: false, label, detail: `${me} not announced yet: run \`claude-bus bootstrap\`` };
  const message = await client.post({
    from: me,
    to: "any",
    body: `hello: ${me} joined the bus (${os.type()} ${os.release()} ${os.arch()}); its Claude Code sessions get bus messages through the claude-bus plugin`,
    tags: [HELLO_TAG, "bootstrap"],
  });
  return { ok: true, label, detail: `posted #${message.id} announcing ${me}` };
}
