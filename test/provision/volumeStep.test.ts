/**
 * The volume step, run for real on loop devices over image files: real blkid, wipefs, mkfs.ext4 and mount,
 * in a mount namespace of the test's own (so nothing it mounts is seen by this machine), with its fstab and
 * mount points moved into a temp dir. systemctl is the harness's stand-in.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { requireTool } from "../support/requireTool";
import { tempDir } from "../support/tempDir";
import { cfgOf } from "./fixtures";
import { type ScriptRun, fakeSystem, modeOf, stepWith } from "./stepHarness";

const IMAGE_MIB = 64;
let namespace: ChildProcess;
const loops: string[] = [];

const sh = (cmd: string, args: string[]) => {
  const r = spawnSync(requireTool(cmd), args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
};
/** Runs bash inside the test's mount namespace. */
const inNamespace = (script: string, env: NodeJS.ProcessEnv = process.env): ScriptRun => {
  const r = spawnSync("nsenter", ["-t", String(namespace.pid), "-m", "bash", "-c", script], { encoding: "utf8", env });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, changes: `${r.stdout}\n${r.stderr}`.split("\n").filter((l) => l.startsWith("changed: ")) };
};
/** Stand-in SSH host keys in `dir`, marked with `whose`. */
function hostKeys(dir: string, whose: string): void {
  fs.mkdirSync(dir, { recursive: true });
  for (const type of ["ed25519", "ecdsa"]) {
    fs.writeFileSync(path.join(dir, `ssh_host_${type}_key`), `private ${type} key of ${whose}\n`, { mode: 0o600 });
    fs.writeFileSync(path.join(dir, `ssh_host_${type}_key.pub`), `ssh-${type} AAAA${whose} root@${whose}\n`, { mode: 0o644 });
  }
}
const sha256 = (file: string) => createHash("sha256").update(fs.readFileSync(file)).digest("hex");

beforeAll(() => {
  for (const tool of ["losetup", "blkid", "wipefs", "mkfs.ext4", "unshare", "nsenter"]) requireTool(tool);
  // A mount namespace that lives as long as this file's tests: its mounts go with it.
  namespace = spawn("unshare", ["--mount", "--propagation", "private", "sleep", "infinity"], { stdio: "ignore" });
});
afterAll(() => {
  namespace.kill("SIGKILL");
  for (const loop of loops) spawnSync("losetup", ["-d", loop]);
});

/** An image file of IMAGE_MIB on a loop device; `prepare` shapes the image before it is attached. */
function volumeImage(dir: string, prepare: (image: string) => void = () => {}): { image: string; loop: string } {
  const image = path.join(dir, "volume.img");
  sh("truncate", ["-s", `${IMAGE_MIB}M`, image]);
  prepare(image);
  const loop = sh("losetup", ["--find", "--show", image]).trim();
  loops.push(loop);
  return { image, loop };
}

/** An ext4 image holding what a bus leaves on its volume (a data dir with bus.jsonl, a drop dir with a file). */
function busVolume(image: string): void {
  const content = tempDir("volume-content");
  fs.mkdirSync(path.join(content, "data"));
  fs.mkdirSync(path.join(content, "files"));
  fs.writeFileSync(path.join(content, "data", "bus.jsonl"), '{"id":1,"body":"kept"}\n');
  fs.writeFileSync(path.join(content, "files", "payload.txt"), "payload\n");
  sh("mkfs.ext4", ["-q", "-L", "claude-bus", "-d", content, image]);
}

describe("the volume step", () => {
  let dir: string;
  let header: { VOLUME_MOUNT: string; VOLUME_TARGETS: string[]; FSTAB: string; LETSENCRYPT_MOUNT_DROPINS: string[]; SSH_DIR: string };
  const IMAGE_FSTAB = "# the image's own fstab\n";
  beforeEach(() => {
    dir = tempDir("volume");
    header = {
      VOLUME_MOUNT: path.join(dir, "mnt"),
      VOLUME_TARGETS: [path.join(dir, "data"), path.join(dir, "files"), path.join(dir, "letsencrypt")],
      FSTAB: path.join(dir, "fstab"),
      LETSENCRYPT_MOUNT_DROPINS: [path.join(dir, "nginx.service.d", "volume.conf")],
      SSH_DIR: path.join(dir, "ssh"),
    };
    fs.writeFileSync(header.FSTAB, IMAGE_FSTAB);
    hostKeys(header.SSH_DIR, "this-host");
  });
  /** The step on `device`; `mount` reads the test's fstab. */
  const run = (device: string) => {
    const { env } = fakeSystem(dir, { mount: `exec /usr/bin/mount -T ${header.FSTAB} "$@"` });
    return inNamespace(stepWith("volume", cfgOf({ volume: { device: "/dev/overridden" } }), { ...header, VOLUME_DEVICE: device }), env);
  };
  const uuidOf = (device: string) => sh("blkid", ["-p", "-s", "UUID", "-o", "value", device]).trim();

  it("formats a blank device once, mounts it by UUID with the dirs on it, and a second run changes nothing", () => {
    const { loop } = volumeImage(dir);
    const first = run(loop);
    expect(first.stderr).toBe("");
    expect(first.status).toBe(0);
    expect(first.changes[0]).toBe(`changed: formatted ${loop} as ext4 (it was blank)`);
    const uuid = uuidOf(loop);
    expect(sh("blkid", ["-p", "-s", "LABEL", "-o", "value", loop])).toBe("claude-bus\n");
    expect(fs.readFileSync(header.FSTAB, "utf8")).toContain(`${IMAGE_FSTAB}# claude-bus volume: begin`);
    expect(fs.readFileSync(header.FSTAB, "utf8")).toContain(`\nUUID=${uuid} ${header.VOLUME_MOUNT} ext4 defaults,nofail,noatime,discard 0 2\n`);
    expect(inNamespace(`findmnt -no SOURCE ${header.VOLUME_MOUNT}; for t in ${header.VOLUME_TARGETS.join(" ")}; do findmnt -no FSROOT "$t"; done`).stdout).toBe(
      `${loop}\n/data\n/files\n/letsencrypt\n`,
    );
    expect(first.stdout.trimEnd().split("\n").pop()).toBe("host key: ssh-ed25519 AAAAthis-host");

    const second = run(loop);
    expect(second.status).toBe(0);
    expect(second.changes).toEqual([]);
    expect(uuidOf(loop)).toBe(uuid);
  });

  it("changes nothing on a volume that already holds the bus: no format, no move, its files as they were", () => {
    const { loop } = volumeImage(dir, busVolume);
    const uuid = uuidOf(loop);
    const r = run(loop);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.changes.filter((c) => /formatted|moved/.test(c))).toEqual([]);
    expect(uuidOf(loop)).toBe(uuid);
    expect(inNamespace(`cat ${header.VOLUME_TARGETS[0]}/bus.jsonl ${header.VOLUME_TARGETS[1]}/payload.txt`).stdout).toBe('{"id":1,"body":"kept"}\npayload\n');
  });

  it("keeps what makes the host itself: the first host's certificates and SSH host keys go onto the volume, a later host takes them", () => {
    const { loop } = volumeImage(dir);
    const letsencrypt = header.VOLUME_TARGETS[2];
    fs.mkdirSync(path.join(letsencrypt, "live", "bus.example.com"), { recursive: true });
    fs.writeFileSync(path.join(letsencrypt, "live", "bus.example.com", "fullchain.pem"), "the first host's certificate\n");
    const first = run(loop);
    expect(first.stderr).toBe("");
    expect(first.changes).toEqual(
      expect.arrayContaining([`changed: copied ${letsencrypt} onto the volume`, "changed: saved this host's SSH host keys on the volume"]),
    );
    expect(fs.readFileSync(header.LETSENCRYPT_MOUNT_DROPINS[0], "utf8")).toContain(`RequiresMountsFor=/etc/letsencrypt\n`);
    inNamespace(`umount ${header.VOLUME_TARGETS.join(" ")} ${header.VOLUME_MOUNT}`);

    // A replaced droplet: a root disk of its own (its own host keys, certbot's package files), the same volume.
    const second = path.join(dir, "second");
    const fresh = {
      ...header,
      VOLUME_MOUNT: path.join(second, "mnt"),
      FSTAB: path.join(second, "fstab"),
      SSH_DIR: path.join(second, "ssh"),
      VOLUME_TARGETS: ["data", "files", "letsencrypt"].map((d) => path.join(second, d)),
    };
    fs.mkdirSync(fresh.VOLUME_TARGETS[2], { recursive: true });
    fs.writeFileSync(path.join(fresh.VOLUME_TARGETS[2], "cli.ini"), "# certbot's package default\n");
    fs.writeFileSync(fresh.FSTAB, IMAGE_FSTAB);
    hostKeys(fresh.SSH_DIR, "new-droplet");
    const { env } = fakeSystem(second, { mount: `exec /usr/bin/mount -T ${fresh.FSTAB} "$@"` });
    const replaced = inNamespace(stepWith("volume", cfgOf({ volume: { device: "/dev/overridden" } }), { ...fresh, VOLUME_DEVICE: loop }), env);
    expect(replaced.stderr).toBe("");
    expect(replaced.status).toBe(0);
    expect(replaced.changes).toEqual(expect.arrayContaining(["changed: reloaded ssh"]));
    expect(replaced.changes.filter((c) => /formatted|moved|copied|saved/.test(c))).toEqual([]);
    expect(fs.readFileSync(path.join(fresh.SSH_DIR, "ssh_host_ed25519_key"), "utf8")).toBe("private ed25519 key of this-host\n");
    expect(modeOf(path.join(fresh.SSH_DIR, "ssh_host_ed25519_key"))).toBe("600");
    expect(replaced.stdout.trimEnd().split("\n").pop()).toBe("host key: ssh-ed25519 AAAAthis-host");
    expect(inNamespace(`cat ${fresh.VOLUME_TARGETS[2]}/live/bus.example.com/fullchain.pem; ls ${fresh.VOLUME_TARGETS[2]}`).stdout).toBe(
      "the first host's certificate\nlive\n",
    );
    expect(fs.readFileSync(path.join(second, "calls.log"), "utf8")).toContain("systemctl try-reload-or-restart ssh\n");
    inNamespace(`umount ${fresh.VOLUME_TARGETS.join(" ")} ${fresh.VOLUME_MOUNT}`);
  });

  it("never formats a device that holds data but no signature (an ext4 whose magic was lost): it stops and says why", () => {
    const { image, loop } = volumeImage(dir, (img) => {
      busVolume(img);
      sh("wipefs", ["-a", "-q", img]); // only the superblock's magic goes: every file's bytes stay
    });
    expect(spawnSync("blkid", ["-p", loop]).status).toBe(2); // what blkid alone took for a blank volume
    const before = sha256(image);
    const r = run(loop);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`${loop} has no file system, but its first 16 MiB are not blank: it may hold data, so it is left untouched`);
    expect(r.changes).toEqual([]);
    expect(sha256(image)).toBe(before);
    expect(fs.readFileSync(header.FSTAB, "utf8")).toBe(IMAGE_FSTAB);
  });

  it("stops on a device it cannot read, saying so, and formats and changes nothing", () => {
    // A block device node no driver answers: open() fails with ENXIO, and blkid -p exits 2 for it, as for a blank one.
    const device = path.join(dir, "unreadable");
    sh("mknod", [device, "b", "200", "7"]);
    expect(spawnSync("blkid", ["-p", device]).status).toBe(2);
    const r = run(device);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^cannot read ${device} \\(cmp exit 2\\): nothing was formatted or changed`));
    expect(r.changes).toEqual([]);
    expect(fs.readFileSync(header.FSTAB, "utf8")).toBe(IMAGE_FSTAB);
  });

  it("leaves a device holding another file system untouched", () => {
    const { image, loop } = volumeImage(dir, (img) => sh("mkswap", ["-q", img]));
    const before = sha256(image);
    const r = run(loop);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`${loop} holds a swap file system, not ext4: it is left untouched`);
    expect(sha256(image)).toBe(before);
  });
});
