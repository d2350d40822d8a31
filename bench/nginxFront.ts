/**
 * The rendered nginx site (provision/render/nginx.ts) in front of a bus, for the bench: TLS with a
 * self-signed certificate, in a temp prefix on spare loopback ports, as test/provision/scratchNginx.ts
 * runs it for the tests. Null when nginx or openssl is not installed.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { parseHostConfig } from "../provision/config";
import { ACCESS_LOG, ACME_WEBROOT, ERROR_LOG, certDir } from "../provision/paths";
import { renderNginxSite } from "../provision/render/nginx";
import { selfSignedCert } from "../test/support/selfSignedCert";

export interface NginxFront {
  /** The bus's URL through nginx, and the curl options that reach it (name resolution, the CA). */
  url: string;
  curlOptions: string[];
  stop(): Promise<void>;
}

const installed = (tool: string) => spawnSync("sh", ["-c", 'command -v "$1"', "sh", tool]).status === 0;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer().once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export async function nginxFront(dir: string, servicePort: number, maxFileMiB: number): Promise<NginxFront | null> {
  if (!installed("nginx") || !installed("openssl")) return null;
  const cfg = parseHostConfig({
    domain: "example.com",
    acmeEmail: "bench@example.com",
    servicePort,
    ipv6: false,
    maxFileMiB,
    rateLimit: { perSecond: 10_000, burst: 10_000 },
  });
  fs.chmodSync(dir, 0o755);
  const cert = path.join(dir, "cert");
  selfSignedCert(cert, cfg.fqdn);
  const [http, https] = [await freePort(), await freePort()];
  const site = renderNginxSite(cfg)
    .split(certDir(cfg.fqdn))
    .join(cert)
    .split(ACCESS_LOG)
    .join(path.join(dir, "access.log"))
    .split(ERROR_LOG)
    .join(path.join(dir, "error.log"))
    .split(ACME_WEBROOT)
    .join(path.join(dir, "webroot"))
    .replace(/listen 80;/g, `listen 127.0.0.1:${http};`)
    .replace(/listen 443 /g, `listen 127.0.0.1:${https} `);
  fs.writeFileSync(path.join(dir, "site.conf"), site);
  const temp = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map((t) => `  ${t}_temp_path ${path.join(dir, t)};`).join("\n");
  fs.writeFileSync(
    path.join(dir, "nginx.conf"),
    `pid ${dir}/nginx.pid;\nerror_log ${dir}/main-error.log;\ndaemon off;\nevents { worker_connections 512; }\nhttp {\n  include /etc/nginx/mime.types;\n  access_log off;\n${temp}\n  include ${dir}/site.conf;\n}\n`,
  );
  const child: ChildProcess = spawn("nginx", ["-e", path.join(dir, "startup-error.log"), "-p", dir, "-c", path.join(dir, "nginx.conf")], { stdio: "ignore" });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  for (let tries = 0; ; tries++) {
    const up = await new Promise<boolean>((resolve) =>
      net
        .connect(https, "127.0.0.1")
        .once("connect", function (this: net.Socket) {
          this.destroy();
          resolve(true);
        })
        .once("error", () => resolve(false)),
    );
    if (up) break;
    if (tries > 100) throw new Error(`nginx did not start: ${fs.readFileSync(path.join(dir, "startup-error.log"), "utf8")}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    url: `https://${cfg.fqdn}:${https}`,
    curlOptions: ["--resolve", `${cfg.fqdn}:${https}:127.0.0.1`, "--cacert", path.join(cert, "fullchain.pem")],
    async stop() {
      child.kill("SIGQUIT");
      await exited;
    },
  };
}
