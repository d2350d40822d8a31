/** A file the CLI keeps for this user (the env file, Claude Code's settings): its text, and the mode that says who else can read it. */
import { promises as fs } from "node:fs";

/** The file's text and permission bits; `undefined` when it does not exist, any other failure thrown as it came. */
export async function readFileAndMode(file: string): Promise<{ text: string; mode: number } | undefined> {
  try {
    const [text, mode] = await Promise.all([fs.readFile(file, "utf8"), fs.stat(file).then((s) => s.mode & 0o777)]);
    return { text, mode };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}
