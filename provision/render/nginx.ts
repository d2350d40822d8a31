/** The nginx site for the bus: plain HTTP only for ACME and the redirect, everything else over TLS. */
import { HTTP_ERRORS, type HttpErrorKind, errorBody } from "../../contract/httpErrors";
import { LIVE_PATH, MAX_WAIT_SECONDS, NGINX_FILE_MARGIN_MIB, NGINX_UPSTREAM_KEEPALIVE_SECONDS, SERVICE_KEEP_ALIVE_SECONDS } from "../../contract/defaults";
import type { HostConfig } from "../config";
import { ACCESS_LOG, ACME_WEBROOT, ERROR_LOG, certDir } from "../paths";

/** Mozilla's "intermediate" TLS profile (ECDHE only, so no dhparam file is needed). */
const MOZILLA_INTERMEDIATE_CIPHERS = [
  "ECDHE-ECDSA-AES128-GCM-SHA256",
  "ECDHE-RSA-AES128-GCM-SHA256",
  "ECDHE-ECDSA-AES256-GCM-SHA384",
  "ECDHE-RSA-AES256-GCM-SHA384",
  "ECDHE-ECDSA-CHACHA20-POLY1305",
  "ECDHE-RSA-CHACHA20-POLY1305",
].join(":");

export const HSTS_HEADER_VALUE = "max-age=63072000";
export const ROBOTS_TXT = "User-agent: *\nDisallow: /\n";

/**
 * nginx's own errors (never the service's: there is no proxy_intercept_errors) by nginx's status,
 * answered with the contract's JSON body for the same error, so a client sees one shape whichever layer
 * answered. Bad input stays a 4xx: nginx's 505 for an unknown HTTP version becomes a 400, its internal
 * 494 (headers too large) a 431.
 */
const NGINX_ERRORS: Array<[nginxStatus: number, answer: HttpErrorKind]> = [
  [400, HTTP_ERRORS.badRequest],
  [404, HTTP_ERRORS.notFound],
  [405, HTTP_ERRORS.methodNotAllowed],
  [413, HTTP_ERRORS.tooLarge],
  [414, HTTP_ERRORS.uriTooLong],
  [429, HTTP_ERRORS.rateLimited],
  [494, HTTP_ERRORS.headersTooLarge],
  [502, HTTP_ERRORS.badGateway],
  [503, HTTP_ERRORS.serviceUnavailable],
  [504, HTTP_ERRORS.gatewayTimeout],
  [505, HTTP_ERRORS.httpVersion],
];

/** Where nginx's own error answers live (internal locations: no client can ask for them). */
const ERROR_URI = "/.claude-bus-error/";

/** An nginx single-quoted string holding `text`, with its newlines as nginx's \n escape. */
const nginxString = (text: string) => `'${text.replace(/\\/g, "\\\\").replace(/'/g, "\\'").replace(/\n/g, "\\n")}'`;

/** How long nginx waits for the service's answer, in seconds: the longest long-poll and then some. */
const PROXY_READ_TIMEOUT_S = MAX_WAIT_SECONDS + 15;

/** Idle connections to the service each nginx worker keeps for reuse (they need HTTP/1.1 and no Connection header). */
const UPSTREAM_KEEPALIVE = 16;

/**
 * How the TLS server turns HTTP/2 on: nginx 1.25.1 and later take the `http2 on;` directive (Debian 13's
 * nginx warns that the `listen ... http2` parameter is deprecated); older ones (Debian 12's 1.22) only know
 * the parameter. The nginx step picks the site for the nginx it finds.
 */
export type Http2Style = "directive" | "listen";
export const HTTP2_DIRECTIVE_SINCE = "1.25.1";

const zoneName = (fqdn: string) => `claude_bus_${fqdn.replace(/[^a-z0-9]/g, "_")}`;

function listen(port: number, cfg: HostConfig, extra = ""): string[] {
  const lines = [`    listen ${port}${extra};`];
  if (cfg.ipv6) lines.push(`    listen [::]:${port}${extra};`);
  return lines;
}

export function renderNginxSite(cfg: HostConfig, http2: Http2Style = "directive"): string {
  const cert = certDir(cfg.fqdn);
  const zone = zoneName(cfg.fqdn);
  return [
    `# Managed by claude-bus provision: local edits are overwritten.`,
    `limit_req_zone $binary_remote_addr zone=${zone}:10m rate=${cfg.rateLimit.perSecond}r/s;`,
    ``,
    `# Connections to the service are kept open and reused, not made anew for every request.`,
    `upstream ${zone}_service {`,
    `    server 127.0.0.1:${cfg.servicePort};`,
    `    keepalive ${UPSTREAM_KEEPALIVE};`,
    `    # Idle ones go before the service would close them (it keeps them ${SERVICE_KEEP_ALIVE_SECONDS} s), so no request is sent on a closing one.`,
    `    keepalive_timeout ${NGINX_UPSTREAM_KEEPALIVE_SECONDS}s;`,
    `}`,
    ``,
    `server {`,
    ...listen(80, cfg),
    `    server_name ${cfg.fqdn};`,
    `    server_tokens off;`,
    `    access_log ${ACCESS_LOG};`,
    `    error_log ${ERROR_LOG};`,
    ``,
    `    # certbot's HTTP-01 challenge (first issuance and every renewal) stays on plain HTTP.`,
    `    location ^~ /.well-known/acme-challenge/ {`,
    `        root ${ACME_WEBROOT};`,
    `        default_type text/plain;`,
    `    }`,
    `    location / {`,
    `        return 301 https://${cfg.fqdn}$request_uri;`,
    `    }`,
    `}`,
    ``,
    `server {`,
    ...listen(443, cfg, http2 === "listen" ? " ssl http2" : " ssl"),
    ...(http2 === "directive" ? [`    http2 on;`] : []),
    `    server_name ${cfg.fqdn};`,
    `    server_tokens off;`,
    `    access_log ${ACCESS_LOG};`,
    `    error_log ${ERROR_LOG};`,
    ``,
    `    ssl_certificate ${cert}/fullchain.pem;`,
    `    ssl_certificate_key ${cert}/privkey.pem;`,
    `    ssl_protocols TLSv1.2 TLSv1.3;`,
    `    ssl_ecdh_curve X25519:prime256v1:secp384r1;`,
    `    ssl_ciphers ${MOZILLA_INTERMEDIATE_CIPHERS};`,
    `    ssl_prefer_server_ciphers off;`,
    `    ssl_session_timeout 1d;`,
    `    ssl_session_cache shared:${zone}_tls:10m;`,
    `    ssl_session_tickets off;`,
    ``,
    // Only server-level add_header: a location with its own add_header would drop these.
    ...(cfg.hsts ? [`    add_header Strict-Transport-Security "${HSTS_HEADER_VALUE}" always;`] : []),
    `    add_header X-Robots-Tag "noindex, nofollow" always;`,
    `    add_header X-Content-Type-Options "nosniff" always;`,
    ``,
    `    client_max_body_size ${cfg.maxBodyKiB}k;`,
    // The service checks the credential: until it has, a body may not touch nginx's disk (nginx spools
    // any body over its buffer to a temp file), so the buffer holds the largest body it takes.
    `    client_body_buffer_size ${cfg.maxBodyKiB}k;`,
    `    limit_req zone=${zone} burst=${cfg.rateLimit.burst} nodelay;`,
    `    limit_req_status 429;`,
    ``,
    // Internal URIs, not named locations: a request whose request line could not be read has no URI,
    // and nginx cannot redirect such a request to a named location (it would answer 500 instead).
    ...NGINX_ERRORS.map(([nginx, { status }]) => `    error_page ${nginx} ${status === nginx ? "" : `=${status} `}${ERROR_URI}${nginx};`),
    ...NGINX_ERRORS.map(
      ([nginx, { status, text }]) =>
        `    location = ${ERROR_URI}${nginx} { internal; default_type application/json; return ${status} ${nginxString(errorBody(text))}; }`,
    ),
    ``,
    `    location = /robots.txt {`,
    `        default_type text/plain;`,
    `        return 200 ${nginxString(ROBOTS_TXT)};`,
    `    }`,
    ``,
    // No auth_basic: the service authenticates every request itself (machines enroll while it runs), and
    // trusts X-Real-IP, the address its failure count blocks, only from loopback: from nginx.
    ...proxyLocation("/", zone),
    ``,
    // The uptime check's target: answered by the service itself, so it sees the service, not just nginx.
    ...proxyLocation(`= ${LIVE_PATH}`, zone),
    ``,
    // POST /files and /files/<sha256>, exactly: the only bodies larger than a message.
    ...proxyLocation("~ ^/files(/|$)", zone, [
      `        # Files: bodies up to the largest file (and a little more, so the service's own 413 names the limit),`,
      `        # streamed to the service as they arrive and back as it sends them, never spooled to nginx's disk.`,
      `        client_max_body_size ${cfg.maxFileMiB + NGINX_FILE_MARGIN_MIB}m;`,
      `        proxy_request_buffering off;`,
      `        proxy_buffering off;`,
    ]),
    `}`,
    ``,
  ].join("\n");
}

/** A location that proxies to the service (`extra` lines first). */
function proxyLocation(match: string, zone: string, extra: string[] = []): string[] {
  return [
    `    location ${match} {`,
    ...extra,
    `        proxy_pass http://${zone}_service;`,
    `        proxy_http_version 1.1;`,
    `        # Longer than the service is ever silent (a long-poll waits up to ${MAX_WAIT_SECONDS} s): nginx never cuts an answer short.`,
    `        proxy_read_timeout ${PROXY_READ_TIMEOUT_S}s;`,
    `        proxy_set_header Connection "";`,
    `        proxy_set_header Host $host;`,
    `        proxy_set_header X-Real-IP $remote_addr;`,
    `        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;`,
    `        proxy_set_header X-Forwarded-Proto https;`,
    `        # nginx adds these for every answer; the service's copies would make them appear twice.`,
    `        proxy_hide_header X-Robots-Tag;`,
    `        proxy_hide_header X-Content-Type-Options;`,
    `    }`,
  ];
}

/** A port-80-only server used once, before the first certificate exists, to answer the HTTP-01 challenge. */
export function renderAcmeBootstrapSite(cfg: HostConfig): string {
  return [
    `# Temporary (claude-bus provision): serves the first ACME challenge, removed once the certificate exists.`,
    `server {`,
    ...listen(80, cfg),
    `    server_name ${cfg.fqdn};`,
    `    server_tokens off;`,
    `    location ^~ /.well-known/acme-challenge/ {`,
    `        root ${ACME_WEBROOT};`,
    `        default_type text/plain;`,
    `    }`,
    `    location / {`,
    `        return 404;`,
    `    }`,
    `}`,
    ``,
  ].join("\n");
}
