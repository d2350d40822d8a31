/**
 * The files messages carry (docs/API.md "Files"), in DATA/files/:
 *
 *   files/<sha256>                  a stored file, always whole: written elsewhere, fsynced, renamed here
 *   files/.partial/<sha256>.<who>   a resumable upload's bytes so far, one per file and uploader
 *   files/.upload/<random>          a one-shot upload in progress (emptied at start: never answered)
 *
 * files.jsonl (fileCatalog.ts) says what is stored: a file is visible once its event is on disk, and one
 * found without it at start (a crash between the rename and the event) is removed. Stored files and
 * partial uploads count against one quota of bytes and one cap on their number, and each uploader's
 * against its own smaller ones (a file for each of its uploaders), so one credential cannot fill the
 * bus for the others; at its own caps it alone is refused. A file is deleted once
 * it is older than the age limit and no message younger than that attaches it (see `sweep`).
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import { constants, promises as fsp } from "node:fs";
import type { IncomingMessage } from "node:http";
import * as path from "node:path";
import {
  DEFAULT_FILE_MAX_AGE_DAYS,
  DEFAULT_FILE_QUOTA_SHARE,
  DEFAULT_MAX_FILE_MIB,
  DEFAULT_UPLOADER_MAX_FILES,
  DEFAULT_UPLOADER_MAX_PARTIALS,
  DEFAULT_UPLOADER_QUOTA_SHARE,
  MAX_STORED_FILES,
  MIB,
  PARTIAL_UPLOAD_HOURS,
} from "../../contract/defaults";
import { SHA256_PATTERN, type StoredFile, type UploadProgress } from "../../contract/files";
import { hashFile } from "../../contract/hashFile";
import { TEAM_UPLOADER, UPLOADER_PATTERN } from "../../contract/names";
import { StorageError } from "../store/appendLog";
import { syncDir } from "../../contract/durableFile";
import { FileCatalog, type FileRecord } from "./fileCatalog";
import { HttpError } from "../http/httpErrors";
import type { Log } from "../log";
import { receiveBody, UploadInterrupted } from "./upload";
import { getOrCreate } from "../../contract/maps";

export const FILES_DIR = "files";
const PARTIAL_DIR = ".partial";
const UPLOAD_DIR = ".upload";
const DAY_MS = 86_400_000;

export interface FileLimits {
  /** The largest file, in bytes. */
  maxFileBytes: number;
  /** Bytes of stored files and partial uploads together; absent: a share of the data dir's filesystem. */
  quotaBytes?: number;
  /** Days a file is kept after its last upload and after the newest message that attaches it. */
  maxAgeDays: number;
  /** Files held at once, stored and partial uploads together. */
  maxFiles: number;
  /** Files one uploader holds at once, stored (that it uploaded) and partial together. */
  uploaderMaxFiles: number;
  /** Bytes of one uploader's stored files and partial uploads; absent: DEFAULT_UPLOADER_QUOTA_SHARE of the quota. */
  uploaderQuotaBytes?: number;
  /** Partial uploads one uploader has open at once. */
  uploaderMaxPartials: number;
}

export const DEFAULT_FILE_LIMITS: FileLimits = {
  maxFileBytes: DEFAULT_MAX_FILE_MIB * MIB,
  maxAgeDays: DEFAULT_FILE_MAX_AGE_DAYS,
  maxFiles: MAX_STORED_FILES,
  uploaderMaxFiles: DEFAULT_UPLOADER_MAX_FILES,
  uploaderMaxPartials: DEFAULT_UPLOADER_MAX_PARTIALS,
};

/** What an upload request ended with: the whole file stored (new, or its bytes were there), or a part of it. */
export type UploadResult = { created: boolean; file: StoredFile } | { progress: UploadProgress };

interface PartialUpload {
  sha256: string;
  uploader: string;
  size: number;
  /** When its last part arrived (ms). */
  touched: number;
  /** A request is writing it. */
  busy: boolean;
}

/** What one uploader has under way: partial uploads and their bytes, one-shot bytes arriving, new files being committed. */
interface InFlight {
  partials: number;
  partialBytes: number;
  incomingBytes: number;
  committing: number;
}

/** A size in words for an error: bytes, and MiB beside them. */
const sized = (bytes: number) => `${bytes} bytes (${Number((bytes / MIB).toFixed(1))} MiB)`;
/** An uploader in words for an error. */
const credentialOf = (uploader: string) => (uploader === TEAM_UPLOADER ? "the team credential" : `the credential of "${uploader}"`);

export class FileStore {
  private readonly partials = new Map<string, PartialUpload>();
  private partialBytes = 0;
  /** Bytes of one-shot uploads being received. */
  private incomingBytes = 0;
  /** New files being committed: counted against maxFiles before they are in the catalog. */
  private committing = 0;
  private readonly pins = new Map<string, number>();
  private readonly queues = new Map<string, Promise<unknown>>();
  private readonly inFlight = new Map<string, InFlight>();

  private constructor(
    private readonly dir: string,
    private readonly catalog: FileCatalog,
    private readonly limits: FileLimits & { quotaBytes: number; uploaderQuotaBytes: number },
    private readonly idleMs: number,
    private readonly log: Log,
  ) {}

  /**
   * The files of a data dir: replays files.jsonl, then makes the directory agree with it (unrecorded files
   * and interrupted one-shot uploads removed, recorded files that are missing forgotten, partial uploads
   * found). A data dir that cannot be written (full, read-only) still opens: uploads then answer 503.
   * The directories are made at the first upload.
   */
  static async open(dataDir: string, limits: FileLimits, idleMs: number, log: Log): Promise<FileStore> {
    const catalog = await FileCatalog.open(dataDir, log);
    const quotaBytes = limits.quotaBytes ?? defaultQuota(dataDir);
    const uploaderQuotaBytes = limits.uploaderQuotaBytes ?? Math.floor(quotaBytes * DEFAULT_UPLOADER_QUOTA_SHARE);
    const files = new FileStore(path.join(dataDir, FILES_DIR), catalog, { ...limits, quotaBytes, uploaderQuotaBytes }, idleMs, log);
    await files.reconcile();
    return files;
  }

  get quotaBytes(): number {
    return this.limits.quotaBytes;
  }

  get maxAgeDays(): number {
    return this.limits.maxAgeDays;
  }

  /** A stored file's record, if the bus holds it. */
  get(sha256: string): FileRecord | undefined {
    return this.catalog.get(sha256);
  }

  /** Whether a file the bus no longer holds was known (it expired, or a message attaches it). */
  isGone(sha256: string): boolean {
    return this.catalog.isGone(sha256);
  }

  pathOf(sha256: string): string {
    return path.join(this.dir, sha256);
  }

  /** How many bytes of this file the bus holds from this uploader: all when it uploaded it, else its partial upload's. */
  offsetFor(sha256: string, uploader: string): number {
    const record = this.catalog.get(sha256);
    if (record?.by.has(uploader)) return record.size;
    return this.partials.get(partialKey(sha256, uploader))?.size ?? 0;
  }

  /** A message posted at `time` attaches these files (the message store's replay and posts). */
  attached(hashes: readonly string[], time: number): void {
    this.catalog.attached(hashes, time);
  }

  /** Keeps these files from expiry until the returned function is called (a post that attaches them is being written). */
  pin(hashes: readonly string[]): () => void {
    for (const sha256 of hashes) this.pins.set(sha256, (this.pins.get(sha256) ?? 0) + 1);
    return () => {
      for (const sha256 of hashes) {
        const left = (this.pins.get(sha256) ?? 1) - 1;
        if (left > 0) this.pins.set(sha256, left);
        else this.pins.delete(sha256);
      }
    };
  }

  /**
   * POST /files: the whole body into a temp file, hashed as it arrives, then stored under its sha256.
   * `declared` is the Content-Length, checked before a byte is read; `accept` lets the client send.
   * At the cap on files it is refused before a byte is read too: which file it is (maybe one stored
   * already) is known only from its bytes, and a PUT, which names them, is taken then.
   */
  async uploadWhole(req: IncomingMessage, uploader: string, name: string, declared: number | undefined, accept: () => void): Promise<UploadResult> {
    this.checkCount(uploader);
    if (declared !== undefined) {
      this.checkSize(declared);
      this.checkQuota(declared, uploader);
    }
    const own = this.usage(uploader);
    await this.ensureDirs();
    const temp = path.join(this.dir, UPLOAD_DIR, randomBytes(12).toString("hex"));
    let received = 0;
    try {
      const handle = await fsp.open(temp, "wx", 0o600).catch((error) => Promise.reject(new StorageError(temp, error)));
      let sha256: string;
      try {
        accept();
        const body = await receiveBody(req, {
          handle,
          path: temp,
          position: 0,
          maxBytes: this.limits.maxFileBytes,
          tooLarge: () => this.tooLarge(),
          reserve: (bytes) => {
            this.checkQuota(bytes, uploader);
            this.incomingBytes += bytes;
            own.incomingBytes += bytes;
            received += bytes;
          },
          idleMs: this.idleMs,
        });
        await handle.datasync().catch((error) => Promise.reject(new StorageError(temp, error)));
        sha256 = body.hash.digest("hex");
      } finally {
        await handle.close();
      }
      return await this.commit(temp, sha256, received, uploader, name, true);
    } catch (error) {
      await fsp.rm(temp, { force: true }).catch(() => undefined);
      throw error;
    } finally {
      this.incomingBytes -= received;
      own.incomingBytes -= received;
    }
  }

  /**
   * PUT /files/<sha256>: one part (`range`, or the whole file when absent) of a resumable upload, appended
   * to this uploader's partial upload of that file. The part must start where the partial ends. Once the
   * partial is whole its sha256 must be the one named, and the file is stored. A file this uploader
   * uploaded already is not received again. `declared` is the Content-Length.
   */
  async uploadPart(
    req: IncomingMessage,
    sha256: string,
    uploader: string,
    name: string,
    range: { start: number; end: number; total: number } | null,
    declared: number | undefined,
    accept: () => void,
  ): Promise<UploadResult> {
    const key = partialKey(sha256, uploader);
    if (this.catalog.get(sha256)?.by.has(uploader) && !this.partials.get(key)?.busy) {
      // Recorded again (its age starts over), unless an expiry deleted it meanwhile: then it is received.
      const again = await this.serial(sha256, async () => {
        const stored = this.catalog.get(sha256);
        return stored?.by.has(uploader) ? this.catalog.stored({ sha256, size: stored.size, name, by: uploader, time: Date.now() }) : undefined;
      });
      if (again) {
        await this.dropPartial(key);
        return { created: false, file: toFile(again) };
      }
    }
    if (declared === undefined) throw new HttpError("lengthRequired", "Content-Length is required: say how many bytes this part holds");
    const part = range ?? { start: 0, end: declared - 1, total: declared };
    if (declared !== part.end - part.start + 1)
      throw new HttpError("badRequest", `Content-Length is ${declared}, but Content-Range names ${part.end - part.start + 1} bytes`);
    this.checkSize(part.total);
    const existing = this.partials.get(key);
    const offset = existing?.size ?? 0;
    if (existing?.busy)
      throw new HttpError("conflict", `an upload of this file by this credential is in progress (${offset} bytes so far); retry when it ends`);
    if (part.start !== offset) throw new HttpError("conflict", `this upload holds ${offset} bytes: send the file from byte ${offset}`);
    if (!existing) {
      this.checkCount(uploader);
      this.checkPartials(uploader);
    }
    this.checkQuota(declared, uploader);
    // Claimed before the first await: a second request for this upload then meets `busy` and gets its 409.
    const partial = existing ?? this.addPartial(key, { sha256, uploader, size: 0, touched: Date.now(), busy: false });
    partial.busy = true;
    const file = path.join(this.dir, PARTIAL_DIR, key);
    let hash: string | undefined;
    try {
      await this.ensureDirs();
      const handle = await fsp.open(file, constants.O_WRONLY | constants.O_CREAT, 0o600).catch((error) => Promise.reject(new StorageError(file, error)));
      try {
        accept();
        const body = await receiveBody(req, {
          handle,
          path: file,
          position: offset,
          maxBytes: declared,
          tooLarge: () => new HttpError("badRequest", `the body holds more than the ${declared} bytes of its Content-Length`),
          reserve: (bytes) => {
            this.checkQuota(bytes, uploader);
            this.resize(partial, partial.size + bytes);
          },
          idleMs: this.idleMs,
        });
        if (offset === 0) hash = body.hash.digest("hex");
        await handle.datasync();
      } catch (error) {
        // What a client that went away sent is kept, for it to resume; after any other failure the part is undone.
        if (error instanceof UploadInterrupted) await handle.datasync().catch(() => undefined);
        else {
          this.resize(partial, offset);
          await handle.truncate(offset).catch(() => undefined);
        }
        throw error instanceof UploadInterrupted || error instanceof HttpError || error instanceof StorageError ? error : new StorageError(file, error);
      } finally {
        await handle.close();
        partial.touched = Date.now();
      }
    } catch (error) {
      partial.busy = false;
      if (partial.size === 0) await this.dropPartial(key);
      throw error;
    }
    partial.busy = false;
    if (partial.size < part.total) return { progress: { sha256, offset: partial.size, size: part.total } };
    return this.finishPartial(key, file, hash, part.total, name);
  }

  /**
   * Deletes what has grown too old: files uploaded more than the age limit ago that no message younger
   * than that attaches (and no post being written), partial uploads untouched for PARTIAL_UPLOAD_HOURS.
   * Resolves with how many of each it deleted.
   */
  async sweep(now = Date.now()): Promise<{ files: number; partials: number }> {
    const ageMs = this.limits.maxAgeDays * DAY_MS;
    const expired = (record: FileRecord) =>
      !this.pins.has(record.sha256) && now - record.uploaded >= ageMs && !(now - (this.catalog.lastAttached(record.sha256) ?? -Infinity) < ageMs);
    let files = 0;
    for (const record of [...this.catalog.all()].filter(expired)) {
      const deleted = await this.serial(record.sha256, async () => {
        const current = this.catalog.get(record.sha256);
        if (!current || !expired(current)) return false;
        // Forgotten first, so no post attaches it from here on; the bytes go before the event is written (frees a full disk).
        const recorded = this.catalog.removed(record.sha256, now, this.log);
        await fsp
          .rm(this.pathOf(record.sha256), { force: true })
          .catch((error: Error) => this.log({ level: "warn", msg: "expired file not removed", sha256: record.sha256, error: error.message }));
        await recorded;
        return true;
      });
      if (deleted) files++;
    }
    let partials = 0;
    for (const [key, partial] of [...this.partials]) {
      if (partial.busy || now - partial.touched < PARTIAL_UPLOAD_HOURS * 3_600_000) continue;
      await this.dropPartial(key);
      partials++;
    }
    this.catalog.forgetBefore(now - ageMs);
    return { files, partials };
  }

  /** files.jsonl as the current state needs it (what a backup holds). */
  snapshot(): string {
    return this.catalog.snapshot();
  }

  close(): Promise<void> {
    return this.catalog.close();
  }

  private async finishPartial(key: string, file: string, hashed: string | undefined, size: number, name: string): Promise<UploadResult> {
    const partial = this.partials.get(key)!;
    try {
      const actual = hashed ?? (await hashFile(file)).sha256;
      if (actual !== partial.sha256) {
        throw new HttpError(
          "badRequest",
          `the ${size} bytes uploaded have sha256 ${actual}, not ${partial.sha256}: the upload was discarded; start again from byte 0`,
        );
      }
      return await this.commit(file, partial.sha256, size, partial.uploader, name, false);
    } finally {
      await this.dropPartial(key);
    }
  }

  /**
   * Stores the whole file at `source` (fsynced) under its sha256 and records the upload, one commit or
   * deletion of a file at a time. Bytes stored already are not stored again: only the upload is recorded.
   */
  private commit(source: string, sha256: string, size: number, uploader: string, name: string, newFile: boolean): Promise<UploadResult> {
    return this.serial(sha256, async () => {
      const upload = { sha256, size, name, by: uploader, time: Date.now() };
      if (this.catalog.get(sha256)) {
        await fsp.rm(source, { force: true });
        return { created: false, file: toFile(await this.catalog.stored(upload)) };
      }
      // Again: uploads received side by side each passed the check at their start.
      if (newFile) this.checkCount(uploader);
      const own = this.usage(uploader);
      this.committing++;
      own.committing++;
      const dest = this.pathOf(sha256);
      try {
        try {
          await fsp.rename(source, dest);
          await syncDir(this.dir);
        } catch (error) {
          throw new StorageError(dest, error);
        }
        try {
          return { created: true, file: toFile(await this.catalog.stored(upload)) };
        } catch (error) {
          await fsp.rm(dest, { force: true }).catch(() => undefined);
          throw error;
        }
      } finally {
        this.committing--;
        own.committing--;
      }
    });
  }

  /** Runs `work` after every earlier commit or deletion of the same file. */
  private serial<T>(sha256: string, work: () => Promise<T>): Promise<T> {
    const run = (this.queues.get(sha256) ?? Promise.resolve()).then(work);
    const settled = run.catch(() => undefined);
    this.queues.set(sha256, settled);
    void settled.then(() => {
      if (this.queues.get(sha256) === settled) this.queues.delete(sha256);
    });
    return run;
  }

  /** What `uploader` has under way (kept while it has anything: at most one entry per uploader). */
  private usage(uploader: string): InFlight {
    return getOrCreate(this.inFlight, uploader, () => ({ partials: 0, partialBytes: 0, incomingBytes: 0, committing: 0 }));
  }

  private addPartial(key: string, partial: PartialUpload): PartialUpload {
    this.partials.set(key, partial);
    this.usage(partial.uploader).partials++;
    return partial;
  }

  private resize(partial: PartialUpload, size: number): void {
    this.partialBytes += size - partial.size;
    this.usage(partial.uploader).partialBytes += size - partial.size;
    partial.size = size;
  }

  private async dropPartial(key: string): Promise<void> {
    const partial = this.partials.get(key);
    if (!partial || partial.busy) return;
    this.resize(partial, 0);
    this.partials.delete(key);
    this.usage(partial.uploader).partials--;
    await fsp
      .rm(path.join(this.dir, PARTIAL_DIR, key), { force: true })
      .catch((error: Error) => this.log({ level: "warn", msg: "partial upload not removed", error: error.message }));
  }

  private tooLarge(): HttpError {
    return new HttpError("tooLarge", `the file is larger than the largest this bus takes: ${sized(this.limits.maxFileBytes)}`);
  }

  private checkSize(bytes: number): void {
    if (bytes > this.limits.maxFileBytes) throw this.tooLarge();
  }

  /** Throws unless `bytes` more of this uploader's fit in its own quota and the bus's. */
  private checkQuota(bytes: number, uploader: string): void {
    const used = this.catalog.bytes + this.partialBytes + this.incomingBytes;
    if (used + bytes > this.limits.quotaBytes) {
      throw new HttpError(
        "insufficientStorage",
        `the file quota is reached: ${sized(this.limits.quotaBytes)} for stored files and partial uploads, ${sized(used)} in use; nothing was stored (files expire ${this.limits.maxAgeDays} days after their last use)`,
      );
    }
    const own = this.usage(uploader);
    const ownUsed = this.catalog.heldBy(uploader).bytes + own.partialBytes + own.incomingBytes;
    if (ownUsed + bytes > this.limits.uploaderQuotaBytes) {
      throw new HttpError(
        "insufficientStorage",
        `${credentialOf(uploader)} has reached its own file quota: ${sized(this.limits.uploaderQuotaBytes)} for the files it stored and its partial uploads, ${sized(ownUsed)} in use; nothing was stored (files expire ${this.limits.maxAgeDays} days after their last use)`,
      );
    }
  }

  /** Throws unless one more file of this uploader's fits under its own cap on their number and the bus's. */
  private checkCount(uploader: string): void {
    if (this.catalog.count + this.partials.size + this.committing >= this.limits.maxFiles) {
      throw new HttpError(
        "insufficientStorage",
        `the bus holds ${this.limits.maxFiles} files (stored and partial uploads), the most it keeps; nothing was stored`,
      );
    }
    const own = this.usage(uploader);
    const held = this.catalog.heldBy(uploader).files + own.partials + own.committing;
    if (held >= this.limits.uploaderMaxFiles) {
      throw new HttpError(
        "insufficientStorage",
        `${credentialOf(uploader)} holds ${this.limits.uploaderMaxFiles} files (stored and partial uploads), the most one credential keeps; nothing was stored`,
      );
    }
  }

  /** Throws unless this uploader may open one more partial upload. */
  private checkPartials(uploader: string): void {
    if (this.usage(uploader).partials >= this.limits.uploaderMaxPartials) {
      throw new HttpError(
        "rateLimited",
        `${credentialOf(uploader)} has ${this.limits.uploaderMaxPartials} partial uploads open, the most one credential may; finish one (or wait ${PARTIAL_UPLOAD_HOURS} h until an untouched one is deleted)`,
      );
    }
  }

  private async ensureDirs(): Promise<void> {
    for (const dir of [this.dir, path.join(this.dir, PARTIAL_DIR), path.join(this.dir, UPLOAD_DIR)]) {
      await fsp.mkdir(dir, { recursive: true, mode: 0o700 }).catch((error) => Promise.reject(new StorageError(dir, error)));
    }
  }

  /** Makes the directory agree with the catalog (see `open`); on a data dir that cannot be written, as far as it can. */
  private async reconcile(): Promise<void> {
    const warn = (msg: string) => (error: Error) => this.log({ level: "warn", msg, error: error.message });
    const list = (dir: string) => fsp.readdir(dir).catch(() => [] as string[]);
    for (const name of await list(path.join(this.dir, UPLOAD_DIR)))
      await fsp.rm(path.join(this.dir, UPLOAD_DIR, name), { force: true }).catch(warn("interrupted upload not removed"));
    for (const name of await list(path.join(this.dir, PARTIAL_DIR))) {
      const file = path.join(this.dir, PARTIAL_DIR, name);
      const upload = partialOf(name);
      const stat = upload ? await fsp.stat(file).catch(() => null) : null;
      if (upload && stat?.isFile()) {
        this.resize(this.addPartial(name, { ...upload, size: 0, touched: stat.mtimeMs, busy: false }), stat.size);
      } else await fsp.rm(file, { recursive: true, force: true }).catch(warn("stray file not removed"));
    }
    for (const name of await list(this.dir)) {
      if (!SHA256_PATTERN.test(name) || this.catalog.get(name)) continue;
      this.log({ level: "warn", msg: "unrecorded file removed (an upload a crash cut short)", sha256: name });
      await fsp.rm(path.join(this.dir, name), { force: true }).catch(warn("unrecorded file not removed"));
    }
    for (const record of [...this.catalog.all()]) {
      const stat = await fsp.stat(this.pathOf(record.sha256)).catch(() => null);
      if (stat?.size === record.size) continue;
      this.log({ level: "warn", msg: "recorded file missing or cut short: it answers 410", sha256: record.sha256 });
      await this.catalog.removed(record.sha256, Date.now(), this.log);
      if (stat) await fsp.rm(this.pathOf(record.sha256), { force: true }).catch(warn("damaged file not removed"));
    }
  }
}

const partialKey = (sha256: string, uploader: string) => `${sha256}.${uploader}`;

/** The upload a partial upload's file name (partialKey) stands for; null for a stray file. */
function partialOf(name: string): { sha256: string; uploader: string } | null {
  const dot = name.indexOf(".");
  const [sha256, uploader] = [name.slice(0, dot), name.slice(dot + 1)];
  return dot > 0 && SHA256_PATTERN.test(sha256) && UPLOADER_PATTERN.test(uploader) ? { sha256, uploader } : null;
}

const toFile = (record: FileRecord): StoredFile => ({ sha256: record.sha256, size: record.size, name: record.name });

/** The default quota: DEFAULT_FILE_QUOTA_SHARE of the size of the data dir's filesystem. */
function defaultQuota(dataDir: string): number {
  const fsStats = fs.statfsSync(dataDir);
  return Math.floor(fsStats.blocks * fsStats.bsize * DEFAULT_FILE_QUOTA_SHARE);
}
