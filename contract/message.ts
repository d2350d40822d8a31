/**
 * The message object and the requests about it: one definition for the service (validation and
 * replay), the client library (answers) and the docs (docs/API.md describes these fields).
 */
import { z } from "zod";
import { BROADCAST, MAX_BODY_BYTES, MAX_PAGE_LIMIT, MAX_TAG_CHARS, MAX_TAGS } from "./defaults";
import { MachineName } from "./names";

export { BROADCAST };

/** A message id: a positive decimal integer as a string, assigned in posting order. */
export const MESSAGE_ID_PATTERN = /^[1-9]\d{0,15}$/;
export const MessageId = z.string().regex(MESSAGE_ID_PATTERN, "must be a message id: a positive decimal integer");

// With the `u` flag this matches only unpaired surrogates: text that has no UTF-8 form.
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;
const unicodeText = z.string().refine((s) => !LONE_SURROGATE.test(s), "is not valid Unicode text (lone surrogate)");

/** The message object exactly as the API returns it and as its line in bus.jsonl holds it. */
export const MessageSchema = z.object({
  id: MessageId,
  ts: z.string(),
  from: MachineName,
  to: MachineName,
  body: z.string(),
  tags: z.array(z.string()),
  read_by: z.array(z.string()),
});
export type Message = z.infer<typeof MessageSchema>;

/** `a field is required: what it is`, for a field that is missing altogether. */
function required(what: string) {
  return { error: (issue: { input: unknown }) => (issue.input === undefined ? `is required: ${what}` : undefined) };
}

/** POST /post. */
export const PostBodySchema = z.strictObject({
  from: z.string(required("the sender's machine name")).pipe(MachineName),
  to: MachineName.optional(),
  body: z.string(required("the message text")).pipe(unicodeText.min(1, "must not be empty")),
  tags: z
    .array(unicodeText.min(1, "must not be empty").max(MAX_TAG_CHARS, `must be at most ${MAX_TAG_CHARS} characters`))
    .max(MAX_TAGS, `at most ${MAX_TAGS} tags`)
    .optional(),
});
export type NewMessage = z.infer<typeof PostBodySchema>;

/** POST /ack/<id>. */
export const AckBodySchema = z.strictObject({ reader: z.string(required("the machine name that read the message")).pipe(MachineName) });

/** One line of acks.jsonl: `reader` acked message `id` at `ts`. */
export const AckRecordSchema = z.strictObject({ id: MessageId, reader: MachineName, ts: z.string() });
export type AckRecord = z.infer<typeof AckRecordSchema>;

/** The answer to POST /ack/<id>. */
export const AckResultSchema = z.object({ ok: z.literal(true), id: z.string(), reader: z.string(), already: z.boolean() });
export type AckResult = z.infer<typeof AckResultSchema>;

/** The answer to GET /health. */
export const HealthSchema = z.object({ ok: z.literal(true), count: z.number().int(), now: z.string() });
export type Health = z.infer<typeof HealthSchema>;

/** The answer to GET /messages: `"more": true` when further messages match (ask again with since=<last id>). */
export const MessagesPageSchema = z.object({ messages: z.array(MessageSchema), more: z.literal(true).optional() });

const LIMIT_RULE = `must be an integer from 1 (larger than ${MAX_PAGE_LIMIT} means ${MAX_PAGE_LIMIT})`;

/** GET /messages query parameters, as the strings they arrive as. */
export const MessagesQuerySchema = z.strictObject({
  since: z.string().regex(/^\d+$/, "must be a non-negative decimal integer").optional(),
  to: MachineName.optional(),
  from: MachineName.optional(),
  unread_by: MachineName.optional(),
  limit: z.string().regex(/^\d+$/, LIMIT_RULE).refine((s) => Number(s) >= 1, LIMIT_RULE).optional(),
});
/** The same query as a client builds it. */
export interface MessageQuery {
  since?: string;
  to?: string;
  from?: string;
  unread_by?: string;
  limit?: number;
}

/** The byte length of a body as the store and the 413 count it. */
export const bodyBytes = (body: string): number => Buffer.byteLength(body, "utf8");
export const isBodyTooLarge = (body: unknown): boolean => typeof body === "string" && bodyBytes(body) > MAX_BODY_BYTES;
