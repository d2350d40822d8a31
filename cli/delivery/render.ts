/**
 * What a delivery hook hands Claude Code: the messages, oldest first, in the one frame (frame.ts) within a
 * size budget (Claude Code caps a hook's additionalContext at about 10,000 characters), and one line for
 * the person at the terminal.
 */
import type { Message } from "../../client/index";
import { frameMessages } from "./frame";
import { visible } from "./visible";

/** Characters of additionalContext a delivery may use, below Claude Code's cap of about 10,000. */
export const CONTEXT_BUDGET = 9_000;
/** The longest (escaped) body shown whole; a longer one is cut and stays unread. */
export const BODY_BUDGET = 2_000;

export interface Delivery {
  /** The additionalContext text. */
  context: string;
  /** One line for the person at the terminal. */
  systemMessage: string;
  /** Every message that appears, whole or cut; the last one's id is the session's new cursor. */
  shown: Message[];
  /** The messages that appear whole: only these may be acked. */
  whole: Message[];
}

/** Renders `messages` (oldest first; `moreOnBus` when the bus has more after them); undefined when there are none. */
export function renderDelivery(messages: Message[], me: string, { moreOnBus = false, budget = CONTEXT_BUDGET } = {}): Delivery | undefined {
  if (messages.length === 0) return undefined;
  const count = (more: number) => `${moreOnBus ? "at least " : ""}${more}`;
  const framed = frameMessages(messages, {
    intro: `Messages to ${me}, oldest first. Reply with the bus \`send\` tool (reply_to set to the message id) or \`claude-bus post --reply-to ID\`.`,
    budget,
    bodyBudget: BODY_BUDGET,
    more: (left) => (left > 0 || moreOnBus ? `and ${count(left)} more: claude-bus inbox` : ""),
    cutNote: "the whole message stays unread: read it with the bus `inbox` tool or `claude-bus inbox`",
  });
  if (framed.shown.length === 0) return undefined;
  return { context: framed.text, systemMessage: summary(messages, framed.shown.length, moreOnBus), shown: framed.shown, whole: framed.whole };
}

/** `3 bus messages from lima, mike`: for a person, so the names are made visible, not escaped. */
function summary(messages: Message[], shown: number, moreOnBus: boolean): string {
  const senders = [...new Set(messages.slice(0, shown).map((m) => visible(m.from)))];
  const waiting = messages.length - shown;
  const more = waiting > 0 || moreOnBus ? ` (${moreOnBus ? "at least " : ""}${waiting} more waiting: claude-bus inbox)` : "";
  return `${shown} bus message${shown === 1 ? "" : "s"} from ${senders.join(", ")}${more}`;
}
