/** The signed-in app: the header with its navigation, one screen at a time below it, the live inbox behind. */
import { api, type Message, onSignedOut, type Session } from "./api";
import type { Ctx, View } from "./context";
import { el, replace, visible } from "./dom";
import { InboxStore } from "./inboxStore";
import { inboxView } from "./inboxView";
import { notifyInBackground } from "./notify";
import { peopleView } from "./peopleView";
import { searchView } from "./searchView";
import { signOut } from "./session";
import { settingsView } from "./settingsView";
import { threadView } from "./threadView";
import { composeForm } from "./composeView";

export async function startApp(root: HTMLElement, session: Session, signedOut: (note: string) => void): Promise<void> {
  const store = new InboxStore(session.name);
  const main = el("main", { id: "main", tabindex: "-1" });
  const unread = el("span", { class: "count", "aria-label": "unread" });
  let names: string[] = [];
  let current: View | null = null;

  const ctx: Ctx = {
    session,
    store,
    names: () => names,
    admin: session.kind === "team" || session.admin === true,
    show(view) {
      current?.dispose?.();
      current = view;
      replace(main, view.node);
      document.title = `${view.title} - claude-bus`;
      (view.node.querySelector("h2") as HTMLElement | null)?.focus();
    },
    openThread: (m: Message) => ctx.show(threadView(ctx, m)),
  };
  const compose = (): View => ({
    title: "New message",
    node: el(
      "section",
      { class: "new" },
      el("h2", { tabindex: "-1" }, "New message"),
      composeForm({
        me: session.name,
        names,
        sent: (m) => {
          store.add(m);
          ctx.openThread(m);
        },
      }),
    ),
  });
  const nav = (label: string, view: () => View) => el("button", { type: "button", onclick: () => ctx.show(view()) }, label);
  const out = el("button", { type: "button", class: "signout" }, "Sign out");
  out.addEventListener("click", async () => {
    store.stop();
    await signOut().catch(() => undefined);
    signedOut("signed out");
  });

  replace(
    root,
    el("a", { href: "#main", class: "skip" }, "Skip to content"),
    el(
      "header",
      { class: "top" },
      el("h1", {}, "claude-bus"),
      el(
        "nav",
        { "aria-label": "main" },
        el("button", { type: "button", onclick: () => ctx.show(inboxView(ctx)) }, "Inbox ", unread),
        nav("New message", compose),
        nav("Search", () => searchView(ctx)),
        nav("People", () => peopleView(ctx)),
        nav("Settings", () => settingsView(ctx)),
      ),
      el("p", { class: "me" }, "Signed in as ", el("strong", {}, visible(session.name)), " ", out),
    ),
    main,
  );

  onSignedOut(() => {
    store.stop();
    signedOut("the session ended: sign in again");
  });
  store.on((fresh) => {
    const n = store.unreadCount();
    unread.textContent = n > 0 ? String(n) : "";
    document.title = `${n > 0 ? `(${n}) ` : ""}${current?.title ?? "claude-bus"} - claude-bus`;
    notifyInBackground(fresh, session.name);
  });
  await store.load();
  unread.textContent = store.unreadCount() > 0 ? String(store.unreadCount()) : "";
  ctx.show(inboxView(ctx));
  api<{ machines: Array<{ name: string }> }>("GET", "/machines")
    .then((r) => (names = r.machines.map((m) => m.name)))
    .catch(() => undefined);
}
