/**
 * Pebble (a real ACME server, from Debian) and its DNS helper, run as units inside the throwaway host.
 * Pebble ships no TLS certificate of its own: we make a CA and a 127.0.0.1 certificate with openssl.
 * HTTP-01 is validated on port 80, so the challenge hits the host's real nginx.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { PrebootFile } from "./boot";
import { runOk } from "./run";

export const PEBBLE_DIR = "/etc/claude-bus-lab/pebble";
export const ACME_DIRECTORY_URL = "https://127.0.0.1:14000/dir";
export const PEBBLE_MANAGEMENT_URL = "https://127.0.0.1:15000";
export const PEBBLE_TCP_PORTS = { 14000: "pebble ACME", 15000: "pebble management", 8055: "pebble-challtestsrv management" };
export const PEBBLE_UDP_PORTS = { 8053: "pebble-challtestsrv DNS" };

/** Makes the CA and server certificate in `dir` (outside the host) and returns the files to preload. */
export async function pebbleFiles(dir: string): Promise<{ files: PrebootFile[]; listenerCa: string }> {
  const o = (...args: string[]) => runOk("openssl", args, { cwd: dir });
  await o(
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
    "-days",
    "2",
    "-subj",
    "/CN=claude-bus lab pebble listener CA",
  );
  await o("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "key.pem", "-out", "cert.csr", "-subj", "/CN=127.0.0.1");
  const ext = "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n";
  await runOk("bash", ["-c", `printf '%s' "$1" > ext.cnf`, "ext", ext], { cwd: dir });
  await o("x509", "-req", "-in", "cert.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "cert.pem", "-days", "2", "-extfile", "ext.cnf");
  const read = (f: string) => readFileSync(join(dir, f));
  const config = {
    pebble: {
      listenAddress: "127.0.0.1:14000",
      managementListenAddress: "127.0.0.1:15000",
      certificate: `${PEBBLE_DIR}/cert.pem`,
      privateKey: `${PEBBLE_DIR}/key.pem`,
      httpPort: 80,
      tlsPort: 443,
      ocspResponderURL: "",
      externalAccountBindingRequired: false,
    },
  };
  const unit = (desc: string, exec: string, env: string[] = []) =>
    `[Unit]\nDescription=${desc} (claude-bus lab)\nAfter=network.target\n\n[Service]\n${env.map((e) => `Environment=${e}\n`).join("")}` +
    `ExecStart=${exec}\nRestart=on-failure\n\n[Install]\nWantedBy=multi-user.target\n`;
  const wants = "/etc/systemd/system/multi-user.target.wants";
  const files: PrebootFile[] = [
    { path: `${PEBBLE_DIR}/cert.pem`, content: read("cert.pem") },
    { path: `${PEBBLE_DIR}/key.pem`, content: read("key.pem"), mode: 0o600 },
    { path: `${PEBBLE_DIR}/pebble.json`, content: JSON.stringify(config, null, 2) },
    {
      path: "/etc/systemd/system/lab-challtestsrv.service",
      // Answers every A query with 127.0.0.1 and no AAAA, so validation reaches nginx on this loopback.
      content: unit(
        "ACME test DNS",
        '/usr/bin/pebble-challtestsrv -defaultIPv4 127.0.0.1 -defaultIPv6 "" -dns01 127.0.0.1:8053 ' +
          '-http01 "" -https01 "" -tlsalpn01 "" -management 127.0.0.1:8055',
      ),
    },
    {
      path: "/etc/systemd/system/lab-pebble.service",
      content: unit("Pebble ACME server", `/usr/bin/pebble -config ${PEBBLE_DIR}/pebble.json -dnsserver 127.0.0.1:8053`, [
        "PEBBLE_VA_NOSLEEP=1",
        "PEBBLE_WFE_NONCEREJECT=0",
      ]).replace("After=network.target", "After=network.target lab-challtestsrv.service\nWants=lab-challtestsrv.service"),
    },
  ];
  // Enabled at boot, like any unit installed with `systemctl enable`.
  for (const u of ["lab-challtestsrv.service", "lab-pebble.service"]) {
    files.push({ path: `${wants}/${u}`, content: "", symlinkTo: `/etc/systemd/system/${u}` });
  }
  return { files, listenerCa: read("ca.pem").toString() };
}

/** Pebble's issuing root and intermediate (new on every Pebble start): what clients trust the bus's cert by. */
export async function pebbleIssuerChain(listenerCaFile: string): Promise<string> {
  const get = async (path: string) => (await runOk("curl", ["-sSf", "--cacert", listenerCaFile, `${PEBBLE_MANAGEMENT_URL}${path}`])).stdout;
  return (await get("/roots/0")) + (await get("/intermediates/0"));
}
