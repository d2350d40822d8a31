/**
 * A stand-in for the droplet's data volume: an image file on this machine behind a loop device, whose
 * node the throwaway host gets at the path DigitalOcean's udev rules give a volume
 * (/dev/disk/by-id/scsi-0DO_Volume_<name>). The host has no udev of its own, so the harness makes the
 * node, as the kernel and udev would on a droplet. The image outlives a host: a second host (a replaced
 * droplet) can be given the same volume.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { LabHost } from "./boot";
import { removeTree } from "./mounts";
import { runOk } from "./run";
import { onTeardown } from "./teardown";

export const LAB_VOLUME_NAME = "claude-bus-lab";
/** Where the host's volume step looks for it. */
export const LAB_VOLUME_DEVICE = `/dev/disk/by-id/scsi-0DO_Volume_${LAB_VOLUME_NAME}`;

export interface LabVolume {
  /** The loop device on this machine, e.g. /dev/loop3. */
  loop: string;
  /** Makes the volume's device node in this host, as attaching it to a droplet would. */
  attachTo(host: LabHost): Promise<void>;
}

/** A blank image (no file system: the volume step formats it) of `sizeMiB`, on a free loop device. */
export async function createLabVolume(sizeMiB = 64): Promise<LabVolume> {
  const dir = mkdtempSync(join(tmpdir(), "claude-bus-lab-volume-"));
  const image = join(dir, "volume.img");
  await runOk("truncate", ["-s", `${sizeMiB}M`, image]);
  const loop = (await runOk("losetup", ["--find", "--show", image])).stdout.trim();
  // Detached after every host that mounted it is gone (a busy device is detached when its last user lets go).
  onTeardown(`volume ${loop} (${image})`, () => {
    execFileSync("losetup", ["-d", loop], { stdio: "ignore" });
    removeTree(dir);
  });
  const [major, minor] = (await runOk("lsblk", ["-dno", "MAJ:MIN", loop])).stdout.trim().split(":");
  const name = loop.replace("/dev/", "");
  return {
    loop,
    attachTo: async (host) => {
      await host.exec(`set -e
        mknod -m 660 /dev/${name} b ${major} ${minor}
        mkdir -p /dev/disk/by-id
        ln -sfn ../../${name} ${LAB_VOLUME_DEVICE}`).then((r) => {
        if (r.code !== 0) throw new Error(`could not attach ${loop} to the host: ${r.stderr}`);
      });
    },
  };
}
