/**
 * A stand-in for the droplet's data volume: an image file on this machine behind a loop device, whose
 * node the throwaway host gets at the path DigitalOcean's udev rules give a volume
 * (/dev/disk/by-id/scsi-0DO_Volume_<name>). The host has no udev of its own, so the harness makes the
 * node, as the kernel and udev would on a droplet. The image outlives a host: a second host (a replaced
 * droplet) can be given the same volume.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { VOLUME_LABEL } from "../../../provision/paths";
import type { LabHost } from "./boot";
import { removeTree } from "./mounts";
import { runOk } from "./run";
import { onTeardown } from "./teardown";

export const LAB_VOLUME_NAME = "claude-bus-lab";
/** Where DigitalOcean's udev rules put an attached volume named `name`. */
export const labVolumeDevice = (name: string) => `/dev/disk/by-id/scsi-0DO_Volume_${name}`;
/** Where the host's volume step looks for it. */
export const LAB_VOLUME_DEVICE = labVolumeDevice(LAB_VOLUME_NAME);

export interface LabVolume {
  /** The loop device on this machine, e.g. /dev/loop3. */
  loop: string;
  /** Its by-id path in a host it is attached to. */
  device: string;
  /**
   * Makes the volume's device node in this host, as attaching it to a droplet would. `unreadable`: a node
   * nobody can open, not even root (it lies on a nodev mount: EACCES), for a device the step cannot read.
   */
  attachTo(host: LabHost, opts?: { unreadable?: boolean }): Promise<void>;
  /** sha256 of the whole image, read on this machine. */
  sha256(): string;
}

export interface LabVolumeOptions {
  name?: string;
  sizeMiB?: number;
  /** A directory whose files the new file system holds from the start (mkfs.ext4 -d). */
  contents?: string;
}

/**
 * An image already formatted ext4 with the volume label, as DigitalOcean hands out a volume created with
 * initial_filesystem_type ext4, on a free loop device.
 */
export async function createLabVolume(opts: LabVolumeOptions = {}): Promise<LabVolume> {
  const dir = mkdtempSync(join(tmpdir(), "claude-bus-lab-volume-"));
  const image = join(dir, "volume.img");
  await runOk("truncate", ["-s", `${opts.sizeMiB ?? 128}M`, image]);
  await runOk("mkfs.ext4", ["-q", "-L", VOLUME_LABEL, ...(opts.contents ? ["-d", opts.contents] : []), image]);
  const loop = (await runOk("losetup", ["--find", "--show", image])).stdout.trim();
  // Detached after every host that mounted it is gone (a busy device is detached when its last user lets go).
  onTeardown(`volume ${loop} (${image})`, () => {
    execFileSync("losetup", ["-d", loop], { stdio: "ignore" });
    removeTree(dir);
  });
  const [major, minor] = (await runOk("lsblk", ["-dno", "MAJ:MIN", loop])).stdout.trim().split(":");
  const node = loop.replace("/dev/", "");
  const device = labVolumeDevice(opts.name ?? LAB_VOLUME_NAME);
  return {
    loop,
    device,
    attachTo: async (host, { unreadable = false } = {}) => {
      const dev = unreadable ? `/dev/shm/${node}` : `/dev/${node}`; // /dev/shm is mounted nodev
      const r = await host.exec(`set -e
        mknod -m 660 ${dev} b ${major} ${minor}
        mkdir -p /dev/disk/by-id
        ln -sfn ../..${dev.slice("/dev".length)} ${device}`);
      if (r.code !== 0) throw new Error(`could not attach ${loop} to the host: ${r.stderr}`);
    },
    sha256: () => createHash("sha256").update(readFileSync(image)).digest("hex"),
  };
}
