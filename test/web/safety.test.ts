/**
 * The web inbox under attack, in a real browser: hostile bodies, tags and file names render as inert,
 * visible text (no script runs, no element or link is made of them); the CSP is sent and enforced; no
 * other site may frame the app or make a signed-in browser change anything (a form that posts itself
 * from another origin, carrying the session cookie, is refused).
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import type { Browser } from "puppeteer-core";
import { buildWebApp } from "../../provision/webApp";
import { WEB_CSP } from "../../service/web/webRoutes";
import { launchChromium, type OpenPage, openPage, screenshot, signIn, textOf } from "../support/browser";
import { startBus, type TestBus } from "../support/bus";
import { HOSTILE_BODIES, HOSTILE_TAGS, seedHostile } from "../support/hostile";
import { PASS, postJson, request, USER } from "../support/http";
import { tempDir } from "../support/tempDir";

jest.setTimeout(60_000);

/** Markup and links a browser would act on, were they ever parsed as HTML or made into links. */
const WEB_HOSTILE = [
  `<script>window.pwned = "script"</script>`,
  `<img src=x onerror="window.pwned = 'img'">`,
  `javascript:window.pwned = "link"`,
  `[click me](javascript:window.pwned = "markdown")`,
  `<a href="javascript:window.pwned = 'a'">a link</a><iframe src="javascript:parent.pwned = 'frame'"></iframe>`,
];
/** A file name with markup and an RTL override that would show "evil.exe" as "evil‮gnp.exe". */
const HOSTILE_FILE_NAME = `<img src=x onerror=pwned=1>evil\u202Egnp.exe`;

let bus: TestBus;
let browser: Browser;
let attacker: http.Server;
let attackerOrigin: string;
/** What the attacker's page holds, set by each test. */
let attackerPage = "";

beforeAll(async () => {
  const dataDir = tempDir("web-hostile");
  await seedHostile(dataDir, "ada");
  bus = await startBus({ dataDir, web: await buildWebApp() });
  browser = await launchChromium();
  // Another origin on loopback (another port: the same site, so a SameSite=Strict cookie still goes along).
  attacker = http.createServer((_req, res) => res.writeHead(200, { "content-type": "text/html" }).end(attackerPage));
  await new Promise<void>((resolve) => attacker.listen(0, "127.0.0.1", resolve));
  attackerOrigin = `http://127.0.0.1:${(attacker.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await browser?.close();
  await bus?.close();
  await new Promise((resolve) => attacker?.close(resolve));
});

async function person(name: string): Promise<string> {
  const code = (await postJson(bus.url, "/invites", { name, kind: "person" })).json.code;
  return (await postJson(bus.url, "/enroll", { code }, { auth: null })).json.pass as string;
}

/** Nothing a sender wrote became markup, a script, a handler or a link. */
async function expectInert(page: OpenPage): Promise<void> {
  expect(
    await page.page.evaluate(`({
      pwned: window.pwned,
      scripts: document.scripts.length,
      foreign: document.querySelectorAll("img, iframe, object, embed, svg, style, link:not([rel=stylesheet]):not([rel=icon])").length,
      handlers: [...document.querySelectorAll("*")].flatMap((e) => [...e.attributes].map((a) => a.name)).filter((n) => n.startsWith("on")),
      links: [...document.querySelectorAll("a[href]")].map((a) => a.getAttribute("href")).filter((h) => h !== "#main" && !h.startsWith("/files/")),
    })`),
  ).toEqual({ scripts: 1, foreign: 0, handlers: [], links: [] });
  expect(page.problems).toEqual([]);
}

test("hostile bodies, tags and file names show as visible text, inert, in the inbox and in the conversation", async () => {
  const ids = [];
  for (const body of WEB_HOSTILE) ids.push((await postJson(bus.url, "/post", { from: "lima", to: "ada", body, tags: ["<b>x</b>"] })).json.id as string);
  const upload = await request(bus.url, `/files?name=${encodeURIComponent(HOSTILE_FILE_NAME)}`, { method: "POST", body: "MZ not really" });
  expect(upload.status).toBe(201);
  const withFile = await postJson(bus.url, "/post", {
    from: "lima",
    to: "ada",
    body: "see the file",
    attachments: [{ sha256: upload.json.sha256, name: HOSTILE_FILE_NAME }],
  });
  expect(withFile.status).toBe(201);

  const ada = await signIn(browser, bus.url, "ada", await person("ada"));
  await ada.page.waitForSelector(`li[data-id="${withFile.json.id}"]`);
  await expectInert(ada);
  await screenshot(ada.page, "hostile-inbox");

  for (const [i, id] of ids.entries()) {
    await ada.page.click(`li[data-id="${id}"] button`);
    expect(await textOf(ada.page, `article[data-id="${id}"] .body`)).toBe(WEB_HOSTILE[i]);
    expect(await textOf(ada.page, `article[data-id="${id}"] .tag`)).toBe("<b>x</b>");
    await expectInert(ada);
    await ada.page.click("section.thread .toolbar button");
  }
  // The frame-breaking bodies of the agents' tests, and their tags: bidi and control characters shown by code point.
  await ada.page.click(`li[data-id="1"] button`);
  expect(await textOf(ada.page, `article[data-id="1"] .body`)).toBe(HOSTILE_BODIES[0]);
  expect(await ada.page.evaluate(`[...document.querySelectorAll('article[data-id="1"] .tag')].map((t) => t.textContent)`)).toEqual(
    HOSTILE_TAGS.map((t) => t.replace("\u200b", "\u27e8U+200B\u27e9")),
  );
  await ada.page.click("section.thread .toolbar button");
  await ada.page.click(`li[data-id="6"] button`);
  const bidi = await textOf(ada.page, `article[data-id="6"] .body`);
  expect(bidi).toContain("bidi \u27e8U+202E\u27e9evil\u27e8U+202C\u27e9");
  expect(bidi).not.toMatch(/[\u202a-\u202e\u2066-\u2069\ufeff]/);
  await ada.page.click("section.thread .toolbar button");

  await ada.page.click(`li[data-id="${withFile.json.id}"] button`);
  const link = await ada.page.waitForSelector(`article[data-id="${withFile.json.id}"] .attachments a`);
  expect(await link!.evaluate((a) => (a as unknown as { textContent: string }).textContent)).toBe("<img src=x onerror=pwned=1>evil\u27e8U+202E\u27e9gnp.exe");
  expect(await link!.evaluate((a) => (a as unknown as { getAttribute(n: string): string }).getAttribute("href"))).toBe(
    `/files/${upload.json.sha256}?${new URLSearchParams({ name: HOSTILE_FILE_NAME })}`,
  );
  await expectInert(ada);
  await screenshot(ada.page, "hostile-thread");
  await ada.context.close();
});

test("the page is sent with the strict CSP, and the browser enforces it: an inline script does not run", async () => {
  const page = await openPage(browser, bus.url);
  const response = await page.page.reload();
  expect(response!.headers()["content-security-policy"]).toBe(WEB_CSP);
  await page.page.waitForSelector("form.signin");
  expect(page.problems).toEqual([]);
  expect(
    await page.page.evaluate(
      `(() => { const s = document.createElement("script"); s.textContent = "window.inline = 1"; document.body.append(s); return window.inline; })()`,
    ),
  ).toBeUndefined();
  expect(page.problems).toEqual([expect.stringContaining("violates the following Content Security Policy directive 'script-src 'self''")]);
  await page.context.close();
});

test("another origin cannot frame the app", async () => {
  attackerPage = `<!doctype html><title>frame</title><iframe src="${bus.url}/"></iframe>`;
  const page = await openPage(browser, attackerOrigin);
  const frame = page.page.frames()[1]!;
  await frame.waitForFunction(`document.readyState === "complete"`);
  // The frame holds Chromium's error page, not the app.
  expect(await frame.evaluate(`location.href`)).toBe("chrome-error://chromewebdata/");
  await page.context.close();
});

test("a form on another origin that posts itself with the signed-in browser's cookie changes nothing (403)", async () => {
  const victim = await person("victim");
  const team = await signIn(browser, bus.url, USER, PASS);
  const hijack = async (action: string, fields = "") => {
    attackerPage = `<!doctype html><title>win a prize</title><form method="POST" action="${bus.url}${action}" enctype="text/plain">${fields}</form><script>document.forms[0].submit()</script>`;
    const tab = await team.context.newPage();
    const answer = tab.waitForResponse((r) => r.url().startsWith(bus.url) && r.request().method() === "POST");
    await tab.goto(attackerOrigin);
    const response = await answer;
    const result = { status: response.status(), body: await response.text() };
    await tab.close();
    return result;
  };

  // The cookie went along (same site), so only the Origin check stands between the page and a revoke.
  const revoke = await hijack("/machines/victim/revoke");
  expect(revoke.status).toBe(403);
  expect(JSON.parse(revoke.body).error).toMatch(/^cross_origin/);
  expect((await request(bus.url, "/health", { auth: ["victim", victim] })).status).toBe(200);

  const before = (await request(bus.url, "/health")).json.count;
  const forged = await hijack("/post", `<input name='{"from":"claude","to":"any","body":"forged","x":"' value='"}'>`);
  expect(forged.status).toBe(403);
  expect((await request(bus.url, "/health")).json.count).toBe(before);
  await team.context.close();
});
