/**
 * The routes of claims (docs/API.md "Claims"): claim or renew, release (or break, with the team
 * credential), list, and wait until a resource is free. A machine's credential claims as itself; the team
 * credential names the holder. A broken claim is recorded in claims.jsonl and in the log.
 */
import type { Request, Response } from "express";
import { ClaimBodySchema, ClaimsQuerySchema, ReleaseBodySchema } from "../../contract/claims";
import { HTTP_ERRORS } from "../../contract/httpErrors";
import { TEAM_UPLOADER } from "../../contract/names";
import { HttpError } from "../http/httpErrors";
import { jsonBody, parse, parseQuery, sendJson } from "../http/json";
import { type LongPollSlots, takeLongPollSlot } from "../http/longPollSlots";
import type { Routes } from "../http/routes";
import type { Log } from "../log";
import { authorize, type Identity } from "../members/access";
import { identityOf } from "../members/authenticate";
import { ClaimRefusal, type ClaimStore } from "./claimStore";
import { waitUntilFree } from "./waitUntilFree";

export interface ClaimDeps {
  claims: ClaimStore;
  longPolls: LongPollSlots;
  log: Log;
}

/** Who a request claims or releases as: a machine as itself; the team credential as the `holder` it names. */
function holderOf(identity: Identity, holder: string | undefined, required: boolean): string | undefined {
  if (identity.kind === "machine") {
    if (holder !== undefined && holder !== identity.name)
      throw new HttpError("forbidden", `holder: "${holder}" is not this credential's machine "${identity.name}"; a machine claims as itself`);
    return identity.name;
  }
  if (holder === undefined && required) throw new HttpError("badRequest", "holder is required with the team credential: the machine name to claim for");
  return holder;
}

/** A refusal as the answer it deserves: a 409 for a held resource names the claim that holds it. */
function refused(res: Response, error: unknown): void {
  if (!(error instanceof ClaimRefusal)) throw error;
  if (error.reason === "held" || error.reason === "staleToken") {
    const kind = error.reason === "held" ? "claimHeld" : "conflict";
    sendJson(res, HTTP_ERRORS[kind].status, { error: error.message, held_by: error.claim });
    return;
  }
  throw new HttpError(error.reason === "full" ? "claimsFull" : "forbidden", error.message);
}

export function addClaimRoutes(routes: Routes, { claims, longPolls, log }: ClaimDeps): void {
  routes.post("/claims", jsonBody, async (req: Request, res: Response) => {
    const input = parse(ClaimBodySchema, req.body, { root: "request body", unknown: "field" });
    const identity = identityOf(res);
    authorize(identity, "claim");
    const holder = holderOf(identity, input.holder, true)!;
    try {
      const { claim, created } = await claims.claim(holder, input.resource, input.ttl * 1000, input.note);
      sendJson(res, created ? 201 : 200, claim);
    } catch (error) {
      refused(res, error);
    }
  });

  routes.post("/claims/release", jsonBody, async (req: Request, res: Response) => {
    const input = parse(ReleaseBodySchema, req.body, { root: "request body", unknown: "field" });
    const identity = identityOf(res);
    authorize(identity, input.force ? "breakClaim" : "claim");
    const asHolder = holderOf(identity, input.holder, !input.force);
    const by = identity.kind === "machine" ? identity.name : TEAM_UPLOADER;
    try {
      const result = await claims.release(by, input.resource, { token: input.token, force: input.force, asHolder: asHolder ?? by });
      if (result.forced) log({ level: "warn", msg: "claim broken", resource: input.resource, holder: result.claim?.holder, token: result.claim?.token, by });
      sendJson(res, 200, {
        resource: input.resource,
        released: result.released,
        ...(result.forced && { forced: true }),
        ...(result.claim && { claim: result.claim }),
      });
    } catch (error) {
      refused(res, error);
    }
  });

  routes.get("/claims", async (req, res) => {
    const identity = identityOf(res);
    authorize(identity, "list");
    const q = parseQuery(ClaimsQuerySchema, req.query);
    const wait = Number(q.wait ?? 0);
    if (wait > 0 && q.resource !== undefined && claims.holderOf(q.resource)) {
      const slot = takeLongPollSlot(longPolls, identity, res, wait * 1000);
      try {
        if (!(await waitUntilFree(claims, q.resource, wait * 1000, res))) return;
      } finally {
        slot.release();
      }
    }
    sendJson(res, 200, { claims: claims.list(q) });
  });
}
