/**
 * Files that travel with messages (docs/API.md "Files"): how a file is named by its content and by its
 * sender, and what the upload routes answer. A stored file is named by the sha256 of its bytes, so the
 * same content is stored once whoever uploads it.
 */
import { z } from "zod";
import { MAX_FILE_NAME_BYTES } from "./defaults";
import { unicodeText } from "./text";

export const SHA256_PATTERN = /^[0-9a-f]{64}$/;
export const Sha256 = z.string().regex(SHA256_PATTERN, "must be a sha256: 64 lowercase hex digits");

/** Control characters (C0, DEL, C1) and the path separators of every system a client runs on. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what a file name may not hold
export const UNSAFE_IN_NAME = /[\u0000-\u001f\u007f-\u009f/\\]/;

/** A file's name as its sender gave it: one safe path component, so a client can save it under that name. */
export const FileName = unicodeText
  .min(1, "must not be empty")
  .refine((name) => Buffer.byteLength(name, "utf8") <= MAX_FILE_NAME_BYTES, `must be at most ${MAX_FILE_NAME_BYTES} bytes of UTF-8`)
  .refine((name) => !UNSAFE_IN_NAME.test(name), "must be a file name: no '/', '\\' or control characters")
  .refine((name) => name !== "." && name !== "..", 'must be a file name, not "." or ".."');

/**
 * File names an agent or a developer tool reads as its instructions or configuration when it finds them
 * in a directory: a file from another machine saved under one of these would outlive the session. `fetch`
 * saves none of them, nor any name starting with a dot, unless the person passes --allow-config-names.
 */
export const AGENT_CONFIG_NAMES = [
  "CLAUDE.md",
  "CLAUDE.local.md",
  "AGENTS.md",
  "AGENT.md",
  "GEMINI.md",
  "CONVENTIONS.md",
  "copilot-instructions.md",
  "mcp.json",
  ".mcp.json",
  ".claude",
  ".envrc",
  ".env",
  ".git",
  ".gitattributes",
  ".cursorrules",
  ".windsurfrules",
  ".clinerules",
  ".aider.conf.yml",
] as const;
const CONFIG_NAMES = new Set(AGENT_CONFIG_NAMES.map((n) => n.toLowerCase()));

/**
 * Whether `name` is a dot file or a known agent/tool config name, compared as case-insensitive file systems
 * do and without the trailing dots and spaces Windows drops (`claude.md.` is CLAUDE.md there).
 */
export function isConfigName(name: string): boolean {
  const plain = name.replace(/[. ]+$/, "").toLowerCase();
  return name.startsWith(".") || CONFIG_NAMES.has(plain);
}

/** A byte offset or count in a header: at most 15 digits, so it is exact as a number. */
export const BYTE_COUNT = /^\d{1,15}$/;

/** `bytes START-END/TOTAL` (an upload part's Content-Range, and a 206's) as numbers; null when it is not that. */
export function parseContentRange(header: string): { start: number; end: number; total: number } | null {
  const match = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(header.trim());
  if (!match?.slice(1).every((n) => BYTE_COUNT.test(n))) return null;
  return { start: Number(match[1]), end: Number(match[2]), total: Number(match[3]) };
}

/** The header that says how many bytes of an upload the bus holds (HEAD, GET and PUT /files/<sha256>). */
export const UPLOAD_OFFSET_HEADER = "Upload-Offset";

/** POST /files and PUT /files/<sha256>: the file's name, in the query. */
export const UploadQuerySchema = z.strictObject({
  name: z.string({ error: (issue) => (issue.input === undefined ? "is required: the file's name (?name=report.pdf)" : "must be given once") }).pipe(FileName),
});
/** GET /files/<sha256>: the name to save it under (default: the name it was uploaded with). */
export const DownloadQuerySchema = z.strictObject({ name: FileName.optional() });

/** A whole stored file: the answer to an upload that completed (201 when new, 200 when those bytes were stored already). */
export const StoredFileSchema = z.object({ sha256: Sha256, size: z.number().int(), name: z.string() });
export type StoredFile = z.infer<typeof StoredFileSchema>;

/**
 * A part of a resumable upload was stored (202): `offset` bytes of `size` are on the bus; send the rest
 * from `offset`. The client asks HEAD for the offset instead, so nothing parses this answer.
 */
export interface UploadProgress {
  sha256: string;
  offset: number;
  size: number;
}
