/**
 * A client on this machine for the provisioned host: HTTPS to 127.0.0.1 with the bus's fqdn as SNI and
 * Host (the fqdn is never put in /etc/hosts), trusting only Pebble's issuing chain. One connection per
 * request, as curl makes, so a reload of nginx is seen the way real clients see it.
 */
import * as http from "node:http";
import * as https from "node:https";
import * as tls from "node:tls";

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface BusEndpoint {
  fqdn: string;
  /** PEM the client trusts (Pebble's root and intermediate). */
  ca: string;
}

export function basic(user: string, pass: string): string {
  return `Basic ${Buffer.from(`${user}:${pass}`).toString("base64")}`;
}

function collect(req: http.ClientRequest, body: string | Buffer | undefined, resolve: (r: Reply) => void, reject: (e: Error) => void, timeoutMs = 15_000) {
  req.on("response", (res) => {
    let data = "";
    res.setEncoding("utf8");
    res.on("data", (c: string) => (data += c));
    res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: data }));
    res.on("error", reject);
  });
  req.on("error", reject);
  req.setTimeout(timeoutMs, () => req.destroy(new Error(`request timed out after ${timeoutMs / 1000} s`)));
  req.end(body);
}

export function httpsRequest(
  ep: BusEndpoint,
  method: string,
  path: string,
  /** `from`: the local address to connect from (another 127.x address is another client to nginx); `bytes`: a raw body. */
  opts: { auth?: string; json?: unknown; bytes?: Buffer; timeoutMs?: number; from?: string } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const body = opts.json === undefined ? opts.bytes : JSON.stringify(opts.json);
    const headers: http.OutgoingHttpHeaders = { Host: ep.fqdn };
    if (opts.auth) headers.Authorization = opts.auth;
    if (opts.json !== undefined) headers["Content-Type"] = "application/json";
    const req = https.request({ host: "127.0.0.1", port: 443, localAddress: opts.from, servername: ep.fqdn, ca: ep.ca, method, path, headers, agent: false });
    collect(req, body, resolve, reject, opts.timeoutMs);
  });
}

/** A GET whose answer is bytes (a backup), over the same TLS as httpsRequest. */
export function httpsDownload(ep: BusEndpoint, path: string, auth: string): Promise<{ status: number; bytes: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = https.request({
      host: "127.0.0.1",
      port: 443,
      servername: ep.fqdn,
      ca: ep.ca,
      method: "GET",
      path,
      headers: { Host: ep.fqdn, Authorization: auth },
      agent: false,
    });
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, bytes: Buffer.concat(chunks) }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.setTimeout(30_000, () => req.destroy(new Error("download timed out after 30 s")));
    req.end();
  });
}

/** Plain HTTP on port 80 (only to see the redirect). */
export function httpGet(fqdn: string, path: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port: 80, method: "GET", path, headers: { Host: fqdn }, agent: false });
    collect(req, undefined, resolve, reject);
  });
}

/** The certificate nginx presents for the fqdn right now (verified against the endpoint's CA). */
export function servedCertificate(ep: BusEndpoint): Promise<tls.PeerCertificate> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: "127.0.0.1", port: 443, servername: ep.fqdn, ca: ep.ca }, () => {
      const cert = socket.getPeerCertificate();
      socket.end();
      resolve(cert);
    });
    socket.on("error", reject);
  });
}
