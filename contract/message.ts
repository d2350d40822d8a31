/**
 * The message object and the requests about it: one definition for the service (validation and
 * replay), the client library (answers) and the docs (docs/API.md describes these fields).
 */
import { z } from "zod";
import {
  BROADCAST,
  MAX_ACK_BATCH,
  MAX_ATTACHMENTS,
  MAX_BODY_BYTES,
  MAX_INVITE_SECONDS,
  MAX_PAGE_LIMIT,
  MAX_TAG_CHARS,
  MAX_TAGS,
  MAX_WAIT_SECONDS,
  MIN_INVITE_SECONDS,
} from "./defaults";
import { FileName, Sha256 } from "./files";
import { MachineName } from "./names";
import { unicodeText } from "./text";

export { BROADCAST };

/** A message id: a positive decimal integer as a string, assigned in posting order. */
export const MESSAGE_ID_PATTERN = /^[1-9]\d{0,15}$/;
export const MessageId = z.string().regex(MESSAGE_ID_PATTERN, "must be a message id: a positive decimal integer");

const Tag = unicodeText.min(1, "must not be empty").max(MAX_TAG_CHARS, `must be at most ${MAX_TAG_CHARS} characters`);

/** A file attached to a message: its content's sha256 (GET /files/<sha256>), the name its sender gave it, its size in bytes. */
export const AttachmentSchema = z.object({ sha256: Sha256, name: z.string(), size: z.number().int() });
export type Attachment = z.infer<typeof AttachmentSchema>;

/**
 * The message object as the API returns it. `thread` is the id of the first message of its conversation
 * (its own id when it starts one); a reply also carries `reply_to`, the message it answers; a message
 * with files carries `attachments` (and one without has no such field). `verified: true` says it was
 * posted with the sender's own machine credential; without it the sender's name is only claimed (the
 * team credential posts as any name).
 */
export const MessageSchema = z.object({
  id: MessageId,
  ts: z.string(),
  from: MachineName,
  to: MachineName,
  body: z.string(),
  tags: z.array(z.string()),
  read_by: z.array(z.string()),
  /** When each of `read_by` read it (ISO-8601): the sender when it posted, each reader when it acked; null when an old ack line holds no readable time. */
  read_at: z.record(z.string(), z.string().nullable()).optional(),
  thread: MessageId,
  reply_to: MessageId.optional(),
  attachments: z.array(AttachmentSchema).min(1).optional(),
  verified: z.literal(true).optional(),
});
export type Message = z.infer<typeof MessageSchema>;

/**
 * A line of bus.jsonl: the message as POST /post returned it (read_by is [sender] there), plus the
 * Idempotency-Key it was posted with, if any (never returned by the API). Lines written before threads
 * have no `thread`: each is its own.
 */
export const StoredMessageSchema = MessageSchema.extend({
  thread: MessageId.optional(),
  idempotency_key: z.string().optional(),
});
export type StoredMessage = z.infer<typeof StoredMessageSchema>;

/**
 * A line of a bus.jsonl from the team page's Flask bus (`claude-bus import`): its ids may be any string,
 * `to`, `tags` and `read_by` may be missing; the rest is the message object.
 */
export const SeedMessageSchema = z.object({
  id: z.union([z.string(), z.number()]).transform(String),
  ts: z.iso.datetime({ offset: true, local: true, error: "must be an ISO-8601 time" }),
  from: MachineName,
  to: MachineName.optional(),
  body: unicodeText.min(1, "must not be empty").refine((body) => !isBodyTooLarge(body), `must be at most ${MAX_BODY_BYTES} bytes of UTF-8`),
  tags: z.array(Tag).max(MAX_TAGS, `at most ${MAX_TAGS} tags`).optional(),
  read_by: z.array(MachineName).optional(),
});
export type SeedMessage = z.infer<typeof SeedMessageSchema>;

/** An invite code: letters and digits in groups, easy to read out and type (see contract/password.ts). */
export const INVITE_CODE_PATTERN = /^[A-Za-z0-9]{5}(?:-[A-Za-z0-9]{5}){3}$/;

/** The Idempotency-Key header of POST /post: 1-128 visible ASCII characters. */
export const IDEMPOTENCY_KEY_PATTERN = /^[\x21-\x7e]{1,128}$/;

/** `a field is required: what it is`, for a field that is missing altogether. */
function required(what: string) {
  return { error: (issue: { input: unknown }) => (issue.input === undefined ? `is required: ${what}` : undefined) };
}

/** A file to attach, uploaded before (POST /files), under the name the message gives it. */
const AttachmentRefSchema = z.strictObject({
  sha256: z.string(required("the sha256 of an uploaded file")).pipe(Sha256),
  name: z.string(required("the file's name")).pipe(FileName),
});

/** POST /post. */
export const PostBodySchema = z.strictObject({
  from: z.string(required("the sender's machine name")).pipe(MachineName),
  to: MachineName.optional(),
  body: z.string(required("the message text")).pipe(unicodeText.min(1, "must not be empty")),
  tags: z.array(Tag).max(MAX_TAGS, `at most ${MAX_TAGS} tags`).optional(),
  /** The message this one answers: it must exist. */
  reply_to: MessageId.optional(),
  /** Files uploaded before; an empty list is no attachments. */
  attachments: z.array(AttachmentRefSchema).max(MAX_ATTACHMENTS, `at most ${MAX_ATTACHMENTS} attachments`).optional(),
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

/** POST /ack: many ids acked by one reader in one write. */
export const BatchAckBodySchema = z.strictObject({
  reader: z.string(required("the machine name that read the messages")).pipe(MachineName),
  ids: z
    .array(MessageId, required(`the ids of the messages read, 1 to ${MAX_ACK_BATCH}`))
    .min(1, "must hold at least one id")
    .max(MAX_ACK_BATCH, `must hold at most ${MAX_ACK_BATCH} ids`),
});

/** The answer to POST /ack: each id given, sorted into acked now, acked before, and unknown. */
export const BatchAckResultSchema = z.object({
  ok: z.literal(true),
  reader: z.string(),
  acked: z.array(z.string()),
  already: z.array(z.string()),
  unknown: z.array(z.string()),
});
export type BatchAckResult = z.infer<typeof BatchAckResultSchema>;

/** The answer to GET /health: `oldest` is the oldest id kept (null when none), `bytes` the store's size on disk. */
export const HealthSchema = z.object({
  ok: z.literal(true),
  count: z.number().int(),
  now: z.string(),
  oldest: MessageId.nullable().optional(),
  bytes: z.number().int().optional(),
});
export type Health = z.infer<typeof HealthSchema>;

/** A machine's own credential (issue date, last rotation and use; revoked when it no longer works). */
export const MachineCredentialSchema = z.object({
  issued: z.string(),
  rotated: z.string().nullable(),
  last_used: z.string().nullable(),
  revoked: z.string().nullable(),
});
export type MachineCredential = z.infer<typeof MachineCredentialSchema>;

/**
 * One name seen on the bus (GET /machines): when it last posted, acked, and was named in any request;
 * its unread count; and its own credential, if it was enrolled (null otherwise).
 */
export const MachineSchema = z.object({
  name: MachineName,
  last_post: z.string().nullable(),
  last_ack: z.string().nullable(),
  last_seen: z.string().nullable(),
  unread: z.number().int(),
  credential: MachineCredentialSchema.nullable().optional(),
  /** A machine's credential or a person's (who signs in to the web app); an admin person invites and revokes. */
  kind: z.enum(["machine", "person"]).optional(),
  admin: z.boolean().optional(),
});
export type Machine = z.infer<typeof MachineSchema>;
/** An invite not yet used or expired (GET /machines): no code, only who and until when. */
export const PendingInviteSchema = z.object({
  name: MachineName,
  invited: z.string(),
  expires: z.string(),
  kind: z.enum(["machine", "person"]).optional(),
  admin: z.boolean().optional(),
});
export const MachinesSchema = z.object({ machines: z.array(MachineSchema), invites: z.array(PendingInviteSchema).optional() });

/** The answer to GET /messages: `"more": true` when further messages match (ask again with since=<last id>). */
export const MessagesPageSchema = z.object({ messages: z.array(MessageSchema), more: z.literal(true).optional() });

const LIMIT_RULE = `must be an integer from 1 (larger than ${MAX_PAGE_LIMIT} means ${MAX_PAGE_LIMIT})`;

const WAIT_RULE = `must be a whole number of seconds from 0 to ${MAX_WAIT_SECONDS}`;

/** GET /messages query parameters, as the strings they arrive as. */
export const MessagesQuerySchema = z.strictObject({
  since: z.string().regex(/^\d+$/, "must be a non-negative decimal integer").optional(),
  to: MachineName.optional(),
  from: MachineName.optional(),
  unread_by: MachineName.optional(),
  tag: Tag.optional(),
  thread: MessageId.optional(),
  limit: z
    .string()
    .regex(/^\d+$/, LIMIT_RULE)
    .refine((s) => Number(s) >= 1, LIMIT_RULE)
    .optional(),
  /** Long-poll: hold an empty answer up to this many seconds until a matching message arrives. */
  wait: z
    .string()
    .regex(/^\d{1,2}$/, WAIT_RULE)
    .refine((s) => Number(s) <= MAX_WAIT_SECONDS, WAIT_RULE)
    .optional(),
});
/** The same query as a client builds it. */
export interface MessageQuery {
  since?: string;
  to?: string;
  from?: string;
  unread_by?: string;
  tag?: string;
  thread?: string;
  limit?: number;
  wait?: number;
}

/** The byte length of a body as the store and the 413 count it. */
export const bodyBytes = (body: string): number => Buffer.byteLength(body, "utf8");
export const isBodyTooLarge = (body: unknown): boolean => typeof body === "string" && bodyBytes(body) > MAX_BODY_BYTES;

/** POST /invites: a one-time code that enrolls the machine (or person) `name` (with the team credential or an admin person's). */
export const InviteBodySchema = z.strictObject({
  name: z.string(required("the new machine's name")).pipe(MachineName),
  kind: z.enum(["machine", "person"], { error: 'must be "machine" or "person"' }).optional(),
  /** Only for a person: it may invite and revoke as the team credential does. */
  admin: z.boolean({ error: "must be true or false" }).optional(),
  ttl_seconds: z
    .number()
    .int("must be a whole number of seconds")
    .min(MIN_INVITE_SECONDS, `must be at least ${MIN_INVITE_SECONDS}`)
    .max(MAX_INVITE_SECONDS, `must be at most ${MAX_INVITE_SECONDS} (a week)`)
    .optional(),
});
export const InviteSchema = z.object({
  name: MachineName,
  code: z.string(),
  expires: z.string(),
  kind: z.enum(["machine", "person"]).optional(),
  admin: z.boolean().optional(),
});
export type Invite = z.infer<typeof InviteSchema>;

/** POST /enroll: the invite code, exchanged once for the machine's own credential. */
export const EnrollBodySchema = z.strictObject({ code: z.string(required("the invite code")).regex(INVITE_CODE_PATTERN, "is not an invite code") });
/** The answer: the machine's Basic-auth user (its name) and secret, which never travels again. */
export const EnrolledSchema = z.object({ name: MachineName, user: MachineName, pass: z.string() });

/** The answer to POST /machines/<name>/rotate: a new secret; the old one works until the new one is first used. */
export const RotatedSchema = z.object({ name: MachineName, pass: z.string() });
