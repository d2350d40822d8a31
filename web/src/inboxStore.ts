/**
 * My inbox (messages to me and broadcasts) as the app holds it: loaded once, then kept current by a
 * long-poll (`wait=`) so a new message shows within a second; read marks go to the bus as the same acks
 * agents send (POST /ack).
 */
import { allMessages, api, ApiError, type Message, type Page, withQuery } from "./api";

/** Seconds a long-poll waits for a message (the bus allows up to 60; nginx waits longer). */
const WAIT_SECONDS = 25;
const RETRY_MS = 2000;
const ACK_BATCH = 500;

export type Listener = (fresh: Message[]) => void;

export const isUnread = (m: Message, me: string) => m.from !== me && !m.read_by.includes(me);
export const isToMe = (m: Message, me: string) => m.to === me || m.to === "any";

export class InboxStore {
  readonly messages = new Map<string, Message>();
  private listeners = new Set<Listener>();
  private since = "0";
  private abort = new AbortController();

  constructor(readonly me: string) {}

  async load(): Promise<void> {
    for (const m of await allMessages({ to: this.me })) this.messages.set(m.id, m);
    this.since = [...this.messages.keys()].pop() ?? "0";
    void this.poll();
  }

  on(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  stop(): void {
    this.abort.abort();
  }

  unreadCount(): number {
    let n = 0;
    for (const m of this.messages.values()) if (isUnread(m, this.me)) n++;
    return n;
  }

  /** Newest first, unread before read. */
  sorted(list: Iterable<Message> = this.messages.values()): Message[] {
    const key = (m: Message) => (isUnread(m, this.me) ? 0 : 1);
    return [...list].sort((a, b) => key(a) - key(b) || Number(b.id) - Number(a.id));
  }

  /** Marks these read (those of my inbox not read yet), as an agent's ack does. */
  async markRead(messages: Message[]): Promise<void> {
    const ids = messages.filter((m) => isToMe(m, this.me) && isUnread(m, this.me)).map((m) => m.id);
    // POST /ack takes at most ACK_BATCH ids at a time.
    for (let i = 0; i < ids.length; i += ACK_BATCH) await api("POST", "/ack", { reader: this.me, ids: ids.slice(i, i + ACK_BATCH) });
    if (ids.length === 0) return;
    for (const m of messages) {
      if (ids.includes(m.id) && !m.read_by.includes(this.me)) m.read_by.push(this.me);
      const held = this.messages.get(m.id);
      if (held && held !== m && ids.includes(m.id) && !held.read_by.includes(this.me)) held.read_by.push(this.me);
    }
    this.emit([]);
  }

  /** Takes in a message this app just posted (the long-poll brings it too; it is held once). */
  add(m: Message): void {
    if (isToMe(m, this.me) && !this.messages.has(m.id)) {
      this.messages.set(m.id, m);
      this.emit([]);
    }
  }

  private emit(fresh: Message[]): void {
    for (const listener of this.listeners) listener(fresh);
  }

  private async poll(): Promise<void> {
    const { signal } = this.abort;
    while (!signal.aborted) {
      try {
        const page = await api<Page>("GET", withQuery("/messages", { to: this.me, since: this.since, wait: WAIT_SECONDS, limit: 500 }), undefined, { signal });
        const fresh = page.messages.filter((m) => !this.messages.has(m.id));
        for (const m of page.messages) this.messages.set(m.id, m);
        if (page.messages.length > 0) this.since = page.messages[page.messages.length - 1]!.id;
        if (fresh.length > 0) this.emit(fresh);
      } catch (error) {
        if (signal.aborted || (error instanceof ApiError && error.status === 401)) return;
        await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
      }
    }
  }
}
