/**
 * Boots systemd as PID 1 in a throwaway copy of the cached rootfs (LAB.md's recipe, hardened below):
 * private PID, mount, UTS, IPC and cgroup namespaces, an overlay over the read-only cache so runs never
 * touch it, private tmpfs on /run and /tmp. The network namespace is this machine's. Stopped only by
 * kill -9 of its PID 1, never asked to shut down.
 */
import { spawn } from "node:child_process";
import {
  chmodSync,
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  rmdirSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";
import { CACHE_DIR } from "./rootfs";
import { removeTree } from "./mounts";
import { run, type RunOptions, type RunResult, waitFor } from "./run";
import { onTeardown } from "./teardown";

export interface LabHost {
  /** PID (in this machine's namespace) of the host's systemd. */
  pid1: number;
  /** Per-run directory outside the clone: overlay layers, keys, logs. Deleted at teardown. */
  runDir: string;
  /** Runs a bash script as root inside the host (not over SSH: for harness plumbing only). */
  exec(script: string, opts?: Pick<RunOptions, "input" | "log">): Promise<RunResult>;
  readFile(path: string): string;
  /** Kills the host and removes everything the run created; idempotent and synchronous. */
  destroy(): void;
}

/**
 * Runs as root on this machine; $1 = cached rootfs, $2 = run dir, $3 = the run's own cgroup (v2).
 * Departures from LAB.md's recipe, each because the shared kernel objects were changed otherwise:
 * - its own cgroup namespace with cgroup2 at /sys/fs/cgroup: systemd on this machine's hybrid tmpfs
 *   remounted that shared tmpfs read-only and created controller dirs in it;
 * - /sys and /proc/sys read-only (as systemd-nspawn does): no sysctl or udev from inside;
 * - a private /dev with the few nodes a server needs: systemd made /dev/log and VTs in this machine's devtmpfs;
 * - pivot_root instead of chroot, so the units' PrivateUsers= works as on a real machine.
 */
const BOOT_SCRIPT = `set -e
echo $$ > "$3/cgroup.procs"
exec unshare --cgroup --fork --pid --mount --uts --ipc --propagation private --kill-child bash -c '
set -e
lower=$1 run=$2; R=$run/root
mount -t overlay overlay -o "lowerdir=$lower,upperdir=$run/upper,workdir=$run/work" "$R"
mount --bind "$R" "$R"            # without this every sandboxed unit fails 226/NAMESPACE
mount -t proc proc "$R/proc"
mount --bind "$R/proc/sys" "$R/proc/sys"
mount -o remount,bind,ro "$R/proc/sys"
mount --rbind /sys "$R/sys"
mount -o remount,bind,ro "$R/sys"
mount -t cgroup2 cgroup2 "$R/sys/fs/cgroup"
mount -t tmpfs -o mode=755,nosuid tmpfs "$R/dev"
for n in null zero full random urandom tty; do touch "$R/dev/$n"; mount --bind "/dev/$n" "$R/dev/$n"; done
touch "$R/dev/console"; mount --bind /dev/null "$R/dev/console"
mkdir "$R/dev/pts" "$R/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts "$R/dev/pts"
ln -s pts/ptmx "$R/dev/ptmx"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$R/dev/shm"
ln -s /proc/self/fd "$R/dev/fd"; ln -s /proc/self/fd/0 "$R/dev/stdin"; ln -s /proc/self/fd/1 "$R/dev/stdout"; ln -s /proc/self/fd/2 "$R/dev/stderr"
mount -t tmpfs tmpfs "$R/run"
mount -t tmpfs tmpfs "$R/tmp"     # never let the host tmpfiles rules see this machine /tmp
cp /etc/resolv.conf "$R/etc/resolv.conf"
# pivot_root, not chroot: the kernel refuses user namespaces (PrivateUsers=) to chrooted processes.
cd "$R"
pivot_root . .
umount -l .
cd /
export container=lab
exec /lib/systemd/systemd --system' boot "$1" "$2"`;

/**
 * Units that must not run in a host sharing this machine's kernel: module loading, binfmt, kernel file
 * systems, udev (it would re-trigger this machine's devices), apt's timers (they would race the
 * provisioning apt-get), gettys and logind (VTs on the console).
 */
const MASKED_UNITS = [
  "systemd-udevd.service",
  "systemd-udev-trigger.service",
  "systemd-udev-settle.service",
  "systemd-udevd-control.socket",
  "systemd-udevd-kernel.socket",
  "systemd-sysctl.service",
  "systemd-modules-load.service",
  "kmod-static-nodes.service",
  "systemd-binfmt.service",
  "proc-sys-fs-binfmt_misc.automount",
  "sys-kernel-debug.mount",
  "sys-kernel-tracing.mount",
  "sys-kernel-config.mount",
  "sys-fs-fuse-connections.mount",
  "systemd-timesyncd.service",
  "systemd-logind.service",
  "apt-daily.timer",
  "apt-daily-upgrade.timer",
  "man-db.timer",
  "e2scrub_all.timer",
  "fstrim.timer",
  "console-getty.service",
  "getty@tty1.service",
  "getty.target",
];

/** The cgroup v2 mount on this machine: the run's cgroup is made below it. */
function cgroup2Root(): string {
  const line = readFileSync("/proc/self/mounts", "utf8")
    .split("\n")
    .find((l) => l.split(" ")[2] === "cgroup2");
  if (!line) throw new Error("no cgroup2 file system is mounted on this machine; the throwaway host needs one");
  return line.split(" ")[1];
}

/** A file placed in the host's root before it boots (into the overlay's upper layer). */
export interface PrebootFile {
  path: string;
  content: string | Buffer;
  mode?: number;
  /** Make a symlink to this target instead of a file (content is ignored). */
  symlinkTo?: string;
}

/** Start time (field 22 of /proc/PID/stat) of a live process, so a recycled PID is never mistaken for ours; undefined once it has exited. */
function startTime(pid: number): string | undefined {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    return fields[0] === "Z" || fields[0] === "X" ? undefined : fields[19];
  } catch {
    return undefined;
  }
}

const pause = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/**
 * kill -9 of the namespace's init (unshare's only child): the kernel then kills everything in the PID
 * namespace and the mount namespace goes with its last process. Waits for unshare to exit.
 */
function killNamespace(unsharePid: number): void {
  let children: string[] = [];
  try {
    children = readFileSync(`/proc/${unsharePid}/task/${unsharePid}/children`, "utf8").trim().split(/\s+/).filter(Boolean);
  } catch {
    return; // already gone
  }
  for (const child of children) process.kill(Number(child), "SIGKILL");
  if (children.length === 0) process.kill(unsharePid, "SIGKILL");
  const deadline = Date.now() + 20000;
  while (startTime(unsharePid) !== undefined && Date.now() < deadline) pause(50);
}

/** Removes a cgroup tree bottom-up (each dir must be empty of processes: it is, once PID 1 is dead). */
function removeCgroupTree(dir: string): void {
  if (!existsSync(dir)) return;
  for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) removeCgroupTree(join(dir, e.name));
  for (let i = 0; i < 100; i++) {
    try {
      rmdirSync(dir);
      return;
    } catch (e) {
      if (i === 99) throw e;
      pause(50);
    }
  }
}

/** Who made a run (so a later run can tell an orphan from a run in progress) and what to kill. */
interface RunOwner {
  ownerPid: number;
  ownerStart: string;
  unsharePid: number;
  unshareStart: string | undefined;
  cgroup: string;
}

/**
 * Kills and removes hosts whose test process died without tearing down (SIGKILL, a CI timeout): they
 * would hold this machine's ports 80/443. A run whose owner is still alive is left alone.
 */
export function reapOrphanedRuns(log: (l: string) => void = () => {}): void {
  const runs = join(CACHE_DIR, "runs");
  if (!existsSync(runs)) return;
  for (const entry of readdirSync(runs)) {
    const runDir = join(runs, entry);
    let o: RunOwner;
    try {
      o = JSON.parse(readFileSync(join(runDir, "owner.json"), "utf8"));
    } catch {
      continue; // not booted by bootHost (or still being written): never guess
    }
    if (startTime(o.ownerPid) === o.ownerStart) continue;
    log(`reaping orphaned lab run ${runDir} (its test process ${o.ownerPid} is gone)`);
    if (o.unshareStart && startTime(o.unsharePid) === o.unshareStart) killNamespace(o.unsharePid);
    removeCgroupTree(o.cgroup);
    removeTree(runDir);
  }
}

/** Dirs made in the upper layer take the lower layer's mode (overlayfs shows the upper's: /root stays 0700). */
function copyDirModes(upper: string, lower: string, rel = ""): void {
  for (const e of readdirSync(join(upper, rel), { withFileTypes: true })) {
    if (!e.isDirectory()) continue;
    const r = join(rel, e.name);
    if (existsSync(join(lower, r))) chmodSync(join(upper, r), statSync(join(lower, r)).mode & 0o7777);
    copyDirModes(upper, lower, r);
  }
}

/** A fresh per-run directory outside the clone, removed at teardown whatever happens next. */
export function createRunDir(): string {
  mkdirSync(join(CACHE_DIR, "runs"), { recursive: true });
  const runDir = mkdtempSync(join(CACHE_DIR, "runs", "run-"));
  onTeardown(`run dir ${runDir}`, () => removeTree(runDir));
  return runDir;
}

export async function bootHost(lowerRootfs: string, runDir: string, files: PrebootFile[], log: (l: string) => void = () => {}): Promise<LabHost> {
  for (const d of ["upper", "work", "root"]) mkdirSync(join(runDir, d));
  for (const f of files) {
    const p = join(runDir, "upper", f.path);
    mkdirSync(dirname(p), { recursive: true });
    if (f.symlinkTo) symlinkSync(f.symlinkTo, p);
    else writeFileSync(p, f.content, { mode: f.mode ?? 0o644 });
  }
  mkdirSync(join(runDir, "upper/etc/systemd/system"), { recursive: true });
  for (const unit of MASKED_UNITS) symlinkSync("/dev/null", join(runDir, "upper/etc/systemd/system", unit));
  copyDirModes(join(runDir, "upper"), lowerRootfs);
  const cgroup = join(cgroup2Root(), `claude-bus-lab-${basename(runDir)}`);
  mkdirSync(cgroup);
  const bootLog = openSync(join(runDir, "boot.log"), "a");
  const child = spawn("bash", ["-c", BOOT_SCRIPT, "boot", lowerRootfs, runDir, cgroup], { detached: true, stdio: ["ignore", bootLog, bootLog] });
  closeSync(bootLog);
  child.unref();
  const unsharePid = child.pid!;
  const unshareStart = startTime(unsharePid);
  const owner: RunOwner = { ownerPid: process.pid, ownerStart: startTime(process.pid)!, unsharePid, unshareStart, cgroup };
  writeFileSync(join(runDir, "owner.json"), JSON.stringify(owner));
  let pid1 = 0;
  let destroyed = false;

  const destroy = () => {
    if (destroyed) return;
    destroyed = true;
    if (startTime(unsharePid) === unshareStart) killNamespace(unsharePid);
    removeCgroupTree(cgroup);
    removeTree(runDir);
  };
  onTeardown(`throwaway host ${runDir}`, destroy);

  const nsenter = (args: string[]) => [
    "-t",
    String(pid1),
    "-m",
    "-u",
    "-i",
    "-p",
    "-r",
    "-w",
    "/usr/bin/env",
    "-i",
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME=/root",
    "LANG=C.UTF-8",
    ...args,
  ];
  const host: LabHost = {
    pid1: 0,
    runDir,
    exec: (script, opts = {}) => run("nsenter", nsenter(["/bin/bash", "-c", script]), opts),
    readFile: (path) => readFileSync(`/proc/${pid1}/root${path}`, "utf8"),
    destroy,
  };

  try {
    pid1 = await waitFor(
      "the host's PID 1",
      async () => {
        if (startTime(unsharePid) === undefined) throw new Error(`boot failed: ${readFileSync(join(runDir, "boot.log"), "utf8")}`);
        const r = await run("pgrep", ["-P", String(unsharePid)]);
        const pid = Number(r.stdout.trim().split("\n")[0]);
        return pid > 0 && existsSync(`/proc/${pid}/root/etc`) && readFileSync(`/proc/${pid}/comm`, "utf8").trim() === "systemd" ? pid : undefined;
      },
      20000,
      100,
    );
    host.pid1 = pid1;
    log(`host PID 1 is ${pid1}, run dir ${runDir}`);
    const state = await waitFor(
      "systemctl is-system-running",
      async () => {
        const r = await host.exec("systemctl is-system-running");
        const s = r.stdout.trim();
        return s === "running" || s === "degraded" ? s : undefined;
      },
      120000,
      250,
    );
    log(`host is up (${state})`);
    if (state === "degraded") log((await host.exec("systemctl --failed --no-legend --plain")).stdout.trim());
  } catch (e) {
    destroy();
    throw e;
  }
  return host;
}
