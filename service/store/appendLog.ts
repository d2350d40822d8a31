import { constants, promises as fsp } from "node:fs";
import * as path from "node:path";

/** What the disk's refusal means, by error code: what an answer may say (never a server path). */
const STORAGE_FAILURES: Record<string, string> = {
  ENOSPC: "the disk is full",
  EDQUOT: "the disk quota is used up",
  EROFS: "the data dir is read-only",
  EACCES: "the data dir is not writable",
  EPERM: "the data dir is not writable",
  EIO: "the disk reported an I/O error",
};

/**
 * The disk refused a write (full, read-only, I/O error): the HTTP layer answers 503 with `publicText`,
 * which names no path; the message (for the log) keeps the system's own words, path included.
 */
export class StorageError extends Error {
  readonly publicText: string;
  constructor(file: string, cause: unknown) {
    super(`${file}: ${(cause as Error).message}`);
    this.name = "StorageError";
    const code = (cause as NodeJS.ErrnoException).code;
    this.publicText = `${STORAGE_FAILURES[code ?? ""] ?? "the write failed"}${code ? ` (${code})` : ""}`;
  }
}

/** A torn tail that could not be set aside at start-up (a full or read-only disk): it is before the first write. */
export type PendingTail = () => Promise<void>;

interface Pending {
  prepare(positionInBatch: number): Buffer;
  committed(offset: number, length: number): unknown;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/**
 * An append-only file with group commit: records that arrive while a write + fsync is in
 * flight wait, then all go to disk in one write and one fsync, and only then are their
 * callers resolved. A failed write is truncated back to the last good offset so nothing
 * already stored is damaged, and the next write tries again (recovery when space returns).
 */
export class AppendLog {
  private queue: Pending[] = [];
  private writing = false;
  /** Set while a compaction swaps the file: records queue up and are written after it. */
  private held = false;
  private needsTruncate = false;
  private drained: Array<() => void> = [];

  /** Opened on first write and dropped after a failure, so a data dir that becomes writable again works. */
  private file: fsp.FileHandle | null = null;

  constructor(
    private readonly path: string,
    private goodLength: number,
    /** Saves a torn tail still in the file after goodLength; run (and retried) before the first write. */
    private pendingTail: PendingTail | null = null,
  ) {
    this.needsTruncate = pendingTail !== null;
  }

  /**
   * Queue a record. `prepare` builds its bytes when its batch is formed (so ids and
   * timestamps follow commit order); `committed` runs after the fsync, in order.
   */
  append<R>(prepare: (positionInBatch: number) => Buffer, committed: (offset: number, length: number) => R): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ prepare, committed, resolve: resolve as (v: unknown) => void, reject });
      if (!this.writing && !this.held) void this.flushLoop();
    });
  }

  /** Bytes of complete records in the file. */
  get length(): number {
    return this.goodLength;
  }

  /**
   * Runs `swap` with no write in flight and new records held back, then writes them. `swap` may replace
   * the file (by rename) and return the new file's length; the log then writes to the new file.
   */
  async exclusive<T>(swap: (length: number) => Promise<{ result: T; newLength?: number }>): Promise<T> {
    this.held = true;
    try {
      while (this.writing) await new Promise<void>((resolve) => this.drained.push(resolve));
      const { result, newLength } = await swap(this.goodLength);
      if (newLength !== undefined) {
        await this.file?.close();
        this.file = null;
        this.goodLength = newLength;
      }
      return result;
    } finally {
      this.held = false;
      if (this.queue.length > 0 && !this.writing) void this.flushLoop();
    }
  }

  /** Resolves once nothing is queued or being written. */
  idle(): Promise<void> {
    if (!this.writing && (this.queue.length === 0 || this.held)) return Promise.resolve();
    return new Promise((resolve) => this.drained.push(resolve));
  }

  async close(): Promise<void> {
    await this.idle();
    await this.file?.close();
    this.file = null;
  }

  private async flushLoop(): Promise<void> {
    this.writing = true;
    while (this.queue.length > 0 && !this.held) {
      const batch = this.queue.splice(0);
      await this.writeBatch(batch);
    }
    this.writing = false;
    for (const resolve of this.drained.splice(0)) resolve();
  }

  private async writeBatch(batch: Pending[]): Promise<void> {
    const chunks = batch.map((p, i) => p.prepare(i));
    const data = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
    try {
      // Not O_APPEND: every write goes at goodLength, right after the last complete line.
      if (this.pendingTail) {
        await this.pendingTail();
        this.pendingTail = null;
      }
      this.file ??= await openForAppend(this.path);
      if (this.needsTruncate) await this.truncateToGood(this.file);
      let written = 0;
      while (written < data.length) {
        const { bytesWritten } = await this.file.write(data, written, data.length - written, this.goodLength + written);
        written += bytesWritten;
      }
      await this.file.datasync();
    } catch (error) {
      if (this.file) {
        this.needsTruncate = true;
        await this.truncateToGood(this.file).catch(() => undefined);
        await this.file.close().catch(() => undefined);
        this.file = null;
      }
      const failure = new StorageError(this.path, error);
      for (const p of batch) p.reject(failure);
      return;
    }
    let offset = this.goodLength;
    this.goodLength += data.length;
    for (let i = 0; i < batch.length; i++) {
      const length = chunks[i].length;
      try {
        batch[i].resolve(batch[i].committed(offset, length));
      } catch (error) {
        batch[i].reject(error);
      }
      offset += length;
    }
  }

  private async truncateToGood(file: fsp.FileHandle): Promise<void> {
    await file.truncate(this.goodLength);
    await file.datasync();
    this.needsTruncate = false;
  }
}

/** Open (creating if needed) and fsync the directory, so a newly created file's entry is durable too. */
async function openForAppend(file: string): Promise<fsp.FileHandle> {
  const handle = await fsp.open(file, constants.O_RDWR | constants.O_CREAT, 0o600);
  try {
    const dir = await fsp.open(path.dirname(file), "r");
    await dir.sync().finally(() => dir.close());
  } catch (error) {
    await handle.close();
    throw error;
  }
  return handle;
}
