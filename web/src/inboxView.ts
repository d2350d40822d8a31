/** The inbox: my messages and broadcasts, unread first, filtered by sender, tag or thread; live. */
import { allMessages, type Message } from "./api";
import { type Ctx, screen, type View } from "./context";
import { el, field, replace, status } from "./dom";
import { isToMe } from "./inboxStore";
import { messageItem } from "./messageView";

export interface Filter {
  from?: string;
  tag?: string;
  thread?: string;
}

const matches = (m: Message, f: Filter) => (!f.from || m.from === f.from) && (!f.tag || m.tags.includes(f.tag)) && (!f.thread || m.thread === f.thread);

export function inboxView(ctx: Ctx, filter: Filter = {}): View {
  const { store, session } = ctx;
  const me = session.name;
  const list = el("ul", { class: "list", "aria-label": "messages" });
  const say = status();
  const from = el("input", { name: "from", autocomplete: "off", spellcheck: "false" });
  const tag = el("input", { name: "tag", autocomplete: "off" });
  const thread = el("input", { name: "thread", inputmode: "numeric", autocomplete: "off" });
  from.value = filter.from ?? "";
  tag.value = filter.tag ?? "";
  thread.value = filter.thread ?? "";
  const filtered = Boolean(filter.from || filter.tag || filter.thread);
  // A filtered view asks the bus (it sees past what the app holds); live messages that match join it.
  let held: Message[] | null = null;

  const render = () => {
    const source = held ?? [...store.messages.values()];
    const shown = store.sorted(source.filter((m) => matches(m, filter)));
    const unread = store.unreadCount();
    say.textContent = `${shown.length} message${shown.length === 1 ? "" : "s"}${filtered ? " matching" : ""}, ${unread} unread`;
    replace(list, ...shown.map((m) => messageItem(m, me, ctx.openThread)), shown.length === 0 ? el("li", { class: "empty" }, "No messages.") : null);
  };
  const off = store.on((fresh) => {
    if (held) for (const m of fresh) if (isToMe(m, me) && matches(m, filter) && !held.some((h) => h.id === m.id)) held.push(m);
    render();
  });
  if (filtered) {
    say.textContent = "loading…";
    allMessages({ to: me, from: filter.from, tag: filter.tag, thread: filter.thread })
      .then((messages) => {
        held = messages.map((m) => store.messages.get(m.id) ?? m);
        render();
      })
      .catch((error: Error) => (say.textContent = `could not load: ${error.message}`));
  } else render();

  const form = el(
    "form",
    { class: "filters", role: "search", "aria-label": "filter the inbox" },
    field("Sender", from),
    field("Tag", tag),
    field("Thread", thread),
    el(
      "div",
      { class: "actions" },
      el("button", { type: "submit" }, "Filter"),
      filtered ? el("button", { type: "button", onclick: () => ctx.show(inboxView(ctx)) }, "Clear") : null,
    ),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    ctx.show(inboxView(ctx, { from: from.value.trim(), tag: tag.value.trim(), thread: thread.value.trim() }));
  });
  const markAll = el(
    "button",
    { type: "button", onclick: () => void store.markRead([...(held ?? store.messages.values())]).catch((error: Error) => (say.textContent = error.message)) },
    "Mark all read",
  );
  return { ...screen("Inbox", "inbox", form, el("div", { class: "toolbar" }, markAll), say, list), dispose: off };
}
