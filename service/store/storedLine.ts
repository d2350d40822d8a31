/**
 * Reading a bus.jsonl line at start-up, fast. Lines this service wrote have a fixed field order
 * (id, ts, from, to, body, tags, read_by, thread, ...), so their fields are read without parsing the
 * body, by far the largest part: the body is a JSON string, in which every `"` is escaped (written `\"`),
 * so a `,"` cannot occur inside it and the first `,"tags":[` after it is where it ends. What follows the
 * body (tags, readers, thread, attachments, verified, key) is matched whole, so `"attachments":[` there is the
 * field, never text from the body. Any other line (older writers, hand edits, damage) is parsed in full
 * and checked against the contract's schema, which has the last word. Ack lines likewise.
 */
import type { z } from "zod";
import { describeIssue } from "../../contract/issues";
import { type AckRecord, AckRecordSchema, MESSAGE_ID_PATTERN, MessageSchema, StoredMessageSchema } from "../../contract/message";
import { NAME_PATTERN } from "../../contract/names";
import { parseJson } from "./jsonl";

/** What the index needs of a stored message (everything but its body). */
export interface StoredFields {
  id: string;
  ts: string;
  from: string;
  to: string;
  tags: string[];
  thread?: string;
  /** The sha256 of each attached file. */
  attachments?: string[];
  idempotency_key?: string;
}

const id = MESSAGE_ID_PATTERN.source.slice(1, -1);
const name = NAME_PATTERN.source.slice(1, -1);
const PREFIX = new RegExp(`^\\{"id":"(${id})","ts":"([^"\\\\]*)","from":"(${name})","to":"(${name})","body":"`);
const TAGS = ',"tags":[';
// The rest as this service writes it, when no tag needs an escape: read without a JSON parse.
const plain = '"[^"\\\\]*"';
const list = `(?:${plain}(?:,${plain})*)?`;
const attachment = `\\{"sha256":"[0-9a-f]{64}","name":${plain},"size":\\d+\\}`;
const SUFFIX = new RegExp(
  `^,"tags":\\[(${list})\\],"read_by":\\[${list}\\](?:,"thread":"(${id})")?(?:,"reply_to":"${id}")?` +
    `(?:,"attachments":\\[(${attachment}(?:,${attachment})*)\\])?(?:,"verified":true)?(?:,"idempotency_key":"([^"\\\\]*)")?\\}$`,
);
// In the matched list a name holds no '"', so each `"sha256":"` starts an attachment's hash.
const HASHES = /"sha256":"([0-9a-f]{64})"/g;

/** The line's fields, or what is wrong with it. */
export function parseStoredLine(text: string): StoredFields | string {
  const prefix = PREFIX.exec(text);
  const rest = prefix ? text.indexOf(TAGS, prefix[0].length) : -1;
  if (prefix && rest >= 0) {
    const plainSuffix = SUFFIX.exec(text.slice(rest));
    if (plainSuffix) {
      const tags = plainSuffix[1] === "" ? [] : plainSuffix[1].slice(1, -1).split('","');
      const attachments = plainSuffix[3] === undefined ? undefined : Array.from(plainSuffix[3].matchAll(HASHES), (m) => m[1]);
      return { id: prefix[1], ts: prefix[2], from: prefix[3], to: prefix[4], tags, thread: plainSuffix[2], attachments, idempotency_key: plainSuffix[4] };
    }
    const suffix = parseJson(`{${text.slice(rest + 1)}`);
    if (typeof suffix === "object" && suffix !== null && isSuffix(suffix)) {
      const { tags, thread, attachments, idempotency_key } = suffix;
      return { id: prefix[1], ts: prefix[2], from: prefix[3], to: prefix[4], tags, thread, attachments: attachments?.map((a) => a.sha256), idempotency_key };
    }
  }
  const full = parseInFull(text, StoredMessageSchema);
  if (typeof full === "string") return full;
  const { id, ts, from, to, tags, thread, attachments, idempotency_key } = full;
  return { id, ts, from, to, tags, thread, attachments: attachments?.map((a) => a.sha256), idempotency_key };
}

interface Suffix {
  tags: string[];
  read_by: string[];
  thread?: string;
  reply_to?: string;
  attachments?: Array<{ sha256: string }>;
  verified?: true;
  idempotency_key?: string;
}

const KNOWN = new Set(["tags", "read_by", "thread", "reply_to", "attachments", "verified", "idempotency_key"]);
const strings = (v: unknown) => Array.isArray(v) && v.every((s) => typeof s === "string");
const optionalId = (v: unknown) => v === undefined || (typeof v === "string" && MESSAGE_ID_PATTERN.test(v));

function isSuffix(o: object): o is Suffix {
  const s = o as Record<string, unknown>;
  return (
    Object.keys(s).every((key) => KNOWN.has(key)) &&
    strings(s.tags) &&
    strings(s.read_by) &&
    optionalId(s.thread) &&
    optionalId(s.reply_to) &&
    (s.attachments === undefined || MessageSchema.shape.attachments.safeParse(s.attachments).success) &&
    (s.verified === undefined || s.verified === true) &&
    (s.idempotency_key === undefined || typeof s.idempotency_key === "string")
  );
}

const ACK = new RegExp(`^\\{"id":"(${id})","reader":"(${name})","ts":"([^"\\\\]*)"\\}$`);

/** An acks.jsonl line, or what is wrong with it (the same fast path for the lines this service writes). */
export function parseStoredAck(text: string): AckRecord | string {
  const ack = ACK.exec(text);
  return ack ? { id: ack[1], reader: ack[2], ts: ack[3] } : parseInFull(text, AckRecordSchema);
}

function parseInFull<T>(text: string, schema: z.ZodType<T>): T | string {
  const json = parseJson(text);
  if (typeof json === "string") return json;
  const result = schema.safeParse(json);
  return result.success ? result.data : describeIssue(result.error.issues[0], { root: "line" });
}
