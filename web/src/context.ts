/** What every screen of the signed-in app is given. */
import type { Message, Session } from "./api";
import type { InboxStore } from "./inboxStore";

export interface View {
  title: string;
  node: HTMLElement;
  /** Called when another screen replaces this one. */
  dispose?: () => void;
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
