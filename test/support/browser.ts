/**
 * Debian's chromium, headless, driven by puppeteer-core (its own browser download cannot be fetched here):
 * one browser per test file, a fresh context (no cookies) per person, axe-core run inside the page,
 * screenshots kept in test-artifacts/web/.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import puppeteer, { type Browser, type BrowserContext, type Page } from "puppeteer-core";
import { requireTool } from "./requireTool";

export const ARTIFACTS = path.join(__dirname, "..", "..", "test-artifacts", "web");

/** `args`: more of chromium's flags (the host test maps the bus's name to loopback and trusts its certificate). */
export async function launchChromium(args: string[] = []): Promise<Browser> {
  return puppeteer.launch({
    executablePath: requireTool("chromium") && "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--headless=new", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", ...args],
  });
}

export interface OpenPage {
  page: Page;
  context: BrowserContext;
  /** Errors the page threw, console errors, and every CSP violation it reported. */
  problems: string[];
}

/** A page of its own (a new incognito-like context: no cookie of another page) at `url`. */
export async function openPage(browser: Browser, url: string, viewport = { width: 1100, height: 800 }): Promise<OpenPage> {
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  await page.setViewport(viewport);
  const problems: string[] = [];
  page.on("pageerror", (error) => problems.push(`page error: ${String(error)}`));
  // A failed request is the app's own business (a 401 before signing in): only script errors and CSP violations count.
  page.on("console", (message) => {
    if (message.type() === "error" && !message.text().startsWith("Failed to load resource")) problems.push(`console: ${message.text()}`);
  });
  // In-page code is written as strings: the tests' TypeScript knows Node, not the DOM.
  await page.evaluateOnNewDocument(
    'document.addEventListener("securitypolicyviolation", (e) => console.error("CSP violation: " + e.violatedDirective + " " + e.blockedURI))',
  );
  await page.goto(url, { waitUntil: "load" });
  return { page, context, problems };
}

/** Signs in through the form, by keyboard alone (typing, Tab, Enter), and waits for the inbox. */
export async function signIn(browser: Browser, url: string, name: string, secret: string, viewport?: { width: number; height: number }): Promise<OpenPage> {
  const opened = await openPage(browser, url, viewport);
  const { page } = opened;
  await page.waitForSelector("form.signin input[name=username]:focus");
  await page.keyboard.type(name);
  await page.keyboard.press("Tab");
  await page.keyboard.type(secret);
  await page.keyboard.press("Enter");
  await page.waitForSelector("section.inbox li");
  return opened;
}

/** Saves a screenshot of the page as test-artifacts/web/<name>.png. */
export async function screenshot(page: Page, name: string): Promise<void> {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`) as `${string}.png`, fullPage: true });
}

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: string[];
}

/** axe-core's serious and critical violations on the page as it is now (run through DevTools, so the page's CSP stays as it is). */
export async function axeViolations(page: Page): Promise<AxeViolation[]> {
  const source = fs.readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
  await page.evaluate(source);
  const found = (await page.evaluate(
    `axe.run(document, { resultTypes: ["violations"] }).then((r) => r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(" ")) })))`,
  )) as AxeViolation[];
  return found.filter((v) => v.impact === "serious" || v.impact === "critical");
}

/** Types into the field labelled `label` (the label's text, as a person finds it). */
export async function fill(page: Page, scope: string, label: string, text: string): Promise<void> {
  const field = await page.waitForSelector(
    `${scope} ::-p-xpath(.//label[.//span[@class="field-label" and normalize-space()="${label}"]]//*[self::input or self::textarea or self::select])`,
  );
  await field!.click({ count: 3 });
  await page.keyboard.press("Backspace");
  await field!.type(text);
}

/** Clicks the button whose visible text is (or starts with, before a count) `text`, inside `scope`. */
export async function clickButton(page: Page, scope: string, text: string): Promise<void> {
  const button = await page.waitForSelector(`${scope} ::-p-xpath(.//button[normalize-space()="${text}" or normalize-space(text()[1])="${text}"])`);
  await button!.click();
}

/** The text of the first element matching `selector`, once there is one. */
export async function textOf(page: Page, selector: string): Promise<string> {
  const handle = await page.waitForSelector(selector);
  return handle!.evaluate((node) => (node as unknown as { textContent: string }).textContent);
}
