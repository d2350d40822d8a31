/** Search across the whole history (GET /messages?q=): newest first, "More" goes on where the bus stopped. */
import { api, type Page, withQuery } from "./api";
import type { Ctx, View } from "./context";
import { el, field, replace, status } from "./dom";
import { messageItem } from "./messageView";

export function searchView(ctx: Ctx, initial = ""): View {
  const me = ctx.session.name;
  const q = el("input", { type: "search", name: "q", autocomplete: "off", required: true });
  q.value = initial;
  const list = el("ul", { class: "list", "aria-label": "search results" });
  const say = status();
  const more = el("button", { type: "button", hidden: true }, "More");
  let before: string | undefined;
  let words = "";
  let found = 0;

  const run = async (fresh: boolean) => {
    if (fresh) {
      words = q.value.trim();
      before = undefined;
      found = 0;
      replace(list);
    }
    more.hidden = true;
    say.textContent = "searching…";
    try {
      const page = await api<Page>("GET", withQuery("/messages", { q: words, before, limit: 50 }));
      found += page.messages.length;
      for (const m of page.messages) list.appendChild(messageItem(m, me, ctx.openThread));
      before = page.before;
      more.hidden = !page.more;
      say.textContent = `${found} found${page.more ? " so far" : ""}`;
    } catch (error) {
      say.textContent = `search failed: ${(error as Error).message}`;
    }
  };
  more.addEventListener("click", () => void run(false));
  const form = el(
    "form",
    { role: "search", class: "search", "aria-label": "search messages" },
    field("Words", q, "every word must occur in the body, a name, a tag or a file name"),
    el("div", { class: "actions" }, el("button", { type: "submit", class: "primary" }, "Search")),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    void run(true);
  });
  if (initial) void run(true);
  return { title: "Search", node: el("section", { class: "search-view" }, el("h2", { tabindex: "-1" }, "Search"), form, say, list, more) };
}
