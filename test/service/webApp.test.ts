/** The web inbox's routes: GET / and GET /app/<asset>, public, with a strict CSP, cached by hash; the API unchanged. */
import * as fs from "node:fs";
import * as path from "node:path";
import { gzipSync } from "node:zlib";
import { buildWebApp } from "../../provision/webApp";
import { WEB_CSP } from "../../service/web/webRoutes";
import type { WebAssets } from "../../contract/webApp";
import { type BusProcess, buildBundle, spawnBus, startBus, type TestBus } from "../support/bus";
import { request } from "../support/http";
import { tempDir } from "../support/tempDir";

/** The hashed names of the script and stylesheet the page links. */
function linked(page: string): { js: string; css: string } {
  const js = /<script src="\/app\/(app-[0-9a-f]{12}\.js)" defer><\/script>/.exec(page)?.[1];
  const css = /<link rel="stylesheet" href="\/app\/(app-[0-9a-f]{12}\.css)">/.exec(page)?.[1];
  if (!js || !css) throw new Error(`the page links no script or stylesheet:\n${page}`);
  return { js, css };
}

describe("the web app's routes", () => {
  let bus: TestBus;
  let web: WebAssets;
  beforeAll(async () => {
    web = await buildWebApp();
    bus = await startBus({ web });
  });
  afterAll(() => bus.close());

  test("GET / is the page, without a credential, with the strict CSP and no inline script or style", async () => {
    const page = await request(bus.url, "/", { auth: null });
    expect(page.status).toBe(200);
    expect(page.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(page.headers["content-security-policy"]).toBe(WEB_CSP);
    expect(WEB_CSP).toContain("script-src 'self';");
    expect(WEB_CSP).toContain("frame-ancestors 'none'");
    expect(page.headers["x-frame-options"]).toBe("DENY");
    expect(page.headers["cache-control"]).toBe("no-cache");
    expect(page.text).toBe(web["index.html"]);
    // Every script is a file of /app/, every style too: nothing inline the CSP would have to allow.
    expect(page.text.match(/<script/g)).toHaveLength(1);
    expect(page.text).not.toMatch(/<style|\sstyle=|\son[a-z]+=/i);
    linked(page.text);
  });

  test("the script and stylesheet: their types, cached for good under their hash; the page revalidates by ETag", async () => {
    const page = await request(bus.url, "/", { auth: null });
    const { js, css } = linked(page.text);
    const script = await request(bus.url, `/app/${js}`, { auth: null });
    expect(script.status).toBe(200);
    expect(script.headers["content-type"]).toBe("text/javascript; charset=utf-8");
    expect(script.headers["cache-control"]).toBe("public, max-age=31536000, immutable");
    expect(script.headers["content-security-policy"]).toBe(WEB_CSP);
    expect(script.text).toBe(web[js]);
    const style = await request(bus.url, `/app/${css}`, { auth: null });
    expect(style.headers["content-type"]).toBe("text/css; charset=utf-8");
    const again = await request(bus.url, "/", { auth: null, headers: { "If-None-Match": page.headers.etag as string } });
    expect(again.status).toBe(304);
    expect(again.text).toBe("");
    expect((await request(bus.url, "/", { method: "HEAD", auth: null })).status).toBe(200);
  });

  test("the script stays within the issue's budget: at most 100 KiB gzipped, in one file, no source map", () => {
    const scripts = Object.keys(web).filter((name) => name.endsWith(".js"));
    expect(scripts).toHaveLength(1);
    expect(gzipSync(web[scripts[0]!]!).length).toBeLessThanOrEqual(100 * 1024);
    expect(Object.keys(web)).toEqual(expect.arrayContaining([expect.stringMatching(/^app-[0-9a-f]{12}\.css$/), scripts[0], "index.html"]));
    expect(Object.keys(web)).toHaveLength(3);
    expect(web[scripts[0]!]).not.toMatch(/sourceMappingURL|innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(/);
  });

  test("an unknown asset is a JSON 404, other methods 405; the API still asks for its credential", async () => {
    for (const asset of ["/app/nope.js", "/app/index.html", "/app/..%2Fpackage.json"]) {
      const r = await request(bus.url, asset, { auth: null });
      expect({ asset, status: r.status }).toEqual({ asset, status: 404 });
      expect(r.json).toEqual({ error: expect.any(String) });
    }
    const post = await request(bus.url, "/", { method: "POST", body: "" });
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe("GET, HEAD");
    const api = await request(bus.url, "/messages", { auth: null });
    expect(api.status).toBe(401);
    expect(api.headers["content-security-policy"]).toBeUndefined();
  });
});

describe("the web app in the host's single-file bundle", () => {
  let bus: BusProcess | undefined;
  afterAll(async () => bus?.stop());

  test("the bundle run alone (no dist/, no node_modules) serves the page and its script", async () => {
    const file = await buildBundle();
    const dir = tempDir("app");
    const credentials = path.join(dir, "credentials.env");
    fs.writeFileSync(credentials, "BUS_USER=claude\nBUS_PASS=Bundle0Password00000000000000\n", { mode: 0o600 });
    bus = await spawnBus(file, ["--host", "127.0.0.1", "--port", "0", "--data", path.join(dir, "data")], {
      PATH: process.env.PATH,
      BUS_CREDENTIALS_FILE: credentials,
    });
    const page = await request(bus.url, "/", { auth: null });
    expect(page.status).toBe(200);
    expect(page.headers["content-security-policy"]).toBe(WEB_CSP);
    const script = await request(bus.url, `/app/${linked(page.text).js}`, { auth: null });
    expect(script.status).toBe(200);
    expect(script.text).toContain("/session");
  });
});
