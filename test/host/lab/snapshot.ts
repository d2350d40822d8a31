/**
 * What the lab could leave behind on this machine, captured before and after a run so a test can prove
 * the machine was left as found: mounts, kernel objects shared through /sys, /dev and /proc/sys, the
 * hostname, listening ports, and the lab's own run directories.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { CACHE_DIR } from "./rootfs";

/** Kernel settings systemd's boot (systemd-sysctl) would change if it could reach this machine's /proc/sys. */
const WATCHED_SYSCTLS = [
  "fs/protected_fifos",
  "fs/protected_hardlinks",
  "fs/protected_regular",
  "fs/protected_symlinks",
  "kernel/pid_max",
  "net/ipv4/ip_forward",
  "net/ipv4/conf/all/rp_filter",
  "net/ipv4/conf/default/rp_filter",
];

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

/** Cgroup dirs a systemd would make (or the lab's own), down to a few levels; other tenants' come and go. */
function systemdCgroups(dir: string, depth = 0): string[] {
  if (depth > 3) return [];
  return listDir(dir).flatMap((e) => {
    const p = join(dir, e);
    if (listDir(p).length === 0 && !existsSync(join(p, "cgroup.procs"))) return [];
    const mine = /claude-bus-lab|^init\.scope$|^system\.slice$|^user\.slice$|^machine\.slice$/.test(e) ? [p] : [];
    return [...mine, ...systemdCgroups(p, depth + 1)];
  });
}

export interface MachineSnapshot {
  mounts: string[];
  dev: string[];
  sysFsCgroup: string[];
  cgroups: string[];
  sysctls: Record<string, string>;
  hostname: string;
  listeningTcp: string[];
  labRuns: string[];
}

/** `ports`: the TCP ports the lab uses; others' servers on this machine come and go. */
export function snapshotMachine(ports: number[]): MachineSnapshot {
  const listening = ["/proc/net/tcp", "/proc/net/tcp6"].flatMap((f) =>
    existsSync(f)
      ? readFileSync(f, "utf8")
          .split("\n")
          .slice(1)
          .map((l) => l.trim().split(/\s+/))
          .filter((c) => c[3] === "0A")
          .map((c) => c[1])
      : [],
  );
  return {
    mounts: readFileSync("/proc/self/mounts", "utf8").split("\n").filter(Boolean).sort(),
    dev: listDir("/dev"),
    sysFsCgroup: listDir("/sys/fs/cgroup"),
    cgroups: systemdCgroups("/sys/fs/cgroup"),
    sysctls: Object.fromEntries(WATCHED_SYSCTLS.map((k) => [k, existsSync(`/proc/sys/${k}`) ? readFileSync(`/proc/sys/${k}`, "utf8").trim() : ""])),
    hostname: hostname(),
    listeningTcp: [...new Set(listening)].filter((a) => ports.includes(parseInt(a.split(":")[1], 16))).sort(),
    labRuns: listDir(join(CACHE_DIR, "runs")),
  };
}
