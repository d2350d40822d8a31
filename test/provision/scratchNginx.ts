/**
 * The rendered nginx site in a scratch prefix: the host paths (certificate, logs, webroot)
 * and the listen ports are moved into a temp dir and onto spare loopback ports, so `nginx -t` and a real
 * nginx run without touching this machine's /etc, /var/log or ports 80/443.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import type { HostConfig } from "../../provision/config";
import { ACCESS_LOG, ACME_WEBROOT, ERROR_LOG, certDir } from "../../provision/paths";
import { HTTP2_DIRECTIVE_SINCE, type Http2Style, renderNginxSite } from "../../provision/render/nginx";
import { freePort } from "../support/ports";
import { requireTool } from "../support/requireTool";
import { selfSignedCert } from "../support/selfSignedCert";
import { tempDir } from "../support/tempDir";
import { waitFor } from "../support/waitFor";

export interface ScratchNginx {
  dir: string;
  http: number;
  https: number;
  caFile: string;
  webroot: string;
  site: string;
  /** `nginx -t` on the scratch config: status and output. */
  test(): { status: number | null; output: string };
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** This machine's nginx version, as `nginx -v` says it (e.g. "1.22.1"). */
export function localNginxVersion(): string {
  const said = spawnSync(requireTool("nginx"), ["-v"], { encoding: "utf8" }).stderr;
  const version = /nginx\/([0-9.]+)/.exec(said)?.[1];
  if (!version) throw new Error(`nginx -v said ${JSON.stringify(said)}`);
  return version;
}

/** The site variant this machine's nginx takes, as the nginx step picks it on a host. */
export function localHttp2Style(): Http2Style {
  const [have, since] = [localNginxVersion(), HTTP2_DIRECTIVE_SINCE].map((v) => v.split(".").map(Number));
  const newer = have.map((n, i) => n - since[i]).find((d) => d !== 0) ?? 0;
  return newer >= 0 ? "directive" : "listen";
}

export async function scratchNginx(cfg: HostConfig): Promise<ScratchNginx> {
  requireTool("nginx");
  const dir = tempDir("nginx");
  fs.chmodSync(dir, 0o755); // workers run as nobody and read the webroot per request
  const [http, https] = [await freePort(), await freePort()];
  const certs = path.join(dir, "cert");
  selfSignedCert(certs, cfg.fqdn);
  const webroot = path.join(dir, "webroot");
  fs.mkdirSync(path.join(webroot, ".well-known", "acme-challenge"), { recursive: true });

  const site = renderNginxSite(cfg, localHttp2Style())
    .split(certDir(cfg.fqdn))
    .join(certs)
    .split(ACCESS_LOG)
    .join(path.join(dir, "access.log"))
    .split(ERROR_LOG)
    .join(path.join(dir, "error.log"))
    .split(ACME_WEBROOT)
    .join(webroot)
    .replace(/listen 80;/g, `listen 127.0.0.1:${http};`)
    .replace(/listen 443 /g, `listen 127.0.0.1:${https} `)
    .replace(/listen \[::\]:\d+[^;]*;/g, "");
  fs.writeFileSync(path.join(dir, "site.conf"), site);
  const temp = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map((t) => `  ${t}_temp_path ${path.join(dir, t)};`).join("\n");
  fs.writeFileSync(
    path.join(dir, "nginx.conf"),
    `pid ${dir}/nginx.pid;
error_log ${dir}/main-error.log;
daemon off;
events { worker_connections 512; }
http {
  include /etc/nginx/mime.types;
  access_log off;
${temp}
  include ${dir}/site.conf;
}
`,
  );
  const args = ["-e", path.join(dir, "startup-error.log"), "-p", dir, "-c", path.join(dir, "nginx.conf")];
  let child: ChildProcess | undefined;
  return {
    dir,
    http,
    https,
    caFile: path.join(certs, "fullchain.pem"),
    webroot,
    site,
    test() {
      const r = spawnSync("nginx", ["-t", ...args], { encoding: "utf8" });
      return { status: r.status, output: `${r.stdout}${r.stderr}` };
    },
    async start() {
      child = spawn("nginx", args, { stdio: "ignore" });
      const listening = () =>
        new Promise<boolean>((resolve) => {
          const socket = net.connect(https, "127.0.0.1");
          socket
            .on("connect", () => {
              socket.destroy();
              resolve(true);
            })
            .on("error", () => resolve(false));
        });
      await waitFor(`nginx listening on ${https}`, listening, { timeoutMs: 5000, everyMs: 50 }).catch((err) => {
        throw new Error(`${err.message}\n${fs.readFileSync(path.join(dir, "startup-error.log"), "utf8")}`);
      });
    },
    async stop() {
      if (child && child.exitCode === null) {
        const exited = new Promise((resolve) => child!.once("exit", resolve));
        child.kill("SIGQUIT");
        await exited;
      }
    },
  };
}
