import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as https from "node:https";
import * as tls from "node:tls";
import * as http from "node:http";
import * as path from "node:path";
import { MAX_REQUEST_BYTES } from "../../contract/defaults";
import { AUTH_REALM, HTTP_ERRORS } from "../../contract/httpErrors";
import { type RunningBus, startBus } from "../../service/http/server";
import { CONNECTION_TIMEOUTS, serverOptions } from "../../service/http/connections";
import { renderAcmeBootstrapSite, renderNginxSite } from "../../provision/render/nginx";
import { freePort } from "../support/ports";
import { tempDir } from "../support/tempDir";
import { type ScratchNginx, scratchNginx } from "./scratchNginx";
import { GOLDEN_CFG, cfgOf } from "./fixtures";
import { expectGolden } from "./golden";

const PASS = "Test0Password0For0The0Bus000";
/** The largest file of the bus behind the real nginx, in MiB (its nginx site follows it). */
const FILE_MIB = 64;

/** Connections on this machine (one network namespace) to 127.0.0.1:port, by TCP state, from /proc/net/tcp. */
function tcpToPort(port: number): { established: number; timeWait: number } {
  const remote = `0100007F:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  const rows = fs
    .readFileSync("/proc/net/tcp", "utf8")
    .split("\n")
    .slice(1)
    .map((l) => l.trim().split(/\s+/));
  const toPort = rows.filter((c) => c[2] === remote);
  return { established: toPort.filter((c) => c[3] === "01").length, timeWait: toPort.filter((c) => c[3] === "06").length };
}

describe("rendered nginx site", () => {
  const site = renderNginxSite(cfgOf());

  it("is byte for byte the golden file, as is the ACME bootstrap site", () => {
    expectGolden("nginx-site.conf", renderNginxSite(GOLDEN_CFG()));
    expectGolden("acme-bootstrap.conf", renderAcmeBootstrapSite(GOLDEN_CFG()));
  });

  it("answers nginx's own errors with the contract's JSON bodies", () => {
    for (const { status, text } of [HTTP_ERRORS.tooLarge, HTTP_ERRORS.rateLimited, HTTP_ERRORS.badGateway, HTTP_ERRORS.gatewayTimeout]) {
      expect(site).toContain(`    error_page ${status} /.claude-bus-error/${status};\n`);
      expect(site).toContain(
        `    location = /.claude-bus-error/${status} { internal; default_type application/json; return ${status} '{"error":"${text}"}\\n'; }\n`,
      );
    }
    expect(site).toContain(
      `    location = /.claude-bus-error/503 { internal; default_type application/json; return 503 '{"error":"${HTTP_ERRORS.serviceUnavailable.text}"}\\n'; }\n`,
    );
    // Bad input stays a 4xx: nginx's 505 for an unknown HTTP version is answered as a 400.
    expect(site).toContain(`    error_page 505 =400 /.claude-bus-error/505;\n`);
  });

  it("redirects plain HTTP to HTTPS but keeps the ACME challenge on port 80", () => {
    const port80 = site.slice(0, site.indexOf("listen 443"));
    expect(port80).toMatch(/listen 80;\n\s+listen \[::\]:80;/);
    expect(port80).toContain("location ^~ /.well-known/acme-challenge/ {\n        root /var/www/claude-bus-acme;");
    expect(port80).toContain("return 301 https://claude-bus.example.com$request_uri;");
    expect(port80).not.toContain("proxy_pass");
  });

  it("serves TLS with the certbot lineage and Mozilla's intermediate profile", () => {
    // HTTP/2 by the `http2 on;` directive (the listen parameter is deprecated from nginx 1.25.1), and by the
    // listen parameter only in the variant for older nginx.
    expect(site).toContain("    listen 443 ssl;\n    listen [::]:443 ssl;\n    http2 on;\n");
    expect(site).not.toMatch(/listen [^;]*http2/);
    const legacy = renderNginxSite(cfgOf(), "listen");
    expect(legacy).toContain("    listen 443 ssl http2;\n    listen [::]:443 ssl http2;\n    server_name");
    expect(legacy).not.toContain("http2 on;");
    expect(site).toContain("ssl_certificate /etc/letsencrypt/live/claude-bus.example.com/fullchain.pem;");
    expect(site).toContain("ssl_certificate_key /etc/letsencrypt/live/claude-bus.example.com/privkey.pem;");
    expect(site).toContain("ssl_protocols TLSv1.2 TLSv1.3;");
    expect(site).toMatch(/ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:[^;]*CHACHA20-POLY1305;/);
    expect(site).toContain("ssl_prefer_server_ciphers off;");
    expect(site).toContain("ssl_session_tickets off;");
  });

  it("lets an idle connection to the service go before the service would close it", () => {
    const upstream = /upstream [^{]*\{([^}]*)\}/.exec(site)![1];
    const nginxIdle = Number(/keepalive_timeout (\d+)s;/.exec(upstream)?.[1]);
    // The service's own: what its HTTP server is really given.
    const serviceIdle = http.createServer(serverOptions(CONNECTION_TIMEOUTS)).keepAliveTimeout / 1000;
    expect(nginxIdle).toBeGreaterThan(0);
    expect(nginxIdle).toBeLessThan(serviceIdle);
  });

  it("passes GET /live, the uptime check's target, to the service", () => {
    const live = /location = \/live \{([^}]*)\}/.exec(site)?.[1] ?? "";
    expect(live).toContain("proxy_pass http://claude_bus_claude_bus_example_com_service;");
  });

  it("names SPEC's host paths, hides the version and proxies to the service on loopback", () => {
    expect(site.match(/server_name claude-bus\.example\.com;/g)).toHaveLength(2);
    expect(site.match(/server_tokens off;/g)).toHaveLength(2);
    // The service authenticates; nginx passes the address it saw, which the service trusts from loopback only.
    expect(site).not.toContain("auth_basic");
    expect(site).toContain("proxy_set_header X-Real-IP $remote_addr;");
    expect(site).toContain("access_log /var/log/claude-bus-access.log;");
    expect(site).toContain("error_log /var/log/claude-bus-error.log;");
    expect(site).toMatch(
      /upstream (claude_bus_\w+_service) \{\n {4}server 127\.0\.0\.1:8787;\n {4}keepalive \d+;\n.*\n {4}keepalive_timeout \d+s;\n\}[\s\S]*proxy_pass http:\/\/\1;/,
    );
    expect(site).toContain('add_header Strict-Transport-Security "max-age=63072000" always;');
    expect(site).toContain('add_header X-Robots-Tag "noindex, nofollow" always;');
    expect(site).toContain("limit_req_status 429;");
    expect(site).toMatch(/limit_req_zone \$binary_remote_addr zone=(claude_bus_\w+):10m rate=20r\/s;[\s\S]*limit_req zone=\1 burst=100 nodelay;/);
  });

  it("lets every JSON body the service accepts through, and a little more so the service answers 413 itself", () => {
    const kib = Number(/client_max_body_size (\d+)k;/.exec(site)![1]);
    expect(kib * 1024).toBeGreaterThan(MAX_REQUEST_BYTES);
    expect(kib * 1024).toBeLessThanOrEqual(MAX_REQUEST_BYTES + 16 * 1024);
  });

  it("lets files through up to the largest file and a little more, streamed both ways, on /files and /files/ only, and keeps every other body small", () => {
    const files = /\n {4}location ~ \^\/files\(\/\|\$\) \{\n([\s\S]*?)\n {4}\}\n/.exec(site)![1];
    expect(files).toContain("        client_max_body_size 101m;\n        proxy_request_buffering off;\n        proxy_buffering off;\n");
    expect(files).toMatch(/proxy_pass http:\/\/claude_bus_\w+_service;/);
    expect(site.replace(files, "").match(/client_max_body_size \S+;/g)).toEqual(["client_max_body_size 520k;"]);
    expect(renderNginxSite(cfgOf({ maxFileMiB: 500 }))).toContain("client_max_body_size 501m;");
  });

  it("holds every body it takes before the service has checked the credential in memory, never in a file on nginx's disk", () => {
    expect(site).toContain("    client_max_body_size 520k;\n    client_body_buffer_size 520k;\n");
  });

  it("follows the config: HSTS off, no IPv6, another port and rate", () => {
    const other = renderNginxSite(cfgOf({ hsts: false, ipv6: false, servicePort: 9000, rateLimit: { perSecond: 3, burst: 7 }, maxBodyKiB: 600 }));
    expect(other).not.toContain("Strict-Transport-Security");
    expect(other).not.toContain("[::]");
    expect(other).toContain("server 127.0.0.1:9000;");
    expect(other).toContain("rate=3r/s;");
    expect(other).toContain("burst=7 nodelay;");
    expect(other).toContain("client_max_body_size 600k;");
  });

  it("renders a port-80-only bootstrap site for the first challenge", () => {
    const boot = renderAcmeBootstrapSite(cfgOf());
    expect(boot).toContain("location ^~ /.well-known/acme-challenge/");
    expect(boot).not.toContain("443");
    expect(boot).not.toContain("ssl_certificate");
  });
});

describe("nginx -t on the rendered site (scratch prefix)", () => {
  let scratch: ScratchNginx;
  afterEach(() => scratch?.stop());

  it("accepts the site as rendered, with HSTS on and off", async () => {
    for (const hsts of [true, false]) {
      scratch = await scratchNginx(cfgOf({ hsts, ipv6: false }));
      const result = scratch.test();
      expect(result.output).toContain("test is successful");
      expect(result.status).toBe(0);
      await scratch.stop();
    }
  });

  it("fails on a broken site, so the check above can fail", async () => {
    scratch = await scratchNginx(cfgOf({ ipv6: false }));
    fs.writeFileSync(path.join(scratch.dir, "site.conf"), scratch.site.replace("limit_req_status 429;", "limit_req_status 429"));
    const result = scratch.test();
    expect(result.status).not.toBe(0);
    expect(result.output).toMatch(/site\.conf/);
  });
});

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  body: string;
  bytes: Buffer;
}

describe("the rendered site served by a real nginx in front of the real bus", () => {
  const fqdn = "claude-bus.example.com";
  let scratch: ScratchNginx;
  let bus: RunningBus;
  let dataDir: string;
  let ca: Buffer;

  beforeAll(async () => {
    dataDir = tempDir("data");
    const port = await freePort();
    bus = await startBus({
      port,
      dataDir,
      credentials: { user: "claude", pass: PASS },
      log: () => {},
      files: { maxFileBytes: FILE_MIB * 1024 * 1024 },
      behindProxy: true,
    });
    // burst 30 covers the tests before the rate-limit one; refill is 1 request per second.
    scratch = await scratchNginx(cfgOf({ servicePort: port, ipv6: false, rateLimit: { perSecond: 1, burst: 30 }, maxFileMiB: FILE_MIB }));
    ca = fs.readFileSync(scratch.caFile);
    await scratch.start();
  });
  afterAll(async () => {
    await scratch?.stop();
    await bus?.close().catch(() => {});
  });

  const request = (
    tls: boolean,
    pathname: string,
    opts: { method?: string; auth?: string; body?: string | Buffer; type?: string; from?: string; headers?: Record<string, string>; length?: number } = {},
  ): Promise<Answer> =>
    new Promise((resolve, reject) => {
      const headers: Record<string, string | number> = { Host: fqdn, ...opts.headers };
      if (opts.auth) headers.Authorization = `Basic ${Buffer.from(opts.auth).toString("base64")}`;
      if (opts.body !== undefined) {
        headers["Content-Type"] = opts.type ?? "application/json";
        headers["Content-Length"] = Buffer.byteLength(opts.body);
      }
      // `length` without a body: the headers announce it, and the client waits for the answer without sending it.
      if (opts.length !== undefined) headers["Content-Length"] = opts.length;
      const common = { host: "127.0.0.1", localAddress: opts.from, path: pathname, method: opts.method ?? "GET", headers };
      const req = tls
        ? https.request({ ...common, port: scratch.https, ca, servername: fqdn, agent: false })
        : http.request({ ...common, port: scratch.http, agent: false });
      req.on("response", (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const bytes = Buffer.concat(chunks);
          resolve({ status: res.statusCode!, headers: res.headers, rawHeaders: res.rawHeaders, body: bytes.toString("utf8"), bytes });
          if (opts.length !== undefined) req.destroy();
        });
      });
      req.on("error", reject);
      if (opts.length !== undefined) req.flushHeaders();
      else req.end(opts.body);
    });
  const auth = `claude:${PASS}`;
  const headerCount = (a: Answer, name: string) => a.rawHeaders.filter((h, i) => i % 2 === 0 && h.toLowerCase() === name).length;

  it("redirects HTTP to HTTPS and serves the ACME challenge over plain HTTP", async () => {
    const redirect = await request(false, "/messages?to=x");
    expect(redirect.status).toBe(301);
    expect(redirect.headers.location).toBe(`https://${fqdn}/messages?to=x`);
    fs.writeFileSync(path.join(scratch.webroot, ".well-known", "acme-challenge", "tok3n"), "tok3n.thumbprint");
    const challenge = await request(false, "/.well-known/acme-challenge/tok3n");
    expect(challenge.status).toBe(200);
    expect(challenge.body).toBe("tok3n.thumbprint");
  });

  it("answers 401 with SPEC's JSON error and realm without a credential or with a wrong one", async () => {
    for (const credential of [undefined, "claude:wrong-password-000", `other:${PASS}`]) {
      const a = await request(true, "/health", { auth: credential });
      expect(a.status).toBe(401);
      expect(a.headers["www-authenticate"]).toBe(`Basic realm="${AUTH_REALM}"`);
      expect(a.headers["content-type"]).toMatch(/^application\/json/);
      expect(JSON.parse(a.body)).toEqual({ error: HTTP_ERRORS.unauthorized.text });
    }
  });

  it("proxies an authenticated request with HSTS, one noindex header and no version in Server", async () => {
    const a = await request(true, "/health", { auth });
    expect(a.status).toBe(200);
    expect(JSON.parse(a.body)).toMatchObject({ ok: true, count: 0 });
    expect(a.headers["strict-transport-security"]).toBe("max-age=63072000");
    expect(headerCount(a, "x-robots-tag")).toBe(1);
    expect(a.headers["x-robots-tag"]).toBe("noindex, nofollow");
    expect(a.headers.server).toBe("nginx");
  });

  it("serves robots.txt without a credential", async () => {
    const a = await request(true, "/robots.txt");
    expect(a.status).toBe(200);
    expect(a.body).toBe("User-agent: *\nDisallow: /\n");
    expect(a.headers["x-robots-tag"]).toBe("noindex, nofollow");
  });

  it("passes GET /live without a credential to the service, which answers it", async () => {
    // From another loopback address: limit_req's burst here is sized for 127.0.0.1's other requests.
    const a = await request(true, "/live", { from: "127.0.0.3" });
    expect(a.status).toBe(200);
    expect(a.body).toBe('{"ok":true}\n');
  });

  it("passes the largest 64 KiB body even fully \\u-escaped, and refuses a bigger request with JSON 413", async () => {
    const body = "é".repeat(32768); // 65,536 bytes of UTF-8
    const escaped = JSON.stringify({ from: "tester", body }).replace(/é/g, "\\u00e9");
    expect(escaped.length).toBeGreaterThan(192 * 1024);
    const posted = await request(true, "/post", { method: "POST", auth, body: escaped });
    expect(posted.status).toBe(201);
    expect(JSON.parse(posted.body).body).toBe(body);

    const tooBig = await request(true, "/post", { method: "POST", auth, body: Buffer.alloc(530 * 1024, 0x20) });
    expect(tooBig.status).toBe(413);
    expect(JSON.parse(tooBig.body)).toEqual({ error: HTTP_ERRORS.tooLarge.text });
  });

  it("streams a large upload through to the service and a ranged download back; a file over the limit gets the service's 413, a bigger one nginx's", async () => {
    const from = "127.0.0.10";
    const bytes = randomBytes(40 * 1024 * 1024);
    const sha = createHash("sha256").update(bytes).digest("hex");
    const up = await request(true, "/files?name=big.bin", { method: "POST", auth, from, body: bytes, type: "application/octet-stream" });
    expect([up.status, JSON.parse(up.body)]).toEqual([201, { sha256: sha, size: bytes.length, name: "big.bin" }]);
    expect(fs.readFileSync(path.join(dataDir, "files", sha)).equals(bytes)).toBe(true);

    const part = await request(true, `/files/${sha}`, { auth, from, headers: { Range: "bytes=1000000-2999999", "If-Range": `"${sha}"` } });
    expect([part.status, part.headers["content-range"], part.headers["content-length"]]).toEqual([206, `bytes 1000000-2999999/${bytes.length}`, "2000000"]);
    expect(part.bytes.equals(bytes.subarray(1_000_000, 3_000_000))).toBe(true);
    const whole = await request(true, `/files/${sha}`, { auth, from });
    expect([whole.status, createHash("sha256").update(whole.bytes).digest("hex")]).toEqual([200, sha]);
    // The service's own nosniff goes once, nginx's copy standing in; its sandbox comes through.
    expect([headerCount(whole, "x-content-type-options"), whole.headers["x-content-type-options"], whole.headers["content-security-policy"]]).toEqual([
      1,
      "nosniff",
      "sandbox",
    ]);

    const mib = 1024 * 1024;
    const overService = await request(true, "/files?name=over", { method: "POST", auth, from, length: FILE_MIB * mib + mib / 2 });
    expect([overService.status, JSON.parse(overService.body)]).toEqual([
      413,
      { error: `the file is larger than the largest this bus takes: ${FILE_MIB * mib} bytes (${FILE_MIB} MiB)` },
    ]);
    const overNginx = await request(true, "/files?name=over", { method: "POST", auth, from, length: (FILE_MIB + 2) * mib });
    expect([overNginx.status, JSON.parse(overNginx.body)]).toEqual([413, { error: HTTP_ERRORS.tooLarge.text }]);
    // only /files and /files/...: a path that merely starts with "/files" takes a message's size, no more
    for (const other of ["/files.jsonl", "/filesX"]) {
      const big = await request(true, other, { method: "POST", auth, from, length: mib });
      expect([big.status, JSON.parse(big.body)]).toEqual([413, { error: HTTP_ERRORS.tooLarge.text }]);
    }
  });

  it("reuses its connections to the service: requests through nginx open only as many as run at once", async () => {
    const port = bus.port;
    const before = tcpToPort(port);
    // Sequential, each its own client connection: without a keepalive pool nginx would open and close
    // one connection to the service per request, each then lingering in TIME_WAIT on nginx's side.
    for (let i = 0; i < 12; i++) expect((await request(true, "/health", { auth, from: "127.0.0.4" })).status).toBe(200);
    const after = tcpToPort(port);
    expect(after.established).toBeGreaterThanOrEqual(1);
    expect(after.timeWait - before.timeWait).toBeLessThanOrEqual(1);
  });

  it("leaves authentication to the service: a machine enrolled through nginx posts as itself and only as itself", async () => {
    const from = "127.0.0.6";
    const invite = await request(true, "/invites", { method: "POST", auth, from, body: JSON.stringify({ name: "edge" }) });
    expect(invite.status).toBe(201);
    const enrolled = await request(true, "/enroll", { method: "POST", from, body: JSON.stringify({ code: JSON.parse(invite.body).code }) });
    expect(enrolled.status).toBe(201);
    const machine = `edge:${JSON.parse(enrolled.body).pass}`;
    expect((await request(true, "/post", { method: "POST", auth: machine, from, body: JSON.stringify({ from: "edge", body: "hi" }) })).status).toBe(201);
    const forged = await request(true, "/post", { method: "POST", auth: machine, from, body: JSON.stringify({ from: "other", body: "hi" }) });
    expect(forged.status).toBe(403);
    expect(JSON.parse(forged.body).error).toMatch(/^from: "other" is not this credential's machine "edge"/);
  });

  it("signs a browser in over TLS: a Secure session cookie, taken with the bus's own https Origin only", async () => {
    const from = "127.0.0.9";
    const signedIn = await request(true, "/session", { method: "POST", from, body: JSON.stringify({ name: "claude", secret: PASS }) });
    expect(signedIn.status).toBe(200);
    const cookie = signedIn.headers["set-cookie"]![0];
    expect(cookie.split("; ")).toEqual(expect.arrayContaining(["HttpOnly", "SameSite=Strict", "Path=/", "Secure"]));
    const headers = (origin: string) => ({ Cookie: cookie.split(";")[0], Origin: origin });
    const post = (origin: string) =>
      request(true, "/post", { method: "POST", from, headers: headers(origin), body: JSON.stringify({ from: "browser", body: "hi" }) });
    expect((await post(`https://${fqdn}`)).status).toBe(201);
    for (const origin of [`http://${fqdn}`, "https://evil.example"]) {
      const refused = await post(origin);
      expect([refused.status, JSON.parse(refused.body).error]).toEqual([403, HTTP_ERRORS.crossOrigin.text]);
    }
  });

  it("blocks the client address nginx saw after repeated wrong credentials, and no other", async () => {
    const from = "127.0.0.7";
    for (let i = 0; i < 10; i++) expect((await request(true, "/health", { auth: `claude:wrong-${i}-000000000000000000000`, from })).status).toBe(401);
    const blocked = await request(true, "/health", { auth, from });
    expect(blocked.status).toBe(429);
    expect(JSON.parse(blocked.body).error).toMatch(/^too many failed logins from this address/);
    // The service sees nginx's loopback connection for every client: it counted by X-Real-IP.
    expect((await request(true, "/health", { auth, from: "127.0.0.8" })).status).toBe(200);
  });

  it("answers 429 with a JSON error when a client goes over the rate limit, counting each client address apart", async () => {
    const answers = await Promise.all(Array.from({ length: 40 }, () => request(true, "/health", { auth })));
    const limited = answers.filter((a) => a.status === 429);
    expect(limited.length).toBeGreaterThan(0);
    expect(answers.map((a) => a.status).filter((s) => s !== 200 && s !== 429)).toEqual([]);
    expect(JSON.parse(limited[0].body)).toEqual({ error: HTTP_ERRORS.rateLimited.text });
    // The pooled connections to the service are nginx's: another client still has its own allowance.
    expect((await request(true, "/health", { auth, from: "127.0.0.3" })).status).toBe(200);
    expect((await request(true, "/health", { auth })).status).toBe(429);
  });

  /** Raw bytes over TLS, for requests no HTTP client would send; resolves with the status line and body. */
  const rawTls = (text: string): Promise<{ status: number; type: string; body: string }> =>
    new Promise((resolve, reject) => {
      const socket = tls.connect({ port: scratch.https, host: "127.0.0.1", servername: fqdn, ca }, () => socket.end(text));
      let out = "";
      socket.on("data", (d) => (out += d));
      socket.on("error", reject);
      socket.on("close", () => {
        const head = out.slice(0, out.indexOf("\r\n\r\n"));
        resolve({ status: Number(head.slice(9, 12)), type: /\r\ncontent-type: ([^\r]*)/i.exec(head)?.[1] ?? "", body: out.slice(head.length + 4) });
      });
    });

  it.each([
    ["a garbage request line", "GARBAGE\r\n\r\n", 400, HTTP_ERRORS.badRequest.text],
    ["HTTP/1.1 without Host", "GET /health HTTP/1.1\r\n\r\n", 400, HTTP_ERRORS.badRequest.text],
    ["a request line ending HTTP/2.0 (nginx's 505)", `GET /health HTTP/2.0\r\nHost: ${fqdn}\r\n\r\n`, 400, HTTP_ERRORS.httpVersion.text],
    ["TRACE", `TRACE / HTTP/1.1\r\nHost: ${fqdn}\r\n\r\n`, 405, HTTP_ERRORS.methodNotAllowed.text],
    ["a 10 KB URL", `GET /${"a".repeat(10_000)} HTTP/1.1\r\nHost: ${fqdn}\r\n\r\n`, 414, HTTP_ERRORS.uriTooLong.text],
    ["20 KB of headers (nginx's 494)", `GET /health HTTP/1.1\r\nHost: ${fqdn}\r\nX-Big: ${"b".repeat(20_000)}\r\n\r\n`, 431, HTTP_ERRORS.headersTooLarge.text],
    ["nginx's own error locations", `GET /.claude-bus-error/400 HTTP/1.1\r\nHost: ${fqdn}\r\nConnection: close\r\n\r\n`, 404, HTTP_ERRORS.notFound.text],
  ])("answers %s with a JSON 4xx, never HTML or a 5xx", async (_what, text, status, error) => {
    const answer = await rawTls(text);
    expect(answer).toEqual({ status, type: "application/json", body: `${JSON.stringify({ error })}\n` });
  });

  it("answers 502 with a JSON error when the service is down", async () => {
    await bus.close();
    // From another loopback address: limit_req counts per client address, so the burst above used up
    // 127.0.0.1's allowance, not this client's.
    const a = await request(true, "/health", { auth, from: "127.0.0.2" });
    expect(a.status).toBe(502);
    expect(JSON.parse(a.body)).toEqual({ error: HTTP_ERRORS.badGateway.text });
  });
});
