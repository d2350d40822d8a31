/**
 * GET /messages's answer, streamed: one message is read, serialized and written at a time, waiting for
 * the socket to drain, so a request's memory is bounded by one message whatever the store holds. The
 * page stops at `limit` or at MAX_PAGE_BYTES (never before its first message), and `"more": true` says
 * that further messages match.
 */
import type { Response } from "express";
import { MAX_PAGE_BYTES } from "../../contract/defaults";
import type { Selection } from "./messageIndex";
import type { BusStore } from "./store";

export async function writePage(res: Response, store: BusStore, q: Selection, maxBytes = MAX_PAGE_BYTES): Promise<void> {
  const candidates = store.select({ ...q, limit: q.limit + 1 });
  res.status(200).type("application/json");
  let written = 0;
  let bytes = 0;
  let more = candidates.length > q.limit;
  const out = (text: string) => (res.write(text) ? undefined : drained(res));
  await out('{"messages":[');
  for (const n of candidates.slice(0, q.limit)) {
    if (res.destroyed) return; // the client left: nothing more to read for it
    const json = store.messageJson(n);
    const size = Buffer.byteLength(json);
    if (written > 0 && bytes + size > maxBytes) {
      more = true;
      break;
    }
    await out(written > 0 ? `,${json}` : json);
    written++;
    bytes += size;
  }
  // Only when true: a short answer reads exactly as it did before `more` existed.
  res.end(more ? `],"more":true}\n` : "]}\n");
}

function drained(res: Response): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done).off("close", done);
      resolve();
    };
    res.on("drain", done).on("close", done);
  });
}
