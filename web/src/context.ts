/** What every screen of the signed-in app is given. */
import type { Message, Session } from "./api";
import { type Child, el } from "./dom";
import type { InboxStore } from "./inboxStore";

export interface View {
  title: string;
  node: HTMLElement;
  /** Called when another screen replaces this one. */
  dispose?: () => void;
}

/** A screen: its title (the document's and its heading, which takes the focus on arrival) over its parts. */
export function screen(title: string, className: string, ...parts: Child[]): View {
  return { title, node: el("section", { class: className }, el("h2", { tabindex: "-1" }, title), ...parts) };
}

export interface Ctx {
  session: Session;
  store: InboxStore;
  /** Names known on the bus (for the To field). */
  names: () => string[];
  show: (view: View) => void;
  openThread: (m: Message) => void;
  /** Whether this session may invite and revoke (the team credential or an admin person). */
  admin: boolean;
}
