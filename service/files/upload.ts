/**
 * An upload's body, streamed to a file: each chunk is counted against the limits, written at its place
 * and hashed before the next is read, so a request holds one chunk in memory whatever its size. A body
 * that sends nothing for a while, or whose client went away, ends the upload with UploadInterrupted.
 */
import { createHash, type Hash } from "node:crypto";
import type { promises as fsp } from "node:fs";
import type { IncomingMessage } from "node:http";
import { StorageError } from "../store/appendLog";

/** The client stopped sending (it went away, or sent nothing for too long): what arrived is whole chunks. */
export class UploadInterrupted extends Error {
  constructor(reason: string) {
    super(`the upload was interrupted: ${reason}`);
    this.name = "UploadInterrupted";
  }
}

export interface BodyTarget {
  handle: fsp.FileHandle;
  /** The file's path, for the log of a failed write. */
  path: string;
  /** Where the body's first byte goes in the file. */
  position: number;
  /** Most bytes the body may hold: `tooLarge` is thrown before a byte beyond it is written. */
  maxBytes: number;
  tooLarge(): Error;
  /** Takes `bytes` more of the quota before they are written; throws when they do not fit. */
  reserve(bytes: number): void;
  /** How long the body may send nothing, in ms. */
  idleMs: number;
}

/** Receives the whole body; resolves with its length and sha256 state, having written (not fsynced) every byte. */
export async function receiveBody(req: IncomingMessage, target: BodyTarget): Promise<{ bytes: number; hash: Hash }> {
  const hash = createHash("sha256");
  let bytes = 0;
  let idle: NodeJS.Timeout | undefined;
  const arm = () => {
    clearTimeout(idle);
    idle = setTimeout(() => req.destroy(new UploadInterrupted(`nothing arrived for ${target.idleMs / 1000} s`)), target.idleMs);
  };
  arm();
  try {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      arm();
      if (bytes + chunk.length > target.maxBytes) throw target.tooLarge();
      target.reserve(chunk.length);
      try {
        for (let written = 0; written < chunk.length; ) {
          const { bytesWritten } = await target.handle.write(chunk, written, chunk.length - written, target.position + bytes + written);
          written += bytesWritten;
        }
      } catch (error) {
        throw new StorageError(target.path, error);
      }
      hash.update(chunk);
      bytes += chunk.length;
    }
  } catch (error) {
    if (error instanceof UploadInterrupted || error instanceof StorageError) throw error;
    if (req.destroyed && !req.complete) throw new UploadInterrupted("the client went away");
    throw error;
  } finally {
    clearTimeout(idle);
  }
  return { bytes, hash };
}
