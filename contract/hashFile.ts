/** A file named by its content (contract/files.ts): its sha256 and size, read as a stream, never whole in memory. */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";

/** `onChunk` sees every byte hashed, in order: a check of the content rides on the same read. */
export async function hashFile(file: string, onChunk?: (chunk: Buffer) => void): Promise<{ sha256: string; size: number }> {
  const hash = createHash("sha256");
  let size = 0;
  for await (const chunk of createReadStream(file)) {
    hash.update(chunk as Buffer);
    onChunk?.(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: hash.digest("hex"), size };
}
