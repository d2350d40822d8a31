/** A message as a line of a list, and whole in a conversation: every sender string as visible text. */
import { fileUrl, type Message } from "./api";
import { el, visible } from "./dom";
import { firstLine, size, when } from "./format";
import { isUnread } from "./inboxStore";

const recipient = (to: string) => (to === "any" ? "everyone" : visible(to));

/** One line of the inbox or of search results: a button that opens the conversation. */
export function messageItem(m: Message, me: string, open: (m: Message) => void): HTMLElement {
  const unread = isUnread(m, me);
  const files = m.attachments?.length ?? 0;
  return el(
    "li",
    { class: unread ? "item unread" : "item", "data-id": m.id },
    el(
      "button",
      { type: "button", class: "item-open", onclick: () => open(m) },
      el(
        "span",
        { class: "item-head" },
        el("strong", { class: "from" }, visible(m.from)),
        " \u2192 ",
        el("span", { class: "to" }, recipient(m.to)),
        el("time", { datetime: m.ts }, when(m.ts)),
      ),
      el("span", { class: "item-body" }, visible(firstLine(m.body))),
      el(
        "span",
        { class: "item-meta" },
        ...m.tags.map((t) => el("span", { class: "tag" }, visible(t))),
        files > 0 ? el("span", { class: "files" }, `${files} file${files === 1 ? "" : "s"}`) : null,
        unread ? el("span", { class: "badge" }, "unread") : null,
      ),
    ),
  );
}

/** A message whole, as in a conversation: header, body, tags, attachments to download. */
export function messageCard(m: Message, me: string): HTMLElement {
  return el(
    "article",
    { class: isUnread(m, me) ? "card unread" : "card", "data-id": m.id, "aria-label": `message ${m.id} from ${visible(m.from)}` },
    el(
      "header",
      { class: "card-head" },
      el("strong", { class: "from" }, visible(m.from)),
      m.verified ? el("span", { class: "verified", title: "posted with its own credential" }, "verified") : null,
      " \u2192 ",
      el("span", { class: "to" }, recipient(m.to)),
      el("time", { datetime: m.ts }, when(m.ts)),
      el("span", { class: "id" }, `#${m.id}`),
    ),
    el("div", { class: "body" }, visible(m.body)),
    m.tags.length > 0 ? el("p", { class: "tags" }, ...m.tags.map((t) => el("span", { class: "tag" }, visible(t)))) : null,
    m.attachments?.length
      ? el(
          "ul",
          { class: "attachments", "aria-label": "attached files" },
          ...m.attachments.map((a) =>
            el(
              "li",
              {},
              // Our own path; the name only as a query value and as text, and `download` keeps the browser from showing it.
              el("a", { href: fileUrl(a), download: visible(a.name), class: "file" }, visible(a.name)),
              el("span", { class: "size" }, ` ${size(a.size)}`),
            ),
          ),
        )
      : null,
  );
}
