/**
 * The HTTP headers of file transfers: an upload part's Content-Range, a download's Range (one range, as
 * RFC 9110 lets a server choose) and If-Range, and Content-Disposition with the file's name (RFC 6266).
 */
import { BYTE_COUNT, parseContentRange } from "../../contract/files";
import { HttpError } from "../http/httpErrors";

/** `bytes START-END/TOTAL` of a resumable upload's part, or what is wrong with it. */
export function partRange(header: string): { start: number; end: number; total: number } {
  const range = parseContentRange(header);
  if (!range) throw new HttpError("badRequest", `Content-Range: must be "bytes START-END/TOTAL" (got ${JSON.stringify(header)})`);
  if (range.start > range.end || range.end >= range.total)
    throw new HttpError("badRequest", `Content-Range: needs START <= END < TOTAL (got ${JSON.stringify(header)})`);
  return range;
}

/**
 * The bytes a download asks for: null for the whole file (no Range, several ranges, a Range this server
 * ignores, or an If-Range that is not this file's ETag), "unsatisfiable" when it starts past the end.
 */
export function requestedRange(
  range: string | undefined,
  ifRange: string | undefined,
  etag: string,
  size: number,
): { start: number; end: number } | null | "unsatisfiable" {
  if (range === undefined || (ifRange !== undefined && ifRange.trim() !== etag)) return null;
  const match = /^bytes=(\d*)-(\d*)$/.exec(range.replace(/\s+/g, ""));
  if (!match || (match[1] === "" && match[2] === "") || ![match[1], match[2]].every((n) => n === "" || BYTE_COUNT.test(n))) return null;
  if (match[1] === "") {
    // The last N bytes.
    const suffix = Number(match[2]);
    return suffix === 0 || size === 0 ? "unsatisfiable" : { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(match[1]);
  const end = match[2] === "" ? Infinity : Number(match[2]);
  if (end < start) return null; // not a valid range: ignored
  if (start >= size) return "unsatisfiable";
  return { start, end: Math.min(end, size - 1) };
}

// RFC 8187 attr-chars: every other byte is percent-encoded in filename*.
const ATTR_CHAR = /^[A-Za-z0-9!#$&+\-.^_`|~]$/;

/** `attachment` with the name: an ASCII stand-in for old clients, and the exact name as UTF-8 in filename*. */
export function contentDisposition(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\%]/g, "_");
  const encoded = Array.from(Buffer.from(name, "utf8"), (byte) => {
    const char = String.fromCharCode(byte);
    return ATTR_CHAR.test(char) ? char : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }).join("");
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}
