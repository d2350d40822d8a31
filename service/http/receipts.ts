/**
 * Receipts (docs/API.md "Receipts"): GET /messages/<id>/receipt?reader=NAME answers when NAME acked the
 * message (`read_at`, null while it has not), and with `wait=N` holds until it does, like the message
 * long-poll and counted among the same long-polls. A waiter costs one entry here and its open request.
 */
import { ReceiptQuerySchema } from "../../contract/claims";
import { MESSAGE_ID_PATTERN } from "../../contract/message";
import { authorize } from "../members/access";
import { identityOf } from "../members/authenticate";
import type { BusStore } from "../store/store";
import { HttpError } from "./httpErrors";
import { parseQuery, sendJson } from "./json";
import { holdRequest } from "./longPoll";
import { type LongPollSlots, takeLongPollSlot } from "./longPollSlots";
import type { Routes } from "./routes";
import { WakeSets } from "./wakeSets";

/** Who waits for which reader's ack of which message. */
export class ReceiptWaiters {
  private readonly byAck = new WakeSets<string>();

  /** Calls `wake` once when `reader` acks message n; returns the cancel function. */
  add(n: number, reader: string, wake: () => void): () => void {
    return this.byAck.add(`${n}/${reader}`, wake);
  }

  /** `reader` acked `ids`: wake who waits for those acks. */
  acked(reader: string, ids: readonly number[]): void {
    for (const n of ids) this.byAck.wake(`${n}/${reader}`);
  }

  /** Wakes every waiter (at shutdown: they answer what they have). */
  wakeAll(): void {
    this.byAck.wakeAll();
  }
}

const iso = (time: number | undefined) => (time === undefined || !Number.isFinite(time) ? null : new Date(time).toISOString());

export function addReceiptRoutes(routes: Routes, store: BusStore, receipts: ReceiptWaiters, longPolls: LongPollSlots): void {
  routes.get("/messages/:id/receipt", async (req, res) => {
    const identity = identityOf(res);
    authorize(identity, "read");
    const id = req.params.id as string;
    const q = parseQuery(ReceiptQuerySchema, req.query);
    const n = Number(id);
    if (!MESSAGE_ID_PATTERN.test(id) || !store.has(n)) throw new HttpError("notFound", `no message with id ${JSON.stringify(id)}`);
    const wait = Number(q.wait ?? 0) * 1000;
    if (wait > 0 && store.ackTimeOf(n, q.reader) === undefined) {
      const slot = takeLongPollSlot(longPolls, identity, res, wait);
      try {
        const stayed = await holdRequest(res, wait, [(wake) => receipts.add(n, q.reader, wake)]);
        if (!stayed) return;
      } finally {
        slot.release();
      }
    }
    // The message may have been removed by retention meanwhile: its receipt went with it.
    if (!store.has(n)) throw new HttpError("notFound", `no message with id ${JSON.stringify(id)}`);
    sendJson(res, 200, { id, reader: q.reader, read_at: iso(store.ackTimeOf(n, q.reader)) });
  });
}
