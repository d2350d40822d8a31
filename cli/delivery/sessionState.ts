/**
 * What a Claude Code session has been given, one small file per session id: the id of the last message
 * delivered (the cursor), so a prompt's hook asks only for what is newer and never delivers one twice,
 * and whether the session was already told that the bus cannot be reached (once is enough). The hooks
 * and the live path (cli/delivery/live.ts) share the cursor: each delivers under the session's lock, so
 * one message never goes out twice. Beside it, the live path's marker says which process delivers live.
 */
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { writeFileDurably } from "../../contract/durableFile";

/** The process delivering live into the session (the plugin's MCP server) and the socket it writes to. */
export interface LiveMarker {
  pid: number;
  socket: string;
}

export interface SessionState {
  cursor?: string;
  noticeShown?: boolean;
}

/** Session ids are Claude Code's UUIDs; anything else is refused rather than used in a file name. */
const SESSION_ID = /^[A-Za-z0-9_-]{1,128}$/;
/** Session files kept at most, newest first, and the oldest age one may reach: the directory is bounded. */
export const MAX_SESSION_FILES = 500;
export const SESSION_FILE_MAX_AGE_DAYS = 30;
/** A lock file older than this was left by a process that died holding it (a delivery takes a fraction of it). */
export const SESSION_LOCK_STALE_MS = 15_000;
const LOCK_RETRY_MS = 20;

export function sessionsDir(home = os.homedir()): string {
  return path.join(home, ".claude-bus", "sessions");
}

export function isSessionId(id: unknown): id is string {
  return typeof id === "string" && SESSION_ID.test(id);
}

export class SessionStore {
  constructor(
    private readonly dir: string,
    private readonly platform: NodeJS.Platform = process.platform,
  ) {}

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
    await writeFileDurably(this.file(id), `${JSON.stringify(state)}\n`, { mode: 0o600, platform: this.platform });
  }

  /**
   * Runs `deliver` holding the session's lock (a file made with O_EXCL, holding the holder's pid), waiting
   * up to `waitMs` for it; undefined, without running it, when another delivery held it all that time. A
   * lock whose holder died (a hook killed at Claude Code's timeout) is taken over.
   */
  async withLock<T>(id: string, waitMs: number, deliver: () => Promise<T>): Promise<T | undefined> {
    const lock = path.join(this.dir, `${id}.lock`);
    await fs.mkdir(this.dir, { recursive: true, mode: 0o700 });
    const deadline = Date.now() + waitMs;
    for (;;) {
      try {
        await fs.writeFile(lock, String(process.pid), { flag: "wx", mode: 0o600 });
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
        if (await abandoned(lock)) await fs.rm(lock, { force: true });
        else if (Date.now() >= deadline) return undefined;
        else await new Promise((resolve) => setTimeout(resolve, LOCK_RETRY_MS));
      }
    }
    try {
      return await deliver();
    } finally {
      await fs.rm(lock, { force: true });
    }
  }

  private liveFile(id: string): string {
    return path.join(this.dir, `${id}.live.json`);
  }

  /** Says (or, with undefined, unsays) that `marker.pid` delivers into the session live. */
  async markLive(id: string, marker: LiveMarker | undefined): Promise<void> {
    if (!marker) return fs.rm(this.liveFile(id), { force: true });
    await fs.mkdir(this.dir, { recursive: true, mode: 0o700 });
    await writeFileDurably(this.liveFile(id), `${JSON.stringify(marker)}\n`, { mode: 0o600, platform: this.platform });
  }

  /** The live marker of the session, if the process it names is still running and writes to `socket`. */
  async liveMarker(id: string, socket: string | undefined): Promise<LiveMarker | undefined> {
    try {
      const marker = JSON.parse(await fs.readFile(this.liveFile(id), "utf8")) as LiveMarker;
      if (!Number.isInteger(marker.pid) || marker.socket !== socket) return undefined;
      process.kill(marker.pid, 0); // throws when the process is gone
      return marker;
    } catch {
      return undefined;
    }
  }

  /** Whether any running process delivers live into the session whose inbox is `socket` (for the plugin's monitor). */
  async liveThrough(socket: string): Promise<boolean> {
    const names = (await fs.readdir(this.dir).catch(() => [] as string[])).filter((n) => n.endsWith(".live.json"));
    for (const name of names) if (await this.liveMarker(name.slice(0, -".live.json".length), socket)) return true;
    return false;
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

/** A lock whose holder is gone, or older than any delivery takes (a pid reused since). */
async function abandoned(lock: string): Promise<boolean> {
  const [text, stat] = await Promise.all([fs.readFile(lock, "utf8").catch(() => ""), fs.stat(lock).catch(() => undefined)]);
  if (!stat) return false; // released meanwhile: try again
  if (Date.now() - stat.mtimeMs > SESSION_LOCK_STALE_MS) return true;
  const pid = Number(text);
  if (!Number.isInteger(pid) || pid <= 0) return false; // being written: its holder is alive
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ESRCH";
  }
}
