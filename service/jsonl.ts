/** JSON Lines: how records are written, and how a file of them is replayed on start. */
import * as fs from "fs";

/** One record as one line: the serializer shared by the store and the benchmark's data generator. */
export function jsonLine(record: object): Buffer {
  return Buffer.from(JSON.stringify(record) + "\n", "utf8");
}

/** A line that is not a valid record, and is not the last one: the store refuses to start. */
export class CorruptLineError extends Error {
  constructor(file: string, lineNo: number, reason: string) {
    super(`${file} line ${lineNo} is corrupt (${reason}); refusing to start. Fix or remove that line and start again.`);
    this.name = "CorruptLineError";
  }
}

export interface ReplayResult {
  /** Bytes of the file that hold complete, valid lines: everything after is the torn tail. */
  goodLength: number;
  torn: { lineNo: number; bytes: Buffer } | null;
}

const CHUNK = 4 * 1024 * 1024;
const NEWLINE = 0x0a;

/**
 * Read a JSONL file line by line, calling `onLine` with each line's text and where it is.
 * `onLine` throws to reject a line. A bad or unterminated *last* line is a torn write from
 * a crash (it was never acknowledged): it is reported, not fatal. A bad line followed by
 * more lines is corruption: CorruptLineError names it.
 */
export function replayJsonl(
  path: string,
  onLine: (text: string, offset: number, length: number) => void,
): ReplayResult {
  const fd = fs.openSync(path, "r");
  try {
    let carry: Buffer = Buffer.alloc(0);
    let carryOffset = 0; // file offset of carry[0]
    let fileOffset = 0;
    let lineNo = 0;
    let goodLength = 0;
    let pending: { lineNo: number; reason: string; offset: number } | null = null;
    const chunk = Buffer.allocUnsafe(CHUNK);

    for (;;) {
      const read = fs.readSync(fd, chunk, 0, CHUNK, fileOffset);
      if (read === 0) break;
      fileOffset += read;
      const buf: Buffer = carry.length > 0 ? Buffer.concat([carry, chunk.subarray(0, read)]) : chunk.subarray(0, read);
      let start = 0;
      for (let nl = buf.indexOf(NEWLINE, start); nl !== -1; nl = buf.indexOf(NEWLINE, start)) {
        lineNo++;
        const offset = carryOffset + start;
        if (pending) throw new CorruptLineError(path, pending.lineNo, pending.reason);
        try {
          onLine(buf.toString("utf8", start, nl), offset, nl - start);
          goodLength = offset + nl - start + 1;
        } catch (error) {
          pending = { lineNo, reason: (error as Error).message, offset };
        }
        start = nl + 1;
      }
      // Keep the unterminated rest (copied: `chunk` is reused on the next read).
      carry = Buffer.from(buf.subarray(start));
      carryOffset += start;
    }

    if (carry.length > 0) {
      if (pending) throw new CorruptLineError(path, pending.lineNo, pending.reason);
      return { goodLength, torn: { lineNo: lineNo + 1, bytes: carry } };
    }
    if (pending) {
      const size = fs.fstatSync(fd).size;
      const bytes = Buffer.alloc(size - pending.offset);
      fs.readSync(fd, bytes, 0, bytes.length, pending.offset);
      return { goodLength, torn: { lineNo: pending.lineNo, bytes } };
    }
    return { goodLength, torn: null };
  } finally {
    fs.closeSync(fd);
  }
}
