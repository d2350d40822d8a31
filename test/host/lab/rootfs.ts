/**
 * The throwaway host's Debian root file system (Debian 13 "trixie", the droplet's default image; set
 * CLAUDE_BUS_LAB_SUITE=bookworm for Debian 12): built once with debootstrap, cached outside the clone
 * under a key of everything that goes into it, suite included, and only ever used read-only (runs
 * overlay it). Each suite's image is kept beside the others'.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { removeTree } from "./mounts";
import { runOk } from "./run";

export const CACHE_DIR = process.env.CLAUDE_BUS_LAB_CACHE ?? "/var/cache/claude-bus-lab";
export const SUITE = process.env.CLAUDE_BUS_LAB_SUITE ?? "trixie";
const BASE_INCLUDE = ["systemd", "systemd-sysv", "dbus", "ca-certificates", "curl"];
/**
 * What the provisioning steps install, preinstalled so their own `apt-get install` is a fast no-op,
 * plus what the harness uses inside (pebble, jq). Recommends are kept so any apt flags match.
 */
const PREINSTALLED = [
  "nodejs",
  "nginx",
  "apache2-utils",
  "certbot",
  "python3-certbot-nginx",
  "openssh-server",
  "openssh-sftp-server",
  "pebble",
  "curl",
  "jq",
  "logrotate",
  "ca-certificates",
  "procps",
  "e2fsprogs",
  "unattended-upgrades",
];
/** Bump when the build recipe below changes in a way the lists above do not show. */
const RECIPE_VERSION = 1;

/**
 * The Debian mirror this machine uses, read from its apt sources (deb822 or one-line format): the one
 * that serves SUITE, else the one that serves this machine's own release (a Debian mirror serves every
 * suite; the -security and -updates archives are elsewhere).
 */
export function debianMirror(): string {
  const dirs = ["/etc/apt/sources.list.d"];
  const files = dirs.flatMap((d) => (existsSync(d) ? readdirSync(d).map((f) => join(d, f)) : []));
  if (existsSync("/etc/apt/sources.list")) files.push("/etc/apt/sources.list");
  const found: { uri: string; suite: string }[] = [];
  for (const file of files.filter((f) => f.endsWith(".sources") || f.endsWith(".list"))) {
    const text = readFileSync(file, "utf8");
    // deb822: a stanza with `URIs:` and a `Suites:` line naming the release itself.
    for (const stanza of text.split(/\n\s*\n/)) {
      const uris = /^URIs:\s*(\S+)/m.exec(stanza)?.[1];
      const suites = /^Suites:\s*(.+)$/m.exec(stanza)?.[1].split(/\s+/) ?? [];
      if (uris && /^Types:.*\bdeb\b/m.test(stanza)) for (const suite of suites) found.push({ uri: uris, suite });
    }
    for (const line of text.split("\n")) {
      const m = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/.exec(line.trim());
      if (m) found.push({ uri: m[1], suite: m[2] });
    }
  }
  const release = /^VERSION_CODENAME=(\S+)$/m.exec(existsSync("/etc/os-release") ? readFileSync("/etc/os-release", "utf8") : "")?.[1];
  const mirror = found.find((f) => f.suite === SUITE) ?? found.find((f) => f.suite === release);
  if (mirror) return mirror.uri;
  throw new Error(`no Debian mirror for ${SUITE} (or ${release}) found in /etc/apt/sources.list.d or /etc/apt/sources.list`);
}

/** Where the cached root file system for the current recipe lives (it may not exist yet). */
export function rootfsPath(mirror = debianMirror()): string {
  const key = createHash("sha256").update(JSON.stringify({ RECIPE_VERSION, SUITE, mirror, BASE_INCLUDE, PREINSTALLED })).digest("hex").slice(0, 16);
  return join(CACHE_DIR, `rootfs-${SUITE}-${key}`);
}

/** Returns the cached root file system, building it first when absent (about 2 minutes). */
export async function ensureRootfs(log: (line: string) => void = () => {}): Promise<string> {
  const mirror = debianMirror();
  const target = rootfsPath(mirror);
  if (existsSync(join(target, ".complete"))) return target;
  if (!existsSync("/usr/sbin/debootstrap")) throw new Error("debootstrap is missing: apt-get install -y debootstrap");
  mkdirSync(CACHE_DIR, { recursive: true });
  const building = `${target}.building-${process.pid}`;
  removeTree(building);
  log(`building Debian ${SUITE} rootfs from ${mirror} into ${building}`);
  // In a private mount namespace: whatever debootstrap mounts in the target dies with it, even on failure.
  await runOk(
    "unshare",
    ["--mount", "--propagation", "private", "--fork", "debootstrap", "--variant=minbase", `--include=${BASE_INCLUDE.join(",")}`, SUITE, building, mirror],
    { log },
  );
  // Package scripts must not start daemons while we build: they would run on this machine.
  writeFileSync(join(building, "usr/sbin/policy-rc.d"), "#!/bin/sh\nexit 101\n", { mode: 0o755 });
  writeFileSync(join(building, "etc/resolv.conf"), readFileSync("/etc/resolv.conf"));
  await runOk(
    "unshare",
    [
      "--fork",
      "--pid",
      "--mount",
      "--uts",
      "--propagation",
      "private",
      "--kill-child",
      "bash",
      "-c",
      `set -e
     mount -t proc proc "$1/proc"
     chroot "$1" /usr/bin/env DEBIAN_FRONTEND=noninteractive bash -c 'apt-get update -q && apt-get install -y -q ${PREINSTALLED.join(" ")} && apt-get clean'`,
      "build",
      building,
    ],
    { log },
  );
  rmSync(join(building, "usr/sbin/policy-rc.d"));
  writeFileSync(join(building, "etc/hostname"), "claude-bus-lab\n");
  writeFileSync(join(building, ".complete"), `${new Date().toISOString()}\n`);
  renameSync(building, target);
  // Older recipes' images of this suite are dead weight now; other suites' are another run's.
  for (const entry of readdirSync(CACHE_DIR)) {
    const p = join(CACHE_DIR, entry);
    if (entry.startsWith(`rootfs-${SUITE}-`) && !entry.includes(".building-") && p !== target) removeTree(p);
  }
  log(`rootfs ready: ${target}`);
  return target;
}
