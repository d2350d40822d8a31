/** JSON Lines: how records are written, and how a file of them is read back on start. */
import * as fs from "node:fs";

/**
 * A line's JSON value, or, when it is not JSON, a string that says why: a record is an object, never a
 * bare string, so a schema refuses a damaged line either way.
 */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    return `not JSON: ${(error as Error).message}`;
  }
}

/** One record as one line: the serializer shared by the store and the benchmark's data generator. */
export function jsonLine(record: object): Buffer {
  return Buffer.from(`${JSON.stringify(record)}\n`, "utf8");
}

export interface LinesRead {
  /** Bytes up to and including the last newline: every complete line. The next write goes here. */
  completeLength: number;
  /** Bytes after the last newline: a write that a crash cut short, never acknowledged. */
  tail: { lineNo: number; bytes: Buffer } | null;
}

const CHUNK = 4 * 1024 * 1024;
const NEWLINE = 0x0a;

/**
 * Calls `onLine` with each complete (newline-terminated) line of a file: its text, its byte offset
 * and length without the newline, and its 1-based number. A line that ends in a newline was written
 * whole, so only the unterminated rest after the last newline is a torn write.
 */
export function readLines(path: string, onLine: (text: string, offset: number, length: number, lineNo: number) => void): LinesRead {
  const fd = fs.openSync(path, "r");
  try {
    let carry: Buffer = Buffer.alloc(0);
    let carryOffset = 0; // file offset of carry[0]
    let fileOffset = 0;
    let lineNo = 0;
    const chunk = Buffer.allocUnsafe(CHUNK);
    for (;;) {
      const read = fs.readSync(fd, chunk, 0, CHUNK, fileOffset);
      if (read === 0) break;
      fileOffset += read;
      const buf: Buffer = carry.length > 0 ? Buffer.concat([carry, chunk.subarray(0, read)]) : chunk.subarray(0, read);
      let start = 0;
      for (let nl = buf.indexOf(NEWLINE, start); nl !== -1; nl = buf.indexOf(NEWLINE, start)) {
        onLine(buf.toString("utf8", start, nl), carryOffset + start, nl - start, ++lineNo);
        start = nl + 1;
      }
      // Keep the unterminated rest (copied: `chunk` is reused on the next read).
      carry = Buffer.from(buf.subarray(start));
      carryOffset += start;
    }
    return { completeLength: carryOffset, tail: carry.length > 0 ? { lineNo: lineNo + 1, bytes: carry } : null };
  } finally {
    fs.closeSync(fd);
  }
}
