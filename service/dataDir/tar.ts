/**
 * The backup's container: a POSIX ustar archive, gzipped, so `tar tzf` reads it anywhere. Only regular
 * files, written from known sizes (a backup snapshots its files' lengths first), read back in memory
 * (a restore checks every entry before it writes a byte).
 */
import type { Readable } from "node:stream";

const BLOCK = 512;

/** The 512-byte header of one regular file. */
export function tarHeader(name: string, size: number, mtime = Math.floor(Date.now() / 1000)): Buffer {
  if (Buffer.byteLength(name) > 100) throw new Error(`tar: name too long: ${name}`);
  const header = Buffer.alloc(BLOCK, 0);
  const field = (text: string, offset: number, length: number) => header.write(text, offset, length, "ascii");
  const octal = (value: number, offset: number, length: number) => field(`${value.toString(8).padStart(length - 1, "0")}\0`, offset, length);
  header.write(name, 0, 100, "utf8");
  octal(0o600, 100, 8);
  octal(0, 108, 8);
  octal(0, 116, 8);
  octal(size, 124, 12);
  octal(mtime, 136, 12);
  field("        ", 148, 8); // the checksum counts its own field as spaces
  field("0", 156, 1);
  field("ustar\0", 257, 6);
  field("00", 263, 2);
  let sum = 0;
  for (const byte of header) sum += byte;
  octal(sum, 148, 7);
  return header;
}

/** Zeros after a file's bytes up to the next block. */
export const tarPadding = (size: number): Buffer => Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK, 0);

/** The two empty blocks that end an archive. */
export const tarEnd = (): Buffer => Buffer.alloc(2 * BLOCK, 0);

export interface TarEntry {
  name: string;
  data: Buffer;
}

/** The regular files of a (gunzipped) ustar archive; throws on anything it cannot vouch for. */
export function readTar(archive: Buffer): TarEntry[] {
  const entries: TarEntry[] = [];
  for (let at = 0; at + BLOCK <= archive.length; ) {
    const header = archive.subarray(at, at + BLOCK);
    if (header.every((byte) => byte === 0)) return entries;
    const text = (offset: number, length: number) => header.toString("utf8", offset, offset + length).replace(/\0.*$/s, "");
    const size = parseInt(text(124, 12).trim(), 8);
    let sum = 0;
    header.forEach((byte, i) => {
      sum += i >= 148 && i < 156 ? 32 : byte;
    });
    if (!Number.isFinite(size) || parseInt(text(148, 8).trim(), 8) !== sum) throw new Error("not a tar archive (a header's checksum is wrong)");
    if (text(156, 1) !== "0" && text(156, 1) !== "") throw new Error(`tar: ${text(0, 100)} is not a regular file`);
    const start = at + BLOCK;
    if (start + size > archive.length) throw new Error(`tar: ${text(0, 100)} is cut short`);
    entries.push({ name: text(0, 100), data: archive.subarray(start, start + size) });
    at = start + size + tarPadding(size).length;
  }
  throw new Error("tar: the archive has no end (cut short?)");
}

/** All of a stream's bytes. */
export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
