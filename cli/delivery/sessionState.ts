/**
 * What a Claude Code session has been given, one small file per session id: the id of the last message
 * delivered (the cursor), so a prompt's hook asks only for what is newer and never delivers one twice,
 * and whether the session was already told that the bus cannot be reached (once is enough).
 */
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { writeFileDurably } from "../../contract/durableFile";

export interface SessionState {
  cursor?: string;
  noticeShown?: boolean;
}

/** Session ids are Claude Code's UUIDs; anything else is refused rather than used in a file name. */
const SESSION_ID = /^[A-Za-z0-9_-]{1,128}$/;
/** Session files kept at most, newest first, and the oldest age one may reach: the directory is bounded. */
export const MAX_SESSION_FILES = 500;
export const SESSION_FILE_MAX_AGE_DAYS = 30;

export function sessionsDir(home = os.homedir()): string {
  return path.join(home, ".claude-bus", "sessions");
}

export function isSessionId(id: unknown): id is string {
  return typeof id === "string" && SESSION_ID.test(id);
}

export class SessionStore {
  constructor(private readonly dir: string, private readonly platform: NodeJS.Platform = process.platform) {}

  private file(id: string): string {
    return path.join(this.dir, `${id}.json`);
  }

  async load(id: string): Promise<SessionState> {
    try {
      const value = JSON.parse(await fs.readFile(this.file(id), "utf8")) as SessionState;
      return { cursor: typeof value.cursor === "string" ? value.cursor : undefined, noticeShown: value.noticeShown === true };
    } catch {
      return {}; // none yet, or unreadable: start afresh (at worst a message is delivered again)
    }
  }

  async save(id: string, state: SessionState): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true, mode: 0o700 });
    await writeFileDurably(this.file(id), JSON.stringify(state) + "\n", { mode: 0o600, platform: this.platform });
  }

  /** Drops the files of sessions older than the age limit, and the oldest beyond the count limit. */
  async prune(now = Date.now()): Promise<void> {
    const names = (await fs.readdir(this.dir).catch(() => [] as string[])).filter((n) => n.endsWith(".json"));
    const aged = await Promise.all(
      names.map(async (name) => ({ name, mtime: (await fs.stat(path.join(this.dir, name)).catch(() => undefined))?.mtimeMs ?? 0 })),
    );
    aged.sort((a, b) => b.mtime - a.mtime);
    const oldest = now - SESSION_FILE_MAX_AGE_DAYS * 86_400_000;
    const drop = aged.filter((f, i) => i >= MAX_SESSION_FILES || f.mtime < oldest);
    await Promise.all(drop.map((f) => fs.rm(path.join(this.dir, f.name), { force: true })));
  }
}
