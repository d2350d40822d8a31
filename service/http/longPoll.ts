/** Holding a GET /messages until a matching message is stored, its time is up, or its client leaves. */
import type { Response } from "express";
import type { Query, Waiters } from "../store/waiters";

/**
 * Resolves true when the page should be answered now (a match, time is up, or `interrupt` calls its wake:
 * the caller then decides the answer); false when the client left.
 */
export function waitForMessage(
  waiters: Waiters,
  query: Query,
  ms: number,
  res: Response,
  interrupt: (wake: () => void) => () => void = () => () => undefined,
): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (answer: boolean) => {
      clearTimeout(timer);
      cancel();
      stopInterrupt();
      res.off("close", left);
      resolve(answer);
    };
    const left = () => done(false);
    const cancel = waiters.add(query, () => done(true));
    const stopInterrupt = interrupt(() => done(true));
    const timer = setTimeout(() => done(true), ms);
    res.on("close", left);
  });
}
