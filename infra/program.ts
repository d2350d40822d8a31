/** The claude-bus stack: validated config -> service bundle -> Bus -> stack outputs. */
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { buildServiceBundle } from "../provision/bundle";
import { Bus } from "./bus";
import { hostConfigOf, type StackConfig } from "./config";
import { volumeDevice, volumeNameOf } from "./volume";

/**
 * A fixed bundle location (not a fresh temp dir) keeps the upload's asset path stable, so an
 * unchanged service shows no diff. dist/ is git-ignored build output.
 */
function defaultBundleDir(): string {
  return path.join(pulumi.runtime.getRootDirectory() || process.cwd(), "dist", "host-bundle");
}

export async function claudeBusStack(cfg: StackConfig, bundleDir = defaultBundleDir()) {
  const volumeName = volumeNameOf(pulumi.getStack());
  const host = hostConfigOf(cfg, volumeDevice(volumeName));
  const bundle = await buildServiceBundle(bundleDir);
  const bus = new Bus("claude-bus", {
    host,
    bundle,
    region: cfg.region,
    size: cfg.size,
    image: cfg.image,
    volumeName,
    volumeSizeGib: cfg.volumeSizeGib,
    allowDataDestroy: cfg.allowDataDestroy,
    alertEmail: cfg.alertEmail ?? cfg.acmeEmail,
    manageDns: cfg.manageDns,
    sshKeyFingerprint: cfg.sshKeyFingerprint,
    sshPublicKey: cfg.sshPublicKey,
    sshPrivateKey: cfg.sshPrivateKey,
    sshAllowedCidrs: cfg.sshAllowedCidrs,
    busPassword: cfg.busPassword,
    rotation: cfg.rotation,
    ...(cfg.backups && { backups: { region: cfg.backupRegion ?? cfg.region, allowDataDestroy: cfg.allowDataDestroy } }),
  });
  return {
    busUrl: bus.busUrl,
    fqdn: bus.fqdn,
    ipv4: bus.ipv4,
    busUser: bus.busUser,
    busPassword: bus.busPassword,
    clientEnv: bus.clientEnv,
    ...(cfg.backups && { backupBucket: bus.backupBucket, backupEnv: bus.backupEnv }),
  };
}
