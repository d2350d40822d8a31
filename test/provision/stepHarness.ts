/**
 * Running lib.sh and the step scripts for real on this machine, on temp paths: systemctl and nginx are
 * stand-ins that record their calls (this machine's own units must not be touched), everything else
 * (install, curl, sed) is the real program.
 */
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { type Header, LIB_SOURCE_LINE, SOURCE_DIRECTIVE, composeScript } from "../../provision/compose";
import type { HostConfig } from "../../provision/config";
import { composeStep, hostStepPlans } from "../../provision/steps";
import { BUNDLE_SHA } from "./fixtures";

export interface ScriptRun {
  status: number | null;
  stdout: string;
  stderr: string;
  /** The `changed: ...` lines, in order. */
  changes: string[];
}

export function runScript(script: string, opts: { input?: string; env?: NodeJS.ProcessEnv } = {}): ScriptRun {
  const r = spawnSync("bash", ["-c", script], { input: opts.input ?? "", encoding: "utf8", env: opts.env ?? process.env });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, changes: r.stdout.split("\n").filter((l) => l.startsWith("changed: ")) };
}

/** runScript without blocking this process: for a script that asks a server this test runs (a DNS-over-HTTPS stand-in). */
export function runScriptAsync(script: string, opts: { env?: NodeJS.ProcessEnv } = {}): Promise<ScriptRun> {
  return new Promise((resolve, reject) => {
    const child = spawn("bash", ["-c", script], { env: opts.env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c));
    child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, stdout, stderr, changes: stdout.split("\n").filter((l) => l.startsWith("changed: ")) }));
  });
}

/** lib.sh followed by `body`, as a step file's text would be composed; the bus unit is "claude-bus-test". */
export const libScript = (body: string, header: Header = {}) =>
  composeScript("test", { SERVICE: "claude-bus-test", ...header }, `${SOURCE_DIRECTIVE}\n${LIB_SOURCE_LINE}\n${body}\n`);

/** The real step `name` for cfg, with some header values replaced (paths moved into a temp dir, say); the unit is "claude-bus-test". */
export function stepWith(name: string, cfg: HostConfig, header: Header): string {
  const plan = hostStepPlans(cfg, { sha256: BUNDLE_SHA }).find((p) => p.name === name);
  if (!plan) throw new Error(`no step ${name}`);
  return composeStep({ ...plan, header: { ...plan.header, SERVICE: "claude-bus-test", ...header } }).script;
}

/**
 * systemctl and nginx stand-ins in `dir`/bin, recording each call as a line of `dir`/calls.log.
 * `systemctl is-active X` succeeds while the file `dir`/active-X exists; `nginx -t` fails while
 * `dir`/nginx-t-fails does; `nginx -v` says it is the version in `dir`/nginx-version (default Debian 13's
 * 1.26.3). Returns the environment that puts them first on PATH.
 */
export function fakeSystem(dir: string, extra: Record<string, string> = {}): { env: NodeJS.ProcessEnv; calls: () => string[] } {
  const bin = path.join(dir, "bin");
  fs.mkdirSync(bin, { recursive: true });
  const log = path.join(dir, "calls.log");
  const tools: Record<string, string> = {
    systemctl: `echo "systemctl $*" >> ${log}
case $1 in
  is-active|is-enabled) [[ -e ${dir}/active-\${@: -1} ]] ;;
  *) exit 0 ;;
esac`,
    nginx: `echo "nginx $*" >> ${log}
if [[ $1 == -v ]]; then echo "nginx version: nginx/$(cat ${dir}/nginx-version 2>/dev/null || echo 1.26.3)" >&2; fi
if [[ $1 == -t && -e ${dir}/nginx-t-fails ]]; then echo "nginx: [emerg] rejected by the test" >&2; exit 1; fi`,
    ...extra,
  };
  for (const [name, body] of Object.entries(tools)) fs.writeFileSync(path.join(bin, name), `#!/bin/bash\n${body}\n`, { mode: 0o755 });
  return {
    env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
    calls: () => (fs.existsSync(log) ? fs.readFileSync(log, "utf8").split("\n").filter(Boolean) : []),
  };
}

export const modeOf = (file: string) => (fs.statSync(file).mode & 0o7777).toString(8);

/** Files a step may leave behind by mistake: temp copies (lib.sh's .claude-bus.XXXXXX). */
export const tempFilesIn = (dir: string) => fs.readdirSync(dir).filter((f) => f.startsWith(".claude-bus."));
