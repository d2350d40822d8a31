/**
 * Files that travel with messages (docs/API.md "Files"), moved so that a dropped connection costs only
 * what was in flight: an upload asks the bus how far it got (HEAD, Upload-Offset) and sends the rest with
 * PUT /files/<sha256>; a download keeps what arrived in a partial file beside its target and asks for the
 * rest with a Range. Each is retried a bounded number of times in a row without progress.
 */
import * as fs from "node:fs";
import type * as http from "node:http";
import * as path from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { UPLOAD_IDLE_SECONDS } from "../contract/defaults";
import { isConfigName, parseContentRange, type StoredFile, StoredFileSchema, UNSAFE_IN_NAME, UPLOAD_OFFSET_HEADER } from "../contract/files";
import { hashFile } from "../contract/hashFile";
import type { Attachment } from "../contract/message";
import { AuthError, BusError, serverErrorText } from "./errors";
import { backoffMs, isTransient, type RetryPolicy } from "./retry";
import { inTransit, openStream } from "./transport";

/**
 * How long a transfer may stall (nothing moving either way) before it is given up and resumed: as long
 * as the bus waits on a stalled upload.
 */
const TRANSFER_IDLE_MS = UPLOAD_IDLE_SECONDS * 1000;

/** Bytes done of a file's total, as a transfer goes; a resumed one starts where it stands. */
export type OnProgress = (done: number, total: number) => void;

export interface FileLink {
  base: string;
  authorization: string;
  retry: RetryPolicy;
}

/**
 * An answer that says where to go on from (409, 202, 416, or a 206 of other bytes than asked for, after
 * which a download starts over): asked again after a wait, like a failure in transit.
 */
const goOnFrom = (err: unknown) => err instanceof BusError && [202, 206, 409, 416].includes(err.status);

/**
 * Runs `step` until it succeeds; a failure in transit (or a goOnFrom answer) waits and tries again, at
 * most `retry.retries` times in a row without `progress()` moving, then it is thrown.
 */
async function resuming<T>(retry: RetryPolicy, progress: () => Promise<number>, step: () => Promise<T>): Promise<T> {
  let failures = 0;
  let reached = -1;
  for (;;) {
    try {
      return await step();
    } catch (err) {
      if (!isTransient(err) && !goOnFrom(err)) throw err;
      const now = await progress().catch(() => reached);
      failures = now > reached ? 1 : failures + 1;
      reached = Math.max(reached, now);
      if (failures > retry.retries) throw err;
      await new Promise((resolve) => setTimeout(resolve, backoffMs(retry, failures)));
    }
  }
}

/** Passes bytes through, telling `onChunk` each chunk's length. */
function counting(onChunk: (bytes: number) => void): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      onChunk(chunk.length);
      done(null, chunk);
    },
  });
}

async function answerText(res: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** A non-success answer as the error it means (a 502/503/504 stays retryable). */
async function failure(link: FileLink, res: http.IncomingMessage): Promise<Error> {
  const text = await answerText(res).catch(() => "");
  return res.statusCode === 401 ? new AuthError(link.base) : new BusError(res.statusCode ?? 0, serverErrorText(text));
}

/** A file's sha256 and size as read by an earlier pass (a check of its content): the upload is named by them. */
export interface FileDigest {
  sha256: string;
  size: number;
}

/**
 * Uploads `file` as `name` and resolves with what the bus stored. Sends only what the bus does not hold
 * from this credential yet, so a retry after a dropped connection (or a second run) resumes. With `digest`
 * the file is not hashed again, and the bus (which checks the sha256) stores those bytes or none.
 */
export async function uploadFile(link: FileLink, file: string, name: string, onProgress?: OnProgress, digest?: FileDigest): Promise<StoredFile> {
  const { sha256, size } = digest ?? (await hashFile(file));
  const url = `${link.base}/files/${sha256}?name=${encodeURIComponent(name)}`;
  const headers = { authorization: link.authorization };
  const offsetNow = async (): Promise<number> => {
    const res = await openStream(link.base, { method: "HEAD", url, headers, idleMs: TRANSFER_IDLE_MS });
    res.resume();
    if (res.statusCode === 401) throw new AuthError(link.base);
    const offset = Number(res.headers[UPLOAD_OFFSET_HEADER.toLowerCase()]);
    if (!Number.isSafeInteger(offset)) throw await failure(link, res);
    return offset;
  };
  return resuming(link.retry, offsetNow, async () => {
    const offset = await offsetNow();
    onProgress?.(offset, size);
    // The whole rest in one PUT; nothing left (this credential uploaded it already) is an empty one, answered at once.
    const rest: Record<string, string> =
      offset < size ? { "content-range": `bytes ${offset}-${size - 1}/${size}`, "content-length": String(size - offset) } : { "content-length": "0" };
    let sent = offset;
    const body = counting((bytes) => {
      sent += bytes;
      onProgress?.(sent, size);
    });
    // The bytes hashed, not to EOF (a file that grows meanwhile); a file that cannot be read destroys the body, and with it the request.
    pipeline(offset < size ? fs.createReadStream(file, { start: offset, end: size - 1 }) : Readable.from([]), body).catch(() => undefined);
    const res = await openStream(link.base, {
      method: "PUT",
      url,
      headers: { ...headers, ...rest, "content-type": "application/octet-stream" },
      body,
      idleMs: TRANSFER_IDLE_MS,
    });
    if (res.statusCode !== 200 && res.statusCode !== 201) throw await failure(link, res);
    const text = await answerText(res).catch((err: NodeJS.ErrnoException) => Promise.reject(inTransit(link.base, err)));
    const stored = StoredFileSchema.safeParse(parseJson(text));
    if (!stored.success) throw new BusError(res.statusCode, `unexpected answer to an upload: ${text.slice(0, 200)}`);
    return stored.data;
  });
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * The name a download is saved under: the last path component of the name the message gives, refused
 * when that is empty, "." or "..", or holds a control character (a sender's name is never a path here).
 */
export function safeFileName(name: string): string {
  const base = name.split(/[/\\]/).pop() ?? "";
  if (base === "" || base === "." || base === ".." || UNSAFE_IN_NAME.test(base)) {
    throw new Error(`the attachment name ${JSON.stringify(name)} is not a file name this machine saves under`);
  }
  return base;
}

/** A file of `dir` that would be replaced: only with `force`. */
export class FileExistsError extends Error {
  constructor(readonly file: string) {
    super(`${file} exists; not overwritten (force replaces it: --force, or the fetch tool's force)`);
    this.name = "FileExistsError";
  }
}

/** A name an agent or tool would read as its instructions (contract/files.ts AGENT_CONFIG_NAMES) or a dot file: only with `allowConfigNames`. */
export class ConfigNameError extends Error {
  constructor(readonly file: string) {
    super(
      `${JSON.stringify(path.basename(file))} is a dot file or a name agents and tools read as configuration: not saved from another machine ` +
        "(a person who wants it passes --allow-config-names to claude-bus fetch)",
    );
    this.name = "ConfigNameError";
  }
}

/** The downloaded bytes are not the file the message names: the partial file is deleted. */
export class HashMismatchError extends Error {
  constructor(name: string, expected: string, actual: string) {
    super(`${name}: the bytes downloaded have sha256 ${actual}, not ${expected} as the message says; nothing was saved`);
    this.name = "HashMismatchError";
  }
}

export interface SaveOptions {
  /** Replace a file of that name in the directory. */
  force?: boolean;
  /** Save a dot file or an agent/tool config name too (a person's explicit choice, never an agent's). */
  allowConfigNames?: boolean;
  onProgress?: OnProgress;
}

/**
 * Where `attachment` goes in `dir`: a ConfigNameError for a config name without `allowConfigNames`, a
 * FileExistsError when a file is there and `force` is not set.
 */
export function targetOf(dir: string, attachment: Attachment, { force = false, allowConfigNames = false }: SaveOptions = {}): string {
  const target = path.join(dir, safeFileName(attachment.name));
  if (!allowConfigNames && isConfigName(path.basename(target))) throw new ConfigNameError(target);
  if (!force && fs.existsSync(target)) throw new FileExistsError(target);
  return target;
}

/**
 * Downloads `attachment` into `dir` under its (safe) name, checks its sha256 and resolves with its path.
 * The bytes gather in `.claude-bus-<sha256>.part` in `dir`, so a download cut short, even by the end of
 * the process, resumes from what arrived (a Range with If-Range on the file's ETag).
 */
export async function downloadAttachment(link: FileLink, attachment: Attachment, dir: string, options: SaveOptions = {}): Promise<string> {
  const target = targetOf(dir, attachment, options);
  const part = path.join(dir, `.claude-bus-${attachment.sha256}.part`);
  const url = `${link.base}/files/${attachment.sha256}`;
  const have = () =>
    fs.promises.stat(part).then(
      (s) => s.size,
      () => 0,
    );
  await resuming(link.retry, have, async () => {
    let start = await have();
    if (start > attachment.size) {
      start = 0;
      await fs.promises.truncate(part, start);
    }
    if (start === attachment.size && (start > 0 || fs.existsSync(part))) return;
    const headers: Record<string, string> = { authorization: link.authorization };
    if (start > 0) Object.assign(headers, { range: `bytes=${start}-`, "if-range": `"${attachment.sha256}"` });
    const res = await openStream(link.base, { method: "GET", url, headers, idleMs: TRANSFER_IDLE_MS });
    if (res.statusCode === 416) await fs.promises.rm(part, { force: true }); // not a prefix of this file: start again
    if (res.statusCode !== 200 && res.statusCode !== 206) throw await failure(link, res);
    if (res.statusCode === 200) start = 0;
    else if (!isRest(res.headers["content-range"], start, attachment.size)) {
      res.destroy();
      await fs.promises.rm(part, { force: true }); // those bytes do not follow what arrived: start again
      throw new BusError(
        206,
        `the answer holds bytes ${res.headers["content-range"] ?? "(no Content-Range)"}, not the rest from byte ${start} of ${attachment.size}`,
      );
    }
    let done = start;
    options.onProgress?.(done, attachment.size);
    res.on("data", (chunk: Buffer) => {
      done += chunk.length;
      options.onProgress?.(done, attachment.size);
    });
    await pipeline(res, fs.createWriteStream(part, { flags: start > 0 ? "r+" : "w", start })).catch((err: NodeJS.ErrnoException) =>
      Promise.reject(inTransit(link.base, err)),
    );
  });
  const { sha256 } = await hashFile(part);
  if (sha256 !== attachment.sha256) {
    await fs.promises.rm(part, { force: true });
    throw new HashMismatchError(attachment.name, attachment.sha256, sha256);
  }
  await place(part, target, options.force === true);
  return target;
}

/** Whether a 206's Content-Range is the rest of the file from `start`, as asked. */
function isRest(header: string | undefined, start: number, size: number): boolean {
  const range = parseContentRange(header ?? "");
  return range !== null && range.start === start && range.end === size - 1 && range.total === size;
}

/** What link() fails with on a file system without hard links (FAT, exFAT, some SMB shares). */
const NO_HARD_LINKS = new Set(["EPERM", "ENOTSUP", "EOPNOTSUPP", "EXDEV", "ENOSYS"]);

/**
 * Moves the checked file to its name: over an existing one only with `force`, else never (link, or
 * where there are no hard links an exclusive copy, fails on EEXIST).
 */
async function place(part: string, target: string, force: boolean): Promise<void> {
  if (force) return fs.promises.rename(part, target);
  try {
    await fs.promises.link(part, target).catch((err: NodeJS.ErrnoException) => {
      if (!NO_HARD_LINKS.has(err.code ?? "")) throw err;
      return fs.promises.copyFile(part, target, fs.constants.COPYFILE_EXCL);
    });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") throw new FileExistsError(target);
    throw err;
  }
  await fs.promises.rm(part);
}
