/** The claude-bus stack: validated config -> service bundle -> Bus -> stack outputs. */
import { buildServiceBundle } from "../provision/bundle";
import { Bus } from "./bus";
import { hostConfigOf, type StackConfig } from "./config";

export async function claudeBusStack(cfg: StackConfig, bundleDir?: string) {
  const host = hostConfigOf(cfg);
  const bundle = await buildServiceBundle(bundleDir);
  const bus = new Bus("claude-bus", {
    host,
    bundle,
    region: cfg.region,
    size: cfg.size,
    image: cfg.image,
    manageDns: cfg.manageDns,
    sshKeyFingerprint: cfg.sshKeyFingerprint,
    sshPublicKey: cfg.sshPublicKey,
    sshPrivateKey: cfg.sshPrivateKey,
    sshAllowedCidrs: cfg.sshAllowedCidrs,
    busPassword: cfg.busPassword,
    rotation: cfg.rotation,
  });
  return {
    busUrl: bus.busUrl,
    fqdn: bus.fqdn,
    ipv4: bus.ipv4,
    ipv6: bus.ipv6,
    busUser: bus.busUser,
    busPassword: bus.busPassword,
    clientEnv: bus.clientEnv,
  };
}
