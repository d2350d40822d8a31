/** Holding a GET /claims?resource=R&wait=N until R is free (released or expired), its time is up, or its client leaves. */
import type { Response } from "express";
import { holdRequest } from "../http/longPoll";
import type { ClaimStore } from "./claimStore";

/** Resolves true when the answer should be given now (R is free, time is up, or the bus is closing); false when the client left. */
export async function waitUntilFree(claims: ClaimStore, resource: string, ms: number, res: Response): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    const held = claims.holderOf(resource);
    const now = Date.now();
    if (!held || now >= deadline || claims.closing) return true;
    // Woken by a release, or at the claim's expiry (a renewal moves it: then wait on), or at the deadline.
    const until = Math.min(deadline, Date.parse(held.expires));
    if (!(await holdRequest(res, Math.max(0, until - now), [(wake) => claims.whenReleased(resource, wake)]))) return false;
  }
}
