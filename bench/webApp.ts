/**
 * The web inbox's cost to a person: its script's size gzipped (as a browser downloads it), and how long
 * the first screen takes in Debian's chromium on loopback, from navigation to the inbox listed (a
 * signed-in browser with 200 messages waiting) and to the sign-in form (no session), with the browser's
 * cache off, median of RUNS.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { gzipSync } from "node:zlib";
import { SESSION_COOKIE } from "../contract/defaults";
import { buildWebApp } from "../provision/webApp";
import type { Page } from "puppeteer-core";

/** The part of the bench's context this figure needs (bench/context.ts's BenchContext has it). */
export interface WebAppContext {
  root: string;
  auth: string;
  startBus(dataDir: string): Promise<{ url: string; stop(): Promise<void> }>;
  report(figure: string, result: string): void;
}

const RUNS = 15;
const MESSAGES = 200;
const CHROMIUM = "/usr/bin/chromium";

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

export async function webApp(ctx: WebAppContext): Promise<void> {
  const assets = await buildWebApp();
  const script = Object.entries(assets).find(([name]) => name.endsWith(".js"))![1];
  const zipped = gzipSync(script).length;
  ctx.report("web app script, gzipped (minified)", `${(zipped / 1024).toFixed(1)} KiB (${(Buffer.byteLength(script) / 1024).toFixed(1)} KiB before gzip)`);

  if (!fs.existsSync(CHROMIUM)) {
    ctx.report("web app first screen", "not measured: chromium is not installed (apt-get install chromium)");
    return;
  }
  // Loaded here: puppeteer-core is a development dependency, as the bench is.
  const puppeteer = (await import("puppeteer-core")).default;
  const bus = await ctx.startBus(path.join(ctx.root, "web-app", "data"));
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--headless=new", "--disable-gpu", "--disable-dev-shm-usage"],
  });
  try {
    const [user, pass] = Buffer.from(ctx.auth.replace(/^Basic /, ""), "base64")
      .toString("utf8")
      .split(/:(.*)/s);
    for (let i = 0; i < MESSAGES; i++) {
      const res = await fetch(`${bus.url}/post`, {
        method: "POST",
        headers: { authorization: ctx.auth, "content-type": "application/json" },
        body: JSON.stringify({ from: "lima", to: user, body: `message ${i}\nwith a second line`, tags: ["bench"] }),
      });
      if (res.status !== 201) throw new Error(`POST /post: ${res.status}`);
    }
    const signIn = await fetch(`${bus.url}/session`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: bus.url },
      body: JSON.stringify({ name: user, secret: pass }),
    });
    const token = /claude_bus_session=([^;]+)/.exec(signIn.headers.get("set-cookie") ?? "")?.[1];
    if (!token) throw new Error(`POST /session gave no cookie: ${signIn.status}`);

    // One page per kind of visit, its cache off, navigated again each run: every file comes over loopback each
    // time, while Chromium's own costs (a context, a renderer process) are paid once, in the warm-up.
    const context = await browser.createBrowserContext();
    const firstScreen = async (page: Page, selector: string): Promise<number> => {
      await page.goto(`${bus.url}/?run=${Math.random()}`, { waitUntil: "domcontentloaded" });
      await page.waitForSelector(selector);
      // The page's own clock: from the start of its navigation to now, the screen drawn.
      return (await page.evaluate("performance.now()")) as number;
    };
    for (const [signedIn, figure] of [
      [true, `web app first screen: the inbox with ${MESSAGES} messages, signed in`],
      [false, "web app first screen: the sign-in form"],
    ] as const) {
      const page = await context.newPage();
      await page.setCacheEnabled(false);
      if (signedIn) await page.setCookie({ name: SESSION_COOKIE, value: token, url: bus.url, httpOnly: true, sameSite: "Strict" });
      else await page.deleteCookie({ name: SESSION_COOKIE, url: bus.url });
      const selector = signedIn ? "section.inbox li.item" : "form.signin";
      await firstScreen(page, selector); // warm-up: the renderer's start, not the app
      const times: number[] = [];
      for (let i = 0; i < RUNS; i++) times.push(await firstScreen(page, selector));
      ctx.report(figure, `${median(times).toFixed(0)} ms median of ${RUNS} (cache off, chromium headless, loopback)`);
      await page.close();
    }
  } finally {
    await browser.close();
    await bus.stop();
  }
}
