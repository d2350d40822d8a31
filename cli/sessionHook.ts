/**
 * The seed's session-start poll (section 09) installed for Claude Code: a small POSIX sh script that
 * runs `claude-bus inbox`, and a `SessionStart` hook in ~/.claude/settings.json that runs the script,
 * so its output (the unread messages) lands in the new session's context.
 */
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { writeFileAtomic } from "./atomicWrite";

export const POLL_SCRIPT_NAME = "claude-bus-poll.sh";

export function claudeDir(): string {
  return path.join(os.homedir(), ".claude");
}

export function pollScriptPath(): string {
  return path.join(claudeDir(), POLL_SCRIPT_NAME);
}

export function settingsPath(): string {
  return path.join(claudeDir(), "settings.json");
}

/** Single-quotes a word for POSIX sh. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * The poll script. Absolute node and CLI paths: hooks run without the login shell's PATH (nvm, Homebrew).
 * It always exits 0 so a bus outage never blocks a session; the failure is printed as one line instead.
 */
export function renderPollScript(nodePath: string, cliPath: string, envFile: string): string {
  return [
    "#!/bin/sh",
    "# claude-bus session-start poll, written by `claude-bus bootstrap` (re-running bootstrap rewrites it).",
    "# Prints unread bus messages to this machine as `[ts] from: body` and acks them.",
    // `--`: Node 20 would otherwise take --env-file as its own option.
    `NODE_NO_WARNINGS=1 ${shellQuote(nodePath)} -- ${shellQuote(cliPath)} inbox --env-file ${shellQuote(envFile)} 2>&1 \\`,
    `  || echo "claude-bus: inbox poll failed (exit $?): run \\\`claude-bus bootstrap --check\\\`"`,
    "exit 0",
    "",
  ].join("\n");
}

/** What is on disk compared with what should be. */
export type InstallState = "missing" | "outdated" | "ok";

export async function pollScriptState(expected: string): Promise<InstallState> {
  try {
    const [text, stat] = await Promise.all([fs.readFile(pollScriptPath(), "utf8"), fs.stat(pollScriptPath())]);
    return text === expected && (stat.mode & 0o777) === 0o700 ? "ok" : "outdated";
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return "missing";
    throw err;
  }
}

export async function writePollScript(text: string): Promise<void> {
  await fs.mkdir(claudeDir(), { recursive: true, mode: 0o700 });
  await writeFileAtomic(pollScriptPath(), text, 0o700);
}

// ---- ~/.claude/settings.json ----

interface CommandHook {
  type: "command";
  command: string;
  timeout?: number;
}
interface HookGroup {
  matcher?: string;
  hooks: CommandHook[];
}

/** The hook entry; no matcher, so it runs on every session start (startup, resume, clear, compact). */
export function hookGroup(): HookGroup {
  return { hooks: [{ type: "command", command: shellQuote(pollScriptPath()), timeout: 30 }] };
}

export class SettingsError extends Error {}

type Settings = Record<string, unknown>;

async function readSettings(): Promise<{ settings: Settings; mode: number } | undefined> {
  let text: string;
  let mode: number;
  try {
    [text, mode] = await Promise.all([fs.readFile(settingsPath(), "utf8"), fs.stat(settingsPath()).then((s) => s.mode & 0o777)]);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  let settings: unknown;
  try {
    settings = JSON.parse(text);
  } catch (err) {
    throw new SettingsError(`${settingsPath()} is not valid JSON (${(err as Error).message}): fix it by hand, then re-run`);
  }
  if (typeof settings !== "object" || settings === null || Array.isArray(settings)) {
    throw new SettingsError(`${settingsPath()} is not a JSON object: fix it by hand, then re-run`);
  }
  return { settings: settings as Settings, mode };
}

/** The SessionStart list, or a SettingsError when the file has something else where it should be. */
function sessionStartGroups(settings: Settings): unknown[] {
  const hooks = settings.hooks ?? {};
  if (typeof hooks !== "object" || hooks === null || Array.isArray(hooks)) {
    throw new SettingsError(`${settingsPath()}: "hooks" is not an object: fix it by hand, then re-run`);
  }
  const groups = (hooks as Record<string, unknown>).SessionStart ?? [];
  if (!Array.isArray(groups)) throw new SettingsError(`${settingsPath()}: "hooks.SessionStart" is not a list: fix it by hand, then re-run`);
  return groups;
}

function isOurs(hook: unknown): boolean {
  return typeof hook === "object" && hook !== null && String((hook as CommandHook).command ?? "").includes(POLL_SCRIPT_NAME);
}

function groupHooks(group: unknown): unknown[] {
  const hooks = (group as HookGroup | null)?.hooks;
  return Array.isArray(hooks) ? hooks : [];
}

export async function sessionHookState(): Promise<InstallState> {
  const current = await readSettings();
  if (!current) return "missing";
  const wanted = JSON.stringify(hookGroup());
  const groups = sessionStartGroups(current.settings);
  const ours = groups.flatMap(groupHooks).filter(isOurs).length;
  if (ours === 0) return "missing";
  return ours === 1 && groups.some((g) => JSON.stringify(g) === wanted) ? "ok" : "outdated";
}

/**
 * Adds our SessionStart entry, replacing an older one of ours; every other key, hook and the file's
 * mode are kept. Written atomically so a crash cannot leave Claude Code a half-written settings file.
 */
export async function installSessionHook(): Promise<void> {
  const current = (await readSettings()) ?? { settings: {}, mode: 0o600 };
  const settings = current.settings;
  const others: unknown[] = [];
  for (const group of sessionStartGroups(settings)) {
    const hooks = groupHooks(group);
    if (!hooks.some(isOurs)) others.push(group);
    else if (hooks.some((h) => !isOurs(h))) others.push({ ...(group as HookGroup), hooks: hooks.filter((h) => !isOurs(h)) });
  }
  const hooks = { ...((settings.hooks as Record<string, unknown>) ?? {}), SessionStart: [...others, hookGroup()] };
  await fs.mkdir(claudeDir(), { recursive: true, mode: 0o700 });
  await writeFileAtomic(settingsPath(), JSON.stringify({ ...settings, hooks }, null, 2) + "\n", current.mode);
}
