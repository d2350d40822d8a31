/** A file named by its content (contract/files.ts): its sha256 and size, read as a stream, never whole in memory. */
import { createHash } from "crypto";
import { createReadStream } from "fs";

export async function hashFile(file: string): Promise<{ sha256: string; size: number }> {
  const hash = createHash("sha256");
  let size = 0;
  for await (const chunk of createReadStream(file)) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: hash.digest("hex"), size };
}
