import { z } from "zod";

/** The most bytes a message body may hold (64 KiB of UTF-8). */
export const MAX_BODY_BYTES = 65_536;

// With the `u` flag this matches only unpaired surrogates: text that has no UTF-8 form.
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

const unicodeText = z.string().refine((s) => !LONE_SURROGATE.test(s), "is not valid Unicode text (lone surrogate)");

export const MachineName = z
  .string()
  .regex(/^[A-Za-z0-9._@-]{1,64}$/, "must be 1-64 characters: letters, digits, '.', '_', '-' or '@'");

const Tag = unicodeText.min(1, "must not be empty").max(32, "must be at most 32 characters");

const Body = unicodeText.min(1, "must not be empty");

export const PostBodySchema = z.strictObject({
  from: MachineName,
  to: MachineName.optional(),
  body: Body,
  tags: z.array(Tag).max(16, "at most 16 tags").optional(),
});
export type PostBody = z.infer<typeof PostBodySchema>;

export const AckBodySchema = z.strictObject({ reader: MachineName });

const decimal = z.string().regex(/^\d+$/, "must be a non-negative decimal integer");

export const MessagesQuerySchema = z.strictObject({
  since: decimal.optional(),
  to: MachineName.optional(),
  from: MachineName.optional(),
  unread_by: MachineName.optional(),
  limit: z
    .string()
    .regex(/^\d+$/, "must be an integer from 1 (larger than 500 means 500)")
    .refine((s) => Number(s) >= 1, "must be an integer from 1 (larger than 500 means 500)")
    .optional(),
});

/** A message line of bus.jsonl, checked on replay. */
export const StoredMessageSchema = z.object({
  id: z.string().regex(/^[1-9]\d*$/),
  ts: z.string(),
  from: MachineName,
  to: MachineName,
  body: z.string(),
  tags: z.array(z.string()),
  read_by: z.array(z.string()),
});

/** An ack line of acks.jsonl. */
export const StoredAckSchema = z.strictObject({
  id: z.string().regex(/^[1-9]\d*$/),
  reader: MachineName,
  ts: z.string(),
});

/** "field: what is wrong" for the first problem zod found, for a 400 body. */
export function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (issue.code === "unrecognized_keys") return `unknown field(s): ${issue.keys.join(", ")}`;
  const where = issue.path.length > 0 ? issue.path.join(".") : "request body";
  return `${where}: ${issue.message}`;
}
