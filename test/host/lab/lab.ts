/**
 * One call to stand up the whole lab: cached rootfs → overlay copy → systemd as PID 1 → sshd on loopback,
 * beside an ACME server (Pebble + DNS helper) in a host of its own, given or started here. Everything is
 * undone by `destroy()` (also registered for process exit); a given ACME server outlives the lab.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { type AcmeServer, startAcmeServer } from "./acme";
import { bootHost, createRunDir, type LabHost, reapOrphanedRuns } from "./boot";
import { removeTree } from "./mounts";
import { assertPortsFree } from "./ports";
import { ensureRootfs } from "./rootfs";
import { type LabSsh, sshFiles, waitForSsh } from "./ssh";

/** A name under the reserved .test TLD: never a real domain. */
export const LAB_DOMAIN = "bus.test";

export interface LabOptions {
  /** The fqdn the host answers for (resolved to 127.0.0.1 inside the host and by Pebble's DNS). */
  fqdn: string;
  sshPort?: number;
  /** Further TCP ports the provisioned host will listen on (e.g. the service's loopback port). */
  extraTcpPorts?: Record<number, string>;
  /** The ACME server to use (one that outlives this host); default: one of the lab's own. */
  acme?: AcmeServer;
  log?: (line: string) => void;
}

export interface Lab {
  host: LabHost;
  ssh: LabSsh;
  fqdn: string;
  acme: AcmeServer;
  acmeDirectoryUrl: string;
  /** PEM of the CA that signed Pebble's own TLS certificate: what certbot must trust to talk ACME. */
  acmeServerCa: string;
  /** File on this machine with Pebble's issuing chain, for curl --cacert / CURL_CA_BUNDLE against the bus. */
  issuerChainFile: string;
  destroy(): void;
}

export async function startLab(opts: LabOptions): Promise<Lab> {
  const log = opts.log ?? (() => {});
  const sshPort = opts.sshPort ?? 2222;
  if (process.getuid?.() !== 0) throw new Error("the throwaway host needs root (mount, unshare, pivot_root): run npm run test:host as root");
  reapOrphanedRuns(log);
  assertPortsFree({ 80: "nginx http", 443: "nginx https", [sshPort]: "the host's sshd", ...opts.extraTcpPorts });
  const rootfs = await ensureRootfs(log);
  const acme = opts.acme ?? (await startAcmeServer(rootfs, log));
  const ownAcme = opts.acme ? undefined : acme;

  const runDir = createRunDir();
  let host: LabHost | undefined;
  try {
    // Keys are made before boot and preloaded into the host's overlay.
    const dir = join(runDir, "secrets");
    mkdirSync(dir, { mode: 0o700 });
    const { files: sshdFiles, ssh } = await sshFiles(dir, sshPort);
    const hosts = `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.0.1\t${opts.fqdn}\n`;
    host = await bootHost(rootfs, runDir, [...sshdFiles, { path: "/etc/hosts", content: hosts }], log);
    await waitForSsh(ssh);
    log(`lab ready: ssh -F ${ssh.configFile} claude-bus-lab`);
    const h = host;
    return {
      host: h,
      ssh,
      fqdn: opts.fqdn,
      acme,
      acmeDirectoryUrl: acme.directoryUrl,
      acmeServerCa: acme.serverCa,
      issuerChainFile: acme.issuerChainFile,
      destroy: () => {
        h.destroy();
        ownAcme?.destroy();
      },
    };
  } catch (e) {
    host?.destroy();
    ownAcme?.destroy();
    removeTree(runDir);
    throw e;
  }
}
