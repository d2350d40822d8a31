/** A conversation: every message of a thread in order, marked read as it is shown, and a reply form. */
import { allMessages, type Message } from "./api";
import { composeForm } from "./composeView";
import type { Ctx, View } from "./context";
import { el, replace, status } from "./dom";
import { messageCard } from "./messageView";
import { inboxView } from "./inboxView";

export function threadView(ctx: Ctx, start: Message): View {
  const me = ctx.session.name;
  const threadId = start.thread ?? start.id;
  const cards = el("div", { class: "conversation" });
  const say = status("loading…");
  const replyBox = el("div", { class: "reply" });
  let messages: Message[] = [];

  const render = () => {
    replace(cards, ...messages.map((m) => messageCard(m, me)));
    const last = messages[messages.length - 1];
    if (last && !replyBox.firstChild) replace(replyBox, el("h3", {}, "Reply"), composeForm({ me, names: ctx.names(), replyTo: last, sent: (m) => add([m]) }));
  };
  const read = () => {
    if (document.visibilityState === "visible")
      void ctx.store
        .markRead(messages)
        .then(() => (say.textContent = ""))
        .catch((error: Error) => (say.textContent = error.message));
  };
  const add = (fresh: Message[]) => {
    const mine = fresh.filter((m) => (m.thread ?? m.id) === threadId && !messages.some((h) => h.id === m.id));
    if (mine.length === 0) return;
    messages.push(...mine);
    messages.sort((a, b) => Number(a.id) - Number(b.id));
    // The reply goes to the latest message.
    replace(replyBox);
    render();
    read();
  };
  const off = ctx.store.on((fresh) => add(fresh));
  const onVisible = () => read();
  document.addEventListener("visibilitychange", onVisible);
  allMessages({ thread: threadId })
    .then((list) => {
      messages = list.length > 0 ? list : [start];
      say.textContent = "";
      render();
      read();
    })
    .catch((error: Error) => (say.textContent = `could not load: ${error.message}`));

  return {
    title: `Thread ${threadId}`,
    node: el(
      "section",
      { class: "thread" },
      el(
        "div",
        { class: "toolbar" },
        el("button", { type: "button", onclick: () => ctx.show(inboxView(ctx)) }, "\u2190 Inbox"),
        el("button", { type: "button", onclick: () => ctx.show(inboxView(ctx, { thread: threadId })) }, "Filter inbox by this thread"),
      ),
      el("h2", { tabindex: "-1" }, `Conversation #${threadId}`),
      say,
      cards,
      replyBox,
    ),
    dispose: () => {
      off();
      document.removeEventListener("visibilitychange", onVisible);
    },
  };
}
