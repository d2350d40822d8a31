/**
 * The data volume: the bus's data dir and the drop dir live on it, not on the droplet's disk, so a
 * replaced droplet gets the same volume and the same messages. Created and formatted once; protected
 * from deletion unless `allowDataDestroy` is on.
 */
import * as digitalocean from "@pulumi/digitalocean";
import type * as pulumi from "@pulumi/pulumi";

export interface VolumeArgs {
  region: string;
  volumeSizeGib: number;
  /** Let `pulumi destroy` (or a change that replaces the volume) delete it, and every message on it. */
  allowDataDestroy: boolean;
}

/**
 * The volume's name, fixed by the stack alone (a name is ForceNew: deriving it from anything a user
 * edits, the domain say, would replace the volume). DigitalOcean allows lowercase letters, digits and
 * '-', starting with a letter, at most 64 characters.
 */
export function volumeNameOf(stack: string): string {
  return `claude-bus-${stack.toLowerCase().replace(/[^a-z0-9-]/g, "-")}`.slice(0, 64).replace(/-+$/, "");
}

/** Where DigitalOcean's udev rules put an attached volume of that name. */
export const volumeDevice = (volumeName: string) => `/dev/disk/by-id/scsi-0DO_Volume_${volumeName}`;

export function dataVolume(
  name: string,
  volumeName: string,
  args: VolumeArgs,
  dropletId: pulumi.Output<number>,
  /** What must be done on the droplet before the volume moves to it (the steps that need no volume). */
  after: pulumi.Resource[],
  opts: pulumi.CustomResourceOptions,
): { volume: digitalocean.Volume; attachment: digitalocean.VolumeAttachment } {
  const volume = new digitalocean.Volume(
    `${name}-data`,
    {
      name: volumeName,
      region: args.region,
      size: args.volumeSizeGib,
      initialFilesystemType: "ext4",
      initialFilesystemLabel: "claude-bus",
      description: "claude-bus data: messages and the drop dir",
    },
    { ...opts, protect: !args.allowDataDestroy },
  );
  // A volume is attached to one droplet at a time: a replaced droplet's attachment goes first, and only
  // once the new droplet is ready for it, so the bus is down for the volume's steps, not for apt.
  const attachment = new digitalocean.VolumeAttachment(
    `${name}-data-attachment`,
    { dropletId, volumeId: volume.id },
    { ...opts, deleteBeforeReplace: true, dependsOn: after },
  );
  return { volume, attachment };
}
