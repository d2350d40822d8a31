/** Holding a request (a long-poll) until something it waits for happens, its time is up, or its client leaves. */
import type { Response } from "express";
import type { Query, Waiters } from "../store/waiters";

/** A way to be woken: it calls `wake` (at most once matters) and returns its cancel function. */
export type Subscription = (wake: () => void) => () => void;

/**
 * Resolves true when the request should be answered now (one of `subscriptions` woke it, or time is up:
 * the caller then decides the answer); false when the client left.
 */
export function holdRequest(res: Response, ms: number, subscriptions: Subscription[]): Promise<boolean> {
  return new Promise((resolve) => {
    let finished = false;
    const done = (answer: boolean) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      for (const cancel of cancels) cancel();
      res.off("close", left);
      resolve(answer);
    };
    const left = () => done(false);
    const cancels: Array<() => void> = [];
    const timer = setTimeout(() => done(true), ms);
    res.on("close", left);
    for (const subscribe of subscriptions) {
      const cancel = subscribe(() => done(true));
      // Woken while subscribing: cancel at once what done() could not reach yet.
      if (finished) cancel();
      else cancels.push(cancel);
    }
  });
}

/** Holds a GET /messages until a matching message is stored, its time is up, `interrupt` wakes it, or its client leaves. */
export function waitForMessage(waiters: Waiters, query: Query, ms: number, res: Response, interrupt: Subscription = () => () => undefined): Promise<boolean> {
  return holdRequest(res, ms, [(wake) => waiters.add(query, wake), interrupt]);
}
