/**
 * The ACME server the lab's hosts get certificates from: Pebble and its DNS helper in a throwaway host of
 * their own (systemd as PID 1, booted like the bus's host, nothing else running), so that, like Let's
 * Encrypt, it outlives any droplet: a replaced host meets the same CA, and what was ordered before the
 * replacement can be counted after it.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { bootHost, createRunDir, type LabHost, type PrebootFile } from "./boot";
import { ACME_DIRECTORY_URL, pebbleFiles, pebbleIssuerChain, PEBBLE_TCP_PORTS, PEBBLE_UDP_PORTS } from "./pebble";
import { assertPortsFree } from "./ports";
import { runOk, waitFor } from "./run";

export interface AcmeServer {
  host: LabHost;
  directoryUrl: string;
  /** PEM of the CA that signed Pebble's own TLS certificate: what certbot must trust to talk ACME. */
  serverCa: string;
  /** File on this machine with Pebble's issuing chain, for curl --cacert / CURL_CA_BUNDLE against the bus. */
  issuerChainFile: string;
  /** Orders Pebble has taken since it started: its log's "Added order" lines (its only record of them). */
  orders(): Promise<number>;
  destroy(): void;
}

/** Units of the cached image that would bind this machine's ports (nginx 80, sshd 22) or do work nobody asked for. */
const IDLE_UNITS = [
  "nginx.service",
  "ssh.service",
  "ssh.socket",
  "unattended-upgrades.service",
  "certbot.timer",
  "e2scrub_reap.service",
  "logrotate.timer",
  "dpkg-db-backup.timer",
];

export async function startAcmeServer(rootfs: string, log: (line: string) => void = () => {}): Promise<AcmeServer> {
  assertPortsFree(PEBBLE_TCP_PORTS, PEBBLE_UDP_PORTS);
  const runDir = createRunDir();
  const dir = join(runDir, "secrets");
  mkdirSync(dir, { mode: 0o700 });
  const pebble = await pebbleFiles(dir);
  const idle: PrebootFile[] = IDLE_UNITS.map((unit) => ({ path: `/etc/systemd/system/${unit}`, content: "", symlinkTo: "/dev/null" }));
  const host = await bootHost(rootfs, runDir, [...pebble.files, ...idle], log);
  try {
    const listenerCaFile = join(dir, "ca.pem");
    await waitFor(
      "Pebble's ACME directory",
      async () => ((await runOk("curl", ["-sSf", "--cacert", listenerCaFile, ACME_DIRECTORY_URL])).stdout.includes("newOrder") ? true : undefined),
      60000,
      250,
    );
    const issuerChainFile = join(dir, "pebble-issuers.pem");
    writeFileSync(issuerChainFile, await pebbleIssuerChain(listenerCaFile));
    log(`ACME server ready: ${ACME_DIRECTORY_URL}`);
    return {
      host,
      directoryUrl: ACME_DIRECTORY_URL,
      serverCa: pebble.listenerCa,
      issuerChainFile,
      orders: async () => {
        const r = await host.exec("journalctl -u lab-pebble.service --no-pager -o cat | grep -c 'Added order' || true");
        return Number(r.stdout.trim());
      },
      destroy: () => host.destroy(),
    };
  } catch (e) {
    host.destroy();
    throw e;
  }
}
