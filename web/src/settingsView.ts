/** Settings: forwarding my messages to an ntfy topic (for a phone), and this browser's notifications. */
import { api, ApiError } from "./api";
import { type Ctx, screen, type View } from "./context";
import { el, field, status } from "./dom";
import { notificationsSupported } from "./notify";

interface NotifySettings {
  url: string;
  mode: "ping" | "first-line";
  token_set: boolean;
}

export function settingsView(_ctx: Ctx): View {
  const url = el("input", { type: "url", name: "url", required: true, placeholder: "https://ntfy.sh/my-topic", autocomplete: "off" });
  const token = el("input", { type: "password", name: "token", autocomplete: "off" });
  const mode = el("select", { name: "mode" }, el("option", { value: "ping" }, "a ping only"), el("option", { value: "first-line" }, "sender and first line"));
  const say = status("loading…");
  const remove = el("button", { type: "button", hidden: true }, "Stop forwarding");

  const load = async () => {
    try {
      const current = await api<NotifySettings>("GET", "/settings/notify");
      url.value = current.url;
      mode.value = current.mode;
      token.placeholder = current.token_set ? "(kept; type to replace)" : "";
      remove.hidden = false;
      say.textContent = "forwarding is on";
    } catch (error) {
      say.textContent = error instanceof ApiError && error.status === 404 ? "forwarding is off" : `could not load: ${(error as Error).message}`;
      remove.hidden = true;
    }
  };
  const form = el(
    "form",
    { class: "notify", "aria-label": "phone notifications" },
    field("ntfy topic URL", url, "your own ntfy server's topic, or one on ntfy.sh"),
    field("Access token", token, "optional; never shown again"),
    field("What to send", mode),
    el("div", { class: "actions" }, el("button", { type: "submit", class: "primary" }, "Save"), remove),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      await api("PUT", "/settings/notify", { url: url.value.trim(), mode: mode.value, ...(token.value !== "" && { token: token.value }) });
      token.value = "";
      await load();
      say.textContent = "saved: forwarding is on";
    } catch (error) {
      say.textContent = `not saved: ${(error as Error).message}`;
    }
  });
  remove.addEventListener("click", async () => {
    try {
      await api("DELETE", "/settings/notify");
      form.reset();
      await load();
    } catch (error) {
      say.textContent = `not removed: ${(error as Error).message}`;
    }
  });

  const browserSay = status(notificationsSupported() ? `browser notifications: ${Notification.permission}` : "this browser has no notifications");
  const allow = el("button", { type: "button", hidden: !notificationsSupported() || Notification.permission !== "default" }, "Allow browser notifications");
  allow.addEventListener("click", async () => {
    const answer = await Notification.requestPermission();
    browserSay.textContent = `browser notifications: ${answer}`;
    allow.hidden = answer !== "default";
  });

  void load();
  return screen(
    "Settings",
    "settings",
    el("h3", {}, "Phone notifications (ntfy)"),
    el("p", {}, "Install the ntfy app, subscribe to a topic, and enter that topic's URL here: each message to you is forwarded to it."),
    form,
    say,
    el("h3", {}, "This browser"),
    el("p", {}, "While this page is open in a background tab, each new message to you shows a notification."),
    allow,
    browserSay,
  );
}
