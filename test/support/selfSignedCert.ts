import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

/** A self-signed P-256 certificate for `fqdn`, valid two days, in dir as certbot lays one out (privkey.pem, fullchain.pem). */
export function selfSignedCert(dir: string, fqdn: string): void {
  fs.mkdirSync(dir, { recursive: true });
  const keys = ["-keyout", path.join(dir, "privkey.pem"), "-out", path.join(dir, "fullchain.pem")];
  const made = spawnSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-days",
      "2",
      ...keys,
      "-subj",
      `/CN=${fqdn}`,
      "-addext",
      `subjectAltName=DNS:${fqdn}`,
    ],
    { encoding: "utf8" },
  );
  if (made.status !== 0) throw new Error(`openssl: ${made.stderr}`);
}
