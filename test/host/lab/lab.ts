/**
 * One call to stand up the whole lab: cached rootfs → overlay copy → systemd as PID 1 → sshd on loopback →
 * Pebble + DNS helper. Everything is undone by `destroy()` (also registered for process exit).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { bootHost, createRunDir, LabHost, reapOrphanedRuns } from "./boot";
import { removeTree } from "./mounts";
import { ACME_DIRECTORY_URL, pebbleFiles, pebbleIssuerChain, PEBBLE_TCP_PORTS, PEBBLE_UDP_PORTS } from "./pebble";
import { assertPortsFree } from "./ports";
import { ensureRootfs } from "./rootfs";
import { runOk, waitFor } from "./run";
import { LabSsh, sshFiles, waitForSsh } from "./ssh";

/** A name under the reserved .test TLD: never a real domain. */
export const LAB_DOMAIN = "bus.test";

export interface LabOptions {
  /** The fqdn the host answers for (resolved to 127.0.0.1 inside the host and by Pebble's DNS). */
  fqdn: string;
  sshPort?: number;
  /** Further TCP ports the provisioned host will listen on (e.g. the service's loopback port). */
  extraTcpPorts?: Record<number, string>;
  log?: (line: string) => void;
}

export interface Lab {
  host: LabHost;
  ssh: LabSsh;
  fqdn: string;
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
  assertPortsFree({ 80: "nginx http", 443: "nginx https", [sshPort]: "the host's sshd", ...PEBBLE_TCP_PORTS, ...opts.extraTcpPorts }, PEBBLE_UDP_PORTS);
  const rootfs = await ensureRootfs(log);

  const runDir = createRunDir();
  let host: LabHost | undefined;
  try {
    // Keys and certificates are made before boot and preloaded into the host's overlay.
    const dir = join(runDir, "secrets");
    mkdirSync(dir, { mode: 0o700 });
    const pebble = await pebbleFiles(dir);
    const { files: sshdFiles, ssh } = await sshFiles(dir, sshPort);
    const hosts = `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.0.1\t${opts.fqdn}\n`;
    host = await bootHost(rootfs, runDir, [...pebble.files, ...sshdFiles, { path: "/etc/hosts", content: hosts }], log);
    await waitForSsh(ssh);
    const listenerCaFile = join(dir, "ca.pem");
    await waitFor("Pebble's ACME directory", async () =>
      (await runOk("curl", ["-sSf", "--cacert", listenerCaFile, ACME_DIRECTORY_URL])).stdout.includes("newOrder") ? true : undefined, 60000, 250);
    const chain = await pebbleIssuerChain(listenerCaFile);
    const issuerChainFile = join(dir, "pebble-issuers.pem");
    writeFileSync(issuerChainFile, chain);
    log(`lab ready: ssh -F ${ssh.configFile} claude-bus-lab`);
    const h = host;
    return {
      host: h,
      ssh,
      fqdn: opts.fqdn,
      acmeDirectoryUrl: ACME_DIRECTORY_URL,
      acmeServerCa: pebble.listenerCa,
      issuerChainFile,
      destroy: () => h.destroy(),
    };
  } catch (e) {
    host?.destroy();
    removeTree(runDir);
    throw e;
  }
}
