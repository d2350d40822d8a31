/** A browser notification for each new message to me while the app is in a background tab. */
import type { Message } from "./api";
import { visible } from "./dom";
import { firstLine } from "./format";
import { isToMe } from "./inboxStore";

export const notificationsSupported = () => "Notification" in window;

export function notifyInBackground(fresh: Message[], me: string): void {
  if (!notificationsSupported() || Notification.permission !== "granted" || document.visibilityState === "visible") return;
  for (const m of fresh) {
    if (!isToMe(m, me) || m.from === me) continue;
    // Plain text only: a notification's title and body are never markup.
    new Notification(`claude-bus: ${visible(m.from)}`, { body: visible(firstLine(m.body)), tag: `claude-bus-${m.id}` });
  }
}
