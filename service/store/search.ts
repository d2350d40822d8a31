/**
 * Full-text search (GET /messages?q=...): walks the messages newest first from `before`, keeps those that
 * pass the filters and hold every word (case-insensitive) in the body, the sender, the recipient, a tag or
 * an attachment's name, and stops at `limit` matches, a page of MAX_PAGE_BYTES, or the scan's bound
 * (SEARCH_SCAN_MESSAGES looked at, or SEARCH_SCAN_BYTES of them read), whichever comes first. No index of words:
 * the bound keeps each request's cost the same however large the store, and `before` lets the client go on.
 */
import type { Response } from "express";
import { MAX_PAGE_BYTES, SEARCH_SCAN_BYTES, SEARCH_SCAN_MESSAGES } from "../../contract/defaults";
import type { Message } from "../../contract/message";
import { searchWords } from "../../contract/search";
import type { Selection } from "./messageIndex";
import type { BusStore } from "./store";

export interface Search {
  q: string;
  before?: number;
  limit: number;
  filters: Omit<Selection, "limit" | "since" | "unreadBy">;
}

export interface ScanBounds {
  messages: number;
  bytes: number;
  pageBytes: number;
}
export const SEARCH_BOUNDS: ScanBounds = { messages: SEARCH_SCAN_MESSAGES, bytes: SEARCH_SCAN_BYTES, pageBytes: MAX_PAGE_BYTES };

/** Messages read between two turns of the event loop, so a long scan never holds up other requests. */
const SCAN_SLICE = 500;

const haystack = (m: Message) => [m.body, m.from, m.to, ...m.tags, ...(m.attachments ?? []).map((a) => a.name)].join("\n").toLowerCase();

export async function writeSearch(res: Response, store: BusStore, search: Search, bounds: ScanBounds = SEARCH_BOUNDS): Promise<void> {
  const words = searchWords(search.q);
  const oldest = store.oldest ?? 1;
  let n = Math.min(search.before === undefined ? store.newest : search.before - 1, store.newest);
  const found: string[] = [];
  let scanned = 0;
  let scannedBytes = 0;
  let pageBytes = 0;
  for (; n >= oldest; n--) {
    if (found.length >= search.limit || scanned >= bounds.messages || scannedBytes >= bounds.bytes) break;
    if (++scanned % SCAN_SLICE === 0) {
      await new Promise((resolve) => setImmediate(resolve));
      if (res.destroyed) return; // the client left
    }
    if (!store.matches(n, { ...search.filters, since: 0 })) continue;
    const json = store.messageJson(n);
    scannedBytes += json.length;
    if (!words.every((word) => haystack(JSON.parse(json) as Message).includes(word))) continue;
    const size = Buffer.byteLength(json);
    if (found.length > 0 && pageBytes + size > bounds.pageBytes) break; // this one starts the next page
    found.push(json);
    pageBytes += size;
  }
  const more = n >= oldest;
  res.status(200).type("application/json");
  res.end(`{"messages":[${found.join(",")}],"more":${more},"before":${more ? JSON.stringify(String(n + 1)) : "null"}}\n`);
}
