/**
 * Off-host backups (stack config `backups`): a private Spaces bucket and a Spaces key that may read
 * and write that bucket alone. The host's daily timer (provision/steps/backups.sh) uploads there with
 * the key, which travels to the host only as the secret stdin of the backups step and leaves the stack
 * only as the secret `backupEnv` output (the file `claude-bus restore --from-s3` reads).
 */
import * as digitalocean from "@pulumi/digitalocean";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { renderBackupTarget } from "../contract/backupTarget";

export interface BackupStorageArgs {
  /** The Spaces region of the bucket; another region than the droplet's survives a regional outage. */
  region: string;
  /** Let `pulumi destroy` delete the bucket (it must be empty: forceDestroy stays off). */
  allowDataDestroy: boolean;
}

export interface BackupStorage {
  bucket: digitalocean.SpacesBucket;
  key: digitalocean.SpacesKey;
  /** The backup target env file's text (contract/backupTarget.ts): a secret. */
  env: pulumi.Output<string>;
}

/**
 * Bucket names are global across every DigitalOcean customer and fixed once made (a new name is a new
 * bucket): the stack's name and a random suffix, drawn once and kept in the state. At most 63 characters.
 */
function bucketName(stack: string, suffix: string): string {
  const base = `claude-bus-${stack.toLowerCase().replace(/[^a-z0-9-]/g, "-")}`.slice(0, 63 - "-backups-".length - suffix.length).replace(/-+$/, "");
  return `${base}-backups-${suffix}`;
}

export function backupStorage(name: string, args: BackupStorageArgs, opts: pulumi.CustomResourceOptions): BackupStorage {
  const suffix = new random.RandomId(`${name}-backup-bucket-suffix`, { byteLength: 4 }, opts);
  const bucket = new digitalocean.SpacesBucket(
    `${name}-backup-bucket`,
    { name: suffix.hex.apply((hex) => bucketName(pulumi.getStack(), hex)), region: args.region, acl: "private", forceDestroy: false },
    { ...opts, protect: !args.allowDataDestroy },
  );
  // readwrite on this bucket only: list, read, write and delete its objects (pruning), nothing else.
  const key = new digitalocean.SpacesKey(
    `${name}-backup-key`,
    { name: pulumi.interpolate`${bucket.name}-writer`, grants: [{ bucket: bucket.name, permission: "readwrite" }] },
    opts,
  );
  const env = pulumi.secret(
    pulumi.all([bucket.endpoint, bucket.region, bucket.name, key.accessKey, key.secretKey]).apply(([endpoint, region, bucketName, id, secret]) =>
      renderBackupTarget({
        BACKUP_S3_ENDPOINT: `https://${endpoint}`,
        BACKUP_S3_REGION: region ?? args.region,
        BACKUP_S3_BUCKET: bucketName,
        BACKUP_S3_ACCESS_KEY_ID: id,
        BACKUP_S3_SECRET_ACCESS_KEY: secret,
      }),
    ),
  );
  return { bucket, key, env };
}
