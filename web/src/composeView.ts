/**
 * Writing: to a name or everyone, tags, files picked or dropped (uploaded as the CLI does, with progress),
 * as a new conversation or a reply in one. An Idempotency-Key makes a repeated send post once.
 */
import { api, type Attachment, type Message } from "./api";
import { el, field, replace, status, visible } from "./dom";
import { size } from "./format";
import { uploadFile } from "./upload";

export interface ComposeOptions {
  me: string;
  names: string[];
  /** Replying: the message answered (its thread is the conversation). */
  replyTo?: Message;
  sent: (m: Message) => void;
}

const randomKey = () => Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");

export function composeForm({ me, names, replyTo, sent }: ComposeOptions): HTMLFormElement {
  const id = replyTo ? `reply-${replyTo.id}` : "new";
  const to = el("input", { name: "to", id: `${id}-to`, list: `${id}-names`, autocomplete: "off", spellcheck: "false", placeholder: "everyone" });
  if (replyTo) to.value = replyTo.from === me ? (replyTo.to === "any" ? "" : replyTo.to) : replyTo.from;
  const names$ = el("datalist", { id: `${id}-names` }, ...names.map((n) => el("option", { value: n })));
  const tags = el("input", { name: "tags", autocomplete: "off", placeholder: "build, review" });
  if (replyTo) tags.value = replyTo.tags.join(", ");
  const body = el("textarea", { name: "body", required: true, rows: "5" });
  const picker = el("input", { type: "file", name: "files", multiple: true });
  const chosen: File[] = [];
  const fileList = el("ul", { class: "chosen", "aria-label": "files to attach" });
  const progress = new Map<File, HTMLProgressElement>();
  const say = status();
  const send = el("button", { type: "submit", class: "primary" }, replyTo ? "Send reply" : "Send");

  const showFiles = () =>
    replace(
      fileList,
      ...chosen.map((file, i) => {
        const bar = progress.get(file) ?? el("progress", { max: String(Math.max(file.size, 1)), value: "0", "aria-label": `upload of ${visible(file.name)}` });
        progress.set(file, bar);
        return el(
          "li",
          {},
          el("span", { class: "name" }, visible(file.name)),
          ` ${size(file.size)} `,
          bar,
          el(
            "button",
            {
              type: "button",
              class: "link",
              "aria-label": `remove ${visible(file.name)}`,
              onclick: () => {
                chosen.splice(i, 1);
                showFiles();
              },
            },
            "Remove",
          ),
        );
      }),
    );
  const take = (files: FileList | null) => {
    for (const file of Array.from(files ?? [])) chosen.push(file);
    showFiles();
  };
  picker.addEventListener("change", () => {
    take(picker.files);
    picker.value = "";
  });

  // One key per message: a send repeated after a lost answer posts it once.
  let key = randomKey();
  const form = el(
    "form",
    { class: "compose", "aria-label": replyTo ? "reply" : "new message" },
    field("To", to, "a name, or empty for everyone"),
    names$,
    field("Tags", tags, "separated by commas"),
    field(replyTo ? "Reply" : "Message", body),
    el("div", { class: "drop", "data-drop": "" }, field("Attach files", picker, "or drop them here"), fileList),
    el("div", { class: "actions" }, send),
    say,
  );
  form.addEventListener("dragover", (e) => {
    e.preventDefault();
    form.classList.add("dragging");
  });
  form.addEventListener("dragleave", () => form.classList.remove("dragging"));
  form.addEventListener("drop", (e) => {
    e.preventDefault();
    form.classList.remove("dragging");
    take(e.dataTransfer?.files ?? null);
  });
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    send.disabled = true;
    try {
      const attachments: Attachment[] = [];
      for (const file of chosen) {
        const bar = progress.get(file)!;
        attachments.push(
          await uploadFile(file, (done, total, phase) => {
            bar.max = Math.max(total, 1);
            bar.value = done;
            say.textContent = `${phase} ${visible(file.name)}: ${size(done)} of ${size(total)}`;
          }),
        );
      }
      say.textContent = "sending…";
      const tagList = tags.value
        .split(",")
        .map((t) => t.trim())
        .filter((t) => t !== "");
      const message = await api<Message>(
        "POST",
        "/post",
        {
          from: me,
          ...(to.value.trim() !== "" && { to: to.value.trim() }),
          body: body.value,
          ...(tagList.length > 0 && { tags: tagList }),
          ...(replyTo && { reply_to: replyTo.id }),
          // A post names its files by hash and name; the bus knows their sizes.
          ...(attachments.length > 0 && { attachments: attachments.map(({ sha256, name }) => ({ sha256, name })) }),
        },
        { headers: { "idempotency-key": key } },
      );
      key = randomKey();
      say.textContent = `sent as #${message.id}`;
      form.reset();
      chosen.length = 0;
      progress.clear();
      showFiles();
      sent(message);
    } catch (error) {
      say.textContent = `not sent: ${(error as Error).message}`;
    } finally {
      send.disabled = false;
    }
  });
  return form;
}
