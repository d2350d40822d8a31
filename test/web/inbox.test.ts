/**
 * The web inbox in a real browser (Debian's chromium, headless) against a real bus on loopback: joining
 * by an invite link, signing in by keyboard, reading (unread first, marked read with acks), a message
 * posted over HTTP appearing live, replying in a thread, attaching and downloading a file, filters,
 * background notifications, invite and revoke, a phone-sized screen, search, ntfy settings, axe-core,
 * and signing out.
 * Screenshots of the main screens go to test-artifacts/web/.
 */
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import type { Browser } from "puppeteer-core";
import { SESSION_COOKIE } from "../../contract/defaults";
import { buildWebApp } from "../../provision/webApp";
import { axeViolations, clickButton, fill, launchChromium, type OpenPage, openPage, screenshot, signIn, textOf } from "../support/browser";
import { startBus, type TestBus } from "../support/bus";
import { PASS, postJson, request, USER } from "../support/http";
import { tempDir } from "../support/tempDir";
import { waitFor } from "../support/waitFor";

jest.setTimeout(60_000);

let bus: TestBus;
let browser: Browser;
/** ada, a person: her secret (from joining) and her signed-in page. */
let secret: string;
let ada: OpenPage;
const opened: OpenPage[] = [];

beforeAll(async () => {
  bus = await startBus({ web: await buildWebApp() });
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await bus?.close();
});
afterEach(() => {
  // No page threw or broke the CSP, whatever it showed.
  for (const page of opened) expect(page.problems).toEqual([]);
});

function track(page: OpenPage): OpenPage {
  opened.push(page);
  return page;
}
const asAda = (): [string, string] => ["ada", secret];
/** A message posted with the team credential, as any sender. */
async function post(message: Record<string, unknown>): Promise<string> {
  const r = await postJson(bus.url, "/post", message);
  expect(r.status).toBe(201);
  return r.json.id as string;
}
const listed = (page: OpenPage) =>
  page.page.evaluate(`[...document.querySelectorAll("section.inbox li.item")].map((li) => li.dataset.id)`) as Promise<string[]>;
const unreadOf = async (name: string, auth: [string, string]) =>
  ((await request(bus.url, `/messages?to=${name}&unread_by=${name}`, { auth })).json.messages as Array<{ id: string }>).map((m) => m.id);

test("an invite link joins a person once, shows the secret once and keeps nothing but the HttpOnly cookie", async () => {
  const code = (await postJson(bus.url, "/invites", { name: "ada", kind: "person" })).json.code as string;
  const join = track(await openPage(browser, `${bus.url}/#join=${code}`));
  await clickButton(join.page, "main", "Join");
  // The code left the address bar (and so the history) at once.
  expect(join.page.url()).toBe(`${bus.url}/`);
  secret = await textOf(join.page, ".enrolled-secret");
  expect(secret).toMatch(/^[A-Za-z0-9]{32}$/);
  expect((await request(bus.url, "/health", { auth: asAda() })).status).toBe(200);
  await screenshot(join.page, "joined");
  await clickButton(join.page, "main", "I saved it: go to the inbox");
  await join.page.waitForSelector("section.inbox");
  expect(await join.page.evaluate(`document.body.innerText.includes(${JSON.stringify(secret)})`)).toBe(false);
  expect(await join.page.evaluate(`[document.cookie, localStorage.length, sessionStorage.length]`)).toEqual(["", 0, 0]);
  await join.context.close();

  const again = track(await openPage(browser, `${bus.url}/#join=${code}`));
  await clickButton(again.page, "main", "Join");
  expect(await textOf(again.page, "main .status:not(:empty)")).toMatch(/^could not join: .*invite/);
  await again.context.close();
});

test("signing in by keyboard alone: the session cookie is HttpOnly and SameSite=Strict, no secret kept in the page", async () => {
  const first = track(await openPage(browser, bus.url));
  await first.page.waitForSelector("form.signin");
  expect(await axeViolations(first.page)).toEqual([]);
  await screenshot(first.page, "signin");
  await first.context.close();

  ada = track(await signIn(browser, bus.url, "ada", secret));
  const cookies = await ada.page.cookies();
  expect(cookies.map((c) => [c.name, c.httpOnly, c.sameSite])).toEqual([[SESSION_COOKIE, true, "Strict"]]);
  expect(
    await ada.page.evaluate(`[document.cookie, localStorage.length, sessionStorage.length, document.body.innerText.includes(${JSON.stringify(secret)})]`),
  ).toEqual(["", 0, 0, false]);
  expect(await textOf(ada.page, "header .me")).toContain("ada");
});

test("the inbox: my messages and broadcasts, unread first; opening one marks it read with the agents' ack", async () => {
  const older = await post({ from: "lima", to: "ada", body: "older, unread\nsecond line", tags: ["build"] });
  const read = await post({ from: "lima", to: "ada", body: "newer, read already" });
  const broadcast = await post({ from: "kilo", body: "to everyone", tags: ["deploy"] });
  await post({ from: "lima", to: "bob", body: "not for ada" });
  expect((await postJson(bus.url, `/ack/${read}`, { reader: "ada" }, { auth: asAda() })).status).toBe(200);
  await ada.page.reload();
  await ada.page.waitForSelector(`li[data-id="${older}"]`);
  expect(await listed(ada)).toEqual([broadcast, older, read]);
  expect(await textOf(ada.page, `li[data-id="${older}"]`)).toContain("older, unread");
  expect(await ada.page.$(`li[data-id="${older}"].unread`)).not.toBeNull();
  expect(await axeViolations(ada.page)).toEqual([]);
  await screenshot(ada.page, "inbox");

  await ada.page.click(`li[data-id="${older}"] button`);
  await ada.page.waitForSelector(`article[data-id="${older}"]`);
  expect(await textOf(ada.page, `article[data-id="${older}"] .body`)).toBe("older, unread\nsecond line");
  await waitFor("the opened message to be acked by ada", async () => !(await unreadOf("ada", asAda())).includes(older));
  expect(await unreadOf("ada", asAda())).toEqual([broadcast]);
  expect(await axeViolations(ada.page)).toEqual([]);
  await screenshot(ada.page, "thread");
});

test("a message posted over HTTP appears live, without a reload; Mark all read acks them all", async () => {
  await clickButton(ada.page, "section.thread", "\u2190 Inbox");
  await ada.page.waitForSelector("section.inbox");
  await ada.page.evaluate(`window.stillThisPage = true`);
  const id = await post({ from: "lima", to: "ada", body: "posted by curl, seen live" });
  await ada.page.waitForSelector(`li[data-id="${id}"].unread`);
  expect(await ada.page.evaluate(`window.stillThisPage`)).toBe(true);
  expect((await listed(ada))[0]).toBe(id);
  expect(await textOf(ada.page, "nav .count")).toBe("2");
  await clickButton(ada.page, "section.inbox", "Mark all read");
  await waitFor("every message acked", async () => (await unreadOf("ada", asAda())).length === 0);
  await ada.page.waitForSelector("nav .count:empty");
  expect(await ada.page.$("section.inbox li.unread")).toBeNull();
});

test("replying in a thread posts as ada with reply_to, and the reply joins the conversation", async () => {
  const start = await post({ from: "lima", to: "ada", body: "shall I deploy?", tags: ["deploy"] });
  await (await ada.page.waitForSelector(`li[data-id="${start}"] button`))!.click();
  await ada.page.waitForSelector(`article[data-id="${start}"]`);
  await fill(ada.page, "form.compose", "Reply", "yes, go ahead");
  await clickButton(ada.page, "form.compose", "Send reply");
  const reply = await waitFor("the reply on the bus", async () => {
    const thread = (await request(bus.url, `/messages?thread=${start}`)).json.messages as Array<Record<string, unknown>>;
    return thread.find((m) => m.from === "ada");
  });
  expect(reply).toMatchObject({ to: "lima", body: "yes, go ahead", reply_to: start, thread: start, tags: ["deploy"], verified: true });
  await ada.page.waitForSelector(`article[data-id="${reply.id as string}"]`);
  expect(await ada.page.evaluate(`[...document.querySelectorAll("section.thread article")].map((a) => a.dataset.id)`)).toEqual([start, reply.id]);
});

test("files attached by picking and by dropping are uploaded (resumable PUT), listed with name and size, and downloads intact", async () => {
  const dir = tempDir("web-files");
  const file = path.join(dir, "report 2026.bin");
  const bytes = randomBytes(300 * 1024 + 7);
  fs.writeFileSync(file, bytes);
  await clickButton(ada.page, "header nav", "New message");
  await fill(ada.page, "form.compose", "To", "lima");
  await fill(ada.page, "form.compose", "Tags", "build, review");
  await fill(ada.page, "form.compose", "Message", "the report, attached");
  const picker = await ada.page.waitForSelector("form.compose input[type=file]");
  await picker!.uploadFile(file);
  // And one dropped on the form, as a file dragged from the desktop arrives.
  await ada.page.evaluate(`(() => {
    const files = new DataTransfer();
    files.items.add(new File(["dropped bytes"], "dropped note.txt", { type: "text/plain" }));
    document.querySelector("form.compose textarea").dispatchEvent(new DragEvent("drop", { dataTransfer: files, bubbles: true, cancelable: true }));
  })()`);
  await waitFor("both files listed", async () => (await ada.page.$$("form.compose ul.chosen progress")).length === 2);
  expect(await axeViolations(ada.page)).toEqual([]);
  await screenshot(ada.page, "compose");
  await clickButton(ada.page, "form.compose", "Send");

  const sha256 = createHash("sha256").update(bytes).digest("hex");
  // Sent: the conversation shows it; refused: the form says why (and the test with it).
  const outcome = await ada.page.waitForSelector("section.thread article .attachments a, form.compose .status::-p-text(not sent)");
  expect(await outcome!.evaluate((node) => (node as unknown as { textContent: string }).textContent)).toBe("report 2026.bin");
  const card = outcome;
  const message = (await request(bus.url, "/messages?from=ada&to=lima&tag=review")).json.messages.pop();
  const dropped = { sha256: createHash("sha256").update("dropped bytes").digest("hex"), name: "dropped note.txt", size: 13 };
  expect(message).toMatchObject({
    body: "the report, attached",
    tags: ["build", "review"],
    attachments: [{ sha256, name: "report 2026.bin", size: bytes.length }, dropped],
  });
  expect(await ada.page.evaluate(`[...document.querySelectorAll("section.thread article .attachments li")].map((li) => li.textContent)`)).toEqual([
    "report 2026.bin 300 KiB",
    "dropped note.txt 13 B",
  ]);

  const downloads = tempDir("web-downloads");
  const cdp = await ada.page.createCDPSession();
  await cdp.send("Browser.setDownloadBehavior", { behavior: "allow", downloadPath: downloads, browserContextId: ada.context.id });
  await card!.click();
  const saved = await waitFor("the download to finish", () => {
    const names = fs.readdirSync(downloads);
    return names.length === 1 && !names[0]!.endsWith(".crdownload") && names[0];
  });
  expect(saved).toBe("report 2026.bin");
  expect(fs.readFileSync(path.join(downloads, saved)).equals(bytes)).toBe(true);
});

test("filters by tag, sender and thread ask the bus, and a live message that matches joins the filtered list", async () => {
  await clickButton(ada.page, "header nav", "Inbox");
  await fill(ada.page, "form.filters", "Tag", "deploy");
  await clickButton(ada.page, "form.filters", "Filter");
  await ada.page.waitForSelector("section.inbox .status::-p-text(matching)");
  const tagged = (await request(bus.url, "/messages?to=ada&tag=deploy")).json.messages.map((m: { id: string }) => m.id).reverse();
  await waitFor("the tag filter's list", async () => JSON.stringify((await listed(ada)).sort()) === JSON.stringify([...tagged].sort()));
  const live = await post({ from: "kilo", to: "ada", body: "deploy done", tags: ["deploy"] });
  await post({ from: "kilo", to: "ada", body: "untagged" });
  await ada.page.waitForSelector(`li[data-id="${live}"]`);
  expect((await listed(ada)).sort()).toEqual([...tagged, live].sort());

  await fill(ada.page, "form.filters", "Tag", "");
  await fill(ada.page, "form.filters", "Sender", "kilo");
  await clickButton(ada.page, "form.filters", "Filter");
  const fromKilo = (await request(bus.url, "/messages?to=ada&from=kilo")).json.messages.map((m: { id: string }) => m.id).reverse();
  await waitFor("the sender filter's list", async () => JSON.stringify((await listed(ada)).sort()) === JSON.stringify([...fromKilo].sort()));
  await clickButton(ada.page, "form.filters", "Clear");
  await ada.page.waitForSelector("section.inbox .status:not(:empty)");
  expect((await listed(ada)).length).toBeGreaterThan(fromKilo.length);
});

test("a message to me raises a browser notification while the tab is in the background", async () => {
  const watcher = track(await signIn(browser, bus.url, "ada", secret));
  await watcher.context.overridePermissions(bus.url, ["notifications"]);
  // A spy around the browser's own Notification (it still shows one): what the app asked it to show.
  await watcher.page.evaluate(
    `(() => { const Real = window.Notification; window.shown = []; window.Notification = class extends Real { constructor(title, options) { super(title, options); window.shown.push([title, options.body]); } }; })()`,
  );
  const front = await watcher.context.newPage();
  await front.bringToFront();
  await waitFor("the app's tab to be in the background", async () => (await watcher.page.evaluate(`document.visibilityState`)) === "hidden");
  const id = await post({ from: "lima", to: "ada", body: "needs you\nmore detail" });
  await post({ from: "ada", to: "lima", body: "my own: no notification" });
  await watcher.page.waitForSelector(`li[data-id="${id}"]`);
  await waitFor("the notification", async () => ((await watcher.page.evaluate(`window.shown.length`)) as number) > 0);
  expect(await watcher.page.evaluate(`window.shown`)).toEqual([["claude-bus: lima", "needs you"]]);
  await watcher.context.close();
});

test("the team invites a machine (code, link, command) and revokes it; a person who is not admin sees neither", async () => {
  const team = track(await signIn(browser, bus.url, USER, PASS));
  await clickButton(team.page, "header nav", "People");
  await fill(team.page, "form.invite", "Name", "m7");
  await clickButton(team.page, "form.invite", "Invite");
  const code = await textOf(team.page, ".invited .invite-code");
  expect(await textOf(team.page, ".invited .invite-link")).toBe(`${bus.url}/#join=${code}`);
  expect(await textOf(team.page, ".invited .invite-command")).toBe(`claude-bus bootstrap --invite ${code} --url ${bus.url}`);
  expect(await axeViolations(team.page)).toEqual([]);
  await screenshot(team.page, "people-invite");
  const enrolled = await postJson(bus.url, "/enroll", { code }, { auth: null });
  expect(enrolled.status).toBe(201);
  const m7: [string, string] = [enrolled.json.user, enrolled.json.pass];
  expect((await request(bus.url, "/health", { auth: m7 })).status).toBe(200);

  await clickButton(team.page, "header nav", "People");
  await clickButton(team.page, 'tr[data-name="m7"]', "Revoke");
  // The confirmation takes the focus: Enter confirms, as for a keyboard user.
  await team.page.waitForSelector('tr[data-name="m7"] button.danger:focus');
  await team.page.keyboard.press("Enter");
  await waitFor("m7 revoked", async () => (await request(bus.url, "/health", { auth: m7 })).status === 401);
  await team.page.waitForSelector('tr[data-name="m7"] ::-p-text(revoked)');
  await team.context.close();

  await clickButton(ada.page, "header nav", "People");
  await ada.page.waitForSelector('tr[data-name="m7"]');
  expect(await ada.page.$("form.invite")).toBeNull();
  expect(await ada.page.$("tr button.danger")).toBeNull();
});

test("a phone-sized screen (375 px) shows the inbox, a thread and the form without sideways scrolling", async () => {
  const phone = track(await signIn(browser, bus.url, "ada", secret, { width: 375, height: 740 }));
  const fits = () => phone.page.evaluate(`document.documentElement.scrollWidth <= window.innerWidth`);
  expect(await fits()).toBe(true);
  expect(await axeViolations(phone.page)).toEqual([]);
  await screenshot(phone.page, "phone-inbox");
  await phone.page.click("section.inbox li.item button");
  await phone.page.waitForSelector("section.thread article");
  await phone.page.waitForSelector("form.compose");
  expect(await fits()).toBe(true);
  await screenshot(phone.page, "phone-thread");
  await phone.context.close();
});

test("search finds words across the whole history, newest first, and More goes on where the bus stopped", async () => {
  const ids: string[] = [];
  for (let i = 0; i < 55; i++)
    ids.push(await post({ from: i % 2 ? "lima" : "kilo", to: i % 3 ? "bob" : "ada", body: `haystack ${i} with a Needle in it`, tags: ["hay"] }));
  await post({ from: "lima", to: "ada", body: "only hay here" });
  await clickButton(ada.page, "header nav", "Search");
  await fill(ada.page, "form.search", "Words", "needle HAYSTACK");
  await clickButton(ada.page, "form.search", "Search");
  const shown = () => ada.page.evaluate(`[...document.querySelectorAll("section.search-view li.item")].map((li) => li.dataset.id)`) as Promise<string[]>;
  await waitFor("the first page of results", async () => (await shown()).length === 50);
  expect(await shown()).toEqual([...ids].reverse().slice(0, 50));
  expect(await axeViolations(ada.page)).toEqual([]);
  await screenshot(ada.page, "search");
  await clickButton(ada.page, "section.search-view", "More");
  await waitFor("every result", async () => (await shown()).length === 55);
  expect(await shown()).toEqual([...ids].reverse());
  await ada.page.waitForSelector("section.search-view button[hidden]::-p-text(More)");
  // A result opens its conversation, whoever it was to.
  await ada.page.click(`section.search-view li[data-id="${ids[1]}"] button`);
  expect(await textOf(ada.page, `article[data-id="${ids[1]}"] .body`)).toBe("haystack 1 with a Needle in it");
});

test("settings: forwarding to an ntfy topic is set (the token never shown again) and stopped", async () => {
  await clickButton(ada.page, "header nav", "Settings");
  await ada.page.waitForSelector("section.settings .status::-p-text(forwarding is off)");
  await fill(ada.page, "form.notify", "ntfy topic URL", "http://127.0.0.1:9/ada-topic");
  await fill(ada.page, "form.notify", "Access token", "tk_not_shown_again");
  await ada.page.select("form.notify select[name=mode]", "first-line");
  await clickButton(ada.page, "form.notify", "Save");
  await ada.page.waitForSelector("section.settings .status::-p-text(saved: forwarding is on)");
  expect((await request(bus.url, "/settings/notify", { auth: asAda() })).json).toEqual({
    url: "http://127.0.0.1:9/ada-topic",
    mode: "first-line",
    token_set: true,
  });
  expect(await ada.page.evaluate(`document.querySelector("form.notify input[name=token]").value`)).toBe("");
  expect(await axeViolations(ada.page)).toEqual([]);
  await screenshot(ada.page, "settings");
  await clickButton(ada.page, "form.notify", "Stop forwarding");
  await ada.page.waitForSelector("section.settings .status::-p-text(forwarding is off)");
  expect((await request(bus.url, "/settings/notify", { auth: asAda() })).status).toBe(404);
});

test("signing out ends the session on the bus, not just in the browser", async () => {
  const [cookie] = await ada.page.cookies();
  expect((await request(bus.url, "/session", { auth: null, headers: { Cookie: `${SESSION_COOKIE}=${cookie!.value}` } })).status).toBe(200);
  await clickButton(ada.page, "header", "Sign out");
  await ada.page.waitForSelector("form.signin");
  expect(await ada.page.cookies()).toEqual([]);
  expect((await request(bus.url, "/session", { auth: null, headers: { Cookie: `${SESSION_COOKIE}=${cookie!.value}` } })).status).toBe(401);
  await ada.context.close();
});
