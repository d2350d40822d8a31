/**
 * The claude-bus plugin for Claude Code (plugin/ in this repository, listed by the marketplace at the
 * repository's root): its install state in ~/.claude/settings.json, its install (through the `claude`
 * CLI when it is on PATH, else by writing the two settings keys that `claude plugin install` writes),
 * and the removal of what older versions installed instead: a SessionStart hook running
 * ~/.claude/claude-bus-poll.sh, and that script.
 */
import { spawn } from "node:child_process";
import { existsSync, promises as fs } from "node:fs";
import * as path from "node:path";
import { claudeDir, isObject, objectAt, readSettings, type Settings, settingsPath, writeSettings } from "./claudeSettings";

export const MARKETPLACE = "agent-bus";
export const PLUGIN = "agent-bus";
export const PLUGIN_ID = `${PLUGIN}@${MARKETPLACE}`;
/** What bootstrap installed before the plugin existed. */
export const LEGACY_POLL_SCRIPT = "claude-bus-poll.sh";

/** The directory holding .claude-plugin/marketplace.json: the root of this package (a clone or the npm install). */
export function marketplaceRoot(from = __dirname): string {
  for (let dir = from; path.dirname(dir) !== dir; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, ".claude-plugin", "marketplace.json"))) return dir;
  }
  throw new Error(`no .claude-plugin/marketplace.json above ${from}: this claude-bus installation is incomplete`);
}

export interface PluginState {
  marketplaceKnown: boolean;
  enabled: boolean;
  legacyHooks: number;
  legacyScript: boolean;
}

export async function pluginState(home?: string): Promise<PluginState> {
  const current = await readSettings(settingsPath(home));
  const settings = current?.settings ?? {};
  return {
    marketplaceKnown: MARKETPLACE in objectAt(settings, "extraKnownMarketplaces"),
    enabled: objectAt(settings, "enabledPlugins")[PLUGIN_ID] === true,
    legacyHooks: legacyHookCount(settings),
    legacyScript: existsSync(legacyScriptPath(home)),
  };
}

export const pluginReady = (s: PluginState) => s.marketplaceKnown && s.enabled && s.legacyHooks === 0 && !s.legacyScript;

export function legacyScriptPath(home?: string): string {
  return path.join(claudeDir(home), LEGACY_POLL_SCRIPT);
}

/** Through `claude plugin` when `claude` is given, else the settings keys; then the legacy hook and script go. */
export async function installPlugin(root: string, claude: string | undefined, env: NodeJS.ProcessEnv): Promise<"claude CLI" | "settings"> {
  const before = await pluginState();
  if (claude) {
    if (!before.marketplaceKnown) await runClaude(claude, ["plugin", "marketplace", "add", root], env);
    if (!before.enabled) await runClaude(claude, ["plugin", "install", PLUGIN_ID], env);
  }
  const current = (await readSettings()) ?? { settings: {}, mode: 0o600 };
  let settings = current.settings;
  if (!claude) {
    settings = {
      ...settings,
      extraKnownMarketplaces: { ...objectAt(settings, "extraKnownMarketplaces"), [MARKETPLACE]: { source: { source: "directory", path: root } } },
      enabledPlugins: { ...objectAt(settings, "enabledPlugins"), [PLUGIN_ID]: true },
    };
  }
  settings = withoutLegacyHooks(settings);
  if (JSON.stringify(settings) !== JSON.stringify(current.settings)) await writeSettings(settings, current.mode);
  await fs.rm(legacyScriptPath(), { force: true });
  return claude ? "claude CLI" : "settings";
}

function isLegacy(hook: unknown): boolean {
  return isObject(hook) && String(hook.command ?? "").includes(LEGACY_POLL_SCRIPT);
}

function sessionStartGroups(settings: Settings): unknown[] {
  const groups = objectAt(settings, "hooks").SessionStart ?? [];
  return Array.isArray(groups) ? groups : [];
}

const groupHooks = (group: unknown): unknown[] => (isObject(group) && Array.isArray(group.hooks) ? group.hooks : []);

function legacyHookCount(settings: Settings): number {
  return sessionStartGroups(settings).flatMap(groupHooks).filter(isLegacy).length;
}

/** The settings without the legacy SessionStart hook; a group left empty goes, other hooks and groups stay. */
function withoutLegacyHooks(settings: Settings): Settings {
  if (legacyHookCount(settings) === 0) return settings;
  const kept = sessionStartGroups(settings)
    .map((group) => (groupHooks(group).some(isLegacy) ? { ...(group as object), hooks: groupHooks(group).filter((h) => !isLegacy(h)) } : group))
    .filter((group) => groupHooks(group).length > 0);
  const { SessionStart: _dropped, ...otherEvents } = objectAt(settings, "hooks");
  const hooks = kept.length > 0 ? { ...otherEvents, SessionStart: kept } : otherEvents;
  const { hooks: _old, ...rest } = settings;
  return Object.keys(hooks).length > 0 ? { ...rest, hooks } : rest;
}

/** Runs the claude CLI without the bus password in its environment; a failure says what it printed. */
function runClaude(claude: string, args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  const childEnv = { ...env };
  delete childEnv.BUS_PASS;
  delete childEnv.BUS_PASS_PREVIOUS;
  // npm's claude.cmd on Windows runs only through cmd.exe, which splits unquoted words at spaces
  const viaCmd = /\.(cmd|bat)$/i.test(claude);
  const argv = viaCmd ? args.map((a) => `"${a.replace(/"/g, '""')}"`) : args;
  return new Promise((resolve, reject) => {
    const child = spawn(viaCmd ? `"${claude}"` : claude, argv, { env: childEnv, stdio: ["ignore", "pipe", "pipe"], shell: viaCmd });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("error", (err) => reject(new Error(`${claude} ${args.join(" ")} could not start: ${err.message}`)));
    child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`\`claude ${args.join(" ")}\` failed (exit ${code}): ${out.trim().slice(-500)}`))));
  });
}
