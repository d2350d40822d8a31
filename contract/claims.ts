/**
 * Claims (docs/API.md "Claims"): a holder's lease on a named resource, with a fencing token that only ever
 * grows, so whoever checks tokens can refuse a holder that outlived its claim. One definition for the
 * service (validation, the claims log), the client library and the docs.
 */
import { z } from "zod";
import { MAX_CLAIM_NOTE_CHARS, MAX_CLAIM_RESOURCE_CHARS, MAX_CLAIM_TTL_SECONDS, MAX_WAIT_SECONDS, MIN_CLAIM_TTL_SECONDS } from "./defaults";
import { MachineName } from "./names";
import { unicodeText } from "./text";

/** Control characters (C0, DEL, C1) and line or paragraph separators: what makes a name unprintable. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what a resource name may not hold
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
const RESOURCE_RULE = `must be 1 to ${MAX_CLAIM_RESOURCE_CHARS} printable characters (no control characters or line breaks)`;

/** What a claim names: `repo:<path>`, `task:<name>`, anything printable the team agrees on. */
export const ClaimResource = unicodeText.min(1, RESOURCE_RULE).refine((s) => [...s].length <= MAX_CLAIM_RESOURCE_CHARS && !UNPRINTABLE.test(s), RESOURCE_RULE);

/** A fencing token: a positive whole number, larger than every token given out before it. */
export const ClaimToken = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);

const TTL_RULE = `must be a whole number of seconds from ${MIN_CLAIM_TTL_SECONDS} to ${MAX_CLAIM_TTL_SECONDS}`;

/** POST /claims. `holder` is for the team credential, which claims in a machine's name; a machine's credential claims as itself. */
export const ClaimBodySchema = z.strictObject({
  resource: ClaimResource,
  ttl: z.number(TTL_RULE).int(TTL_RULE).min(MIN_CLAIM_TTL_SECONDS, TTL_RULE).max(MAX_CLAIM_TTL_SECONDS, TTL_RULE),
  note: unicodeText.max(MAX_CLAIM_NOTE_CHARS, `must be at most ${MAX_CLAIM_NOTE_CHARS} characters`).optional(),
  holder: MachineName.optional(),
});
export type ClaimRequest = z.infer<typeof ClaimBodySchema>;

/**
 * POST /claims/release. `token`, when given, must be the live claim's (a holder that renewed under a new
 * claim does not release it by an old token); `force` breaks another holder's claim (team credential only).
 */
export const ReleaseBodySchema = z.strictObject({
  resource: ClaimResource,
  token: ClaimToken.optional(),
  holder: MachineName.optional(),
  force: z.literal(true, "must be true, or left out").optional(),
});
export type ReleaseRequest = z.infer<typeof ReleaseBodySchema>;

/** A live claim as the API returns it; `note` only when the holder gave one. */
export const ClaimSchema = z.object({
  resource: z.string(),
  holder: MachineName,
  token: ClaimToken,
  /** When it was first claimed, and when it ends unless renewed (ISO-8601). */
  claimed: z.string(),
  expires: z.string(),
  note: z.string().optional(),
});
export type Claim = z.infer<typeof ClaimSchema>;

/** The answer to POST /claims/release: `released` false when the resource was free already. */
export const ReleasedSchema = z.object({ resource: z.string(), released: z.boolean(), forced: z.literal(true).optional(), claim: ClaimSchema.optional() });
export type Released = z.infer<typeof ReleasedSchema>;

/** The 409 of POST /claims: the error text, and the claim that holds the resource. */
export const ClaimHeldSchema = z.object({ error: z.string(), held_by: ClaimSchema });

export const ClaimsListSchema = z.object({ claims: z.array(ClaimSchema) });

const WAIT_RULE = `must be a whole number of seconds from 0 to ${MAX_WAIT_SECONDS}`;

/** GET /claims query parameters, as the strings they arrive as; `wait` only with `resource`. */
export const ClaimsQuerySchema = z
  .strictObject({
    holder: MachineName.optional(),
    prefix: z.string().max(MAX_CLAIM_RESOURCE_CHARS, `must be at most ${MAX_CLAIM_RESOURCE_CHARS} characters`).optional(),
    resource: ClaimResource.optional(),
    wait: z
      .string()
      .regex(/^\d{1,2}$/, WAIT_RULE)
      .refine((s) => Number(s) <= MAX_WAIT_SECONDS, WAIT_RULE)
      .optional(),
  })
  .refine((q) => q.wait === undefined || q.resource !== undefined, { message: "wait: needs resource (the claim to wait for)", path: ["wait"] });

/** The same query as a client builds it. */
export interface ClaimsQuery {
  holder?: string;
  prefix?: string;
  resource?: string;
  wait?: number;
}

/** GET /messages/<id>/receipt?reader=NAME[&wait=N]: when `reader` acked message `id` (null: not yet). */
export const ReceiptQuerySchema = z.strictObject({
  reader: z.string({ error: (issue) => (issue.input === undefined ? "is required: the machine name whose ack to wait for" : undefined) }).pipe(MachineName),
  wait: z
    .string()
    .regex(/^\d{1,2}$/, WAIT_RULE)
    .refine((s) => Number(s) <= MAX_WAIT_SECONDS, WAIT_RULE)
    .optional(),
});
export const ReceiptSchema = z.object({ id: z.string(), reader: MachineName, read_at: z.string().nullable() });
export type Receipt = z.infer<typeof ReceiptSchema>;
