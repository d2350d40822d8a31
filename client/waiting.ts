/** Waits longer than one long-poll: a claim taken once its holder lets go, a receipt once its reader acks. */
import type { Claim, ClaimRequest, Receipt } from "../contract/claims";
import { MAX_WAIT_SECONDS } from "../contract/defaults";
import { ClaimHeldError } from "./errors";
import type { BusClient } from "./index";

/** Seconds left until `deadline` (ms), as a long-poll's `wait`: at least 1 while any time is left, at most the bus's cap. */
const waitUntil = (deadline: number) => Math.min(MAX_WAIT_SECONDS, Math.max(1, Math.ceil((deadline - Date.now()) / 1000)));

/**
 * Claims `request.resource`; while another holds it, waits (long-polls) until it is free and tries again,
 * for up to `waitSeconds`. Resolves with the claim, or throws the last ClaimHeldError when time ran out.
 */
export async function claimWaiting(client: BusClient, request: ClaimRequest, waitSeconds: number): Promise<Claim> {
  const deadline = Date.now() + waitSeconds * 1000;
  for (;;) {
    try {
      return await client.claim(request);
    } catch (error) {
      if (!(error instanceof ClaimHeldError) || Date.now() >= deadline) throw error;
      await client.claims({ resource: request.resource, wait: waitUntil(deadline) });
    }
  }
}

/** Waits up to `waitSeconds` for `reader` to ack message `id`: the receipt, with `read_at` null when time ran out. */
export async function waitForReceipt(client: BusClient, id: string, reader: string, waitSeconds: number): Promise<Receipt> {
  const deadline = Date.now() + waitSeconds * 1000;
  for (;;) {
    const receipt = await client.receipt(id, reader, waitSeconds > 0 ? waitUntil(deadline) : 0);
    if (receipt.read_at !== null || Date.now() >= deadline) return receipt;
  }
}
