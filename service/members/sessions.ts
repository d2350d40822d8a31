/**
 * Browser sessions (the web app's sign-in, docs/API.md "Browser sessions"): a random 256-bit token in a
 * cookie, of which only the SHA-256 hash is kept, in sessions.jsonl in the data dir (0600), so a session
 * survives a restart of the bus. A session acts as the name that signed in; it ends at sign-out, at its
 * expiry (SESSION_SECONDS after sign-in: no sliding renewal), when its name's credential is revoked or
 * rotated, and, for the team credential, when the team password changes. A name holds at most
 * MAX_SESSIONS_PER_NAME: signing in once more ends its oldest. Backups leave the file out (restoring
 * signs everyone out of the browser, nothing else).
 */
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { z } from "zod";
import { MAX_SESSIONS_PER_NAME, SESSION_SECONDS } from "../../contract/defaults";
import { MachineName } from "../../contract/names";
import { AppendLog } from "../store/appendLog";
import { writeFileDurably } from "../../contract/durableFile";
import { jsonLine, parseJson, readLines } from "../store/jsonl";
import { READABLE_BY_THE_BUS, readAtStart } from "../store/startupFile";
import { snapshotOf } from "../store/eventLog";
import type { Log } from "../log";

export const SESSIONS_FILE = "sessions.jsonl";

const Hash = z.string().regex(/^[0-9a-f]{64}$/);
const Time = z.number().int().nonnegative();
const EventSchema = z.discriminatedUnion("event", [
  /**
   * `issued`: when the member's credential was issued (a re-enrolled name's old sessions do not come
   * back); `team`: signed in with the team credential.
   */
  z.strictObject({ event: z.literal("opened"), id: Hash, name: MachineName, team: z.literal(true).optional(), issued: Time, expires: Time, time: Time }),
  z.strictObject({ event: z.literal("closed"), id: Hash, time: Time }),
]);
type SessionEvent = z.infer<typeof EventSchema>;

export interface Session {
  /** The token's SHA-256, hex: the only form the bus keeps. */
  id: string;
  name: string;
  team: boolean;
  issued: number;
  expires: number;
  time: number;
}

export const sessionId = (token: string): string => createHash("sha256").update(token).digest("hex");

export class Sessions {
  /** Live sessions by id, oldest first (Map order). */
  private readonly byId = new Map<string, Session>();
  private journal!: AppendLog;
  /** Lines in the file now: once most are history, it is rewritten as the live sessions. */
  private lines = 0;

  private constructor(
    private readonly file: string,
    private readonly log: Log,
  ) {}

  /**
   * The sessions of a data dir. A damaged line cannot say which session it ended, so it ends them all
   * (everyone signs in again) rather than stopping the bus or reviving a session that was signed out.
   */
  static async open(dataDir: string, log: Log, now = Date.now()): Promise<Sessions> {
    const sessions = new Sessions(path.join(dataDir, SESSIONS_FILE), log);
    const warn = (msg: string, fields: Record<string, unknown>) => log({ level: "warn", msg, ...fields });
    const file = sessions.file;
    let read = { completeLength: 0, tail: null as { lineNo: number; bytes: Buffer } | null };
    let lines = 0;
    let damaged = 0;
    if (fs.existsSync(file)) {
      read = readAtStart(file, `it holds the browser sessions (as hashes): ${READABLE_BY_THE_BUS}, or remove it (everyone signs in again)`, () =>
        readLines(file, (text) => {
          lines++;
          const parsed = EventSchema.safeParse(parseJson(text));
          if (parsed.success) sessions.apply(parsed.data);
          else damaged++;
        }),
      );
    }
    if (damaged > 0) {
      warn(`${SESSIONS_FILE}: damaged lines; every browser session ends (everyone signs in again)`, { damaged });
      sessions.byId.clear();
    }
    sessions.dropExpired(now);
    let length = read.completeLength;
    // Rewritten as the live sessions once most of it is history (or it needs repair).
    sessions.lines = lines;
    if (damaged > 0 || read.tail || sessions.mostlyHistory()) {
      try {
        length = await sessions.rewrite();
        read.tail = null;
      } catch (error) {
        if (damaged > 0) throw error; // the damage must not come back on the next start
        warn(`${SESSIONS_FILE} not compacted`, { error: (error as Error).message });
      }
    }
    sessions.journal = new AppendLog(file, length, read.tail ? async () => undefined : null);
    return sessions;
  }

  /** A new session for `name`; resolves with its token (for the cookie, never kept) once on disk. */
  async start(name: string, team: boolean, issued: number, now = Date.now()): Promise<{ token: string; session: Session }> {
    const token = randomBytes(32).toString("base64url");
    const session: Session = { id: sessionId(token), name, team, issued, expires: now + SESSION_SECONDS * 1000, time: now };
    const oldest = [...this.byId.values()].filter((s) => s.name === name);
    const ended = oldest.slice(0, Math.max(0, oldest.length - MAX_SESSIONS_PER_NAME + 1));
    await this.write([...ended.map((s) => closedEvent(s.id, now)), openedEvent(session)]);
    return { token, session };
  }

  /** The live session a cookie's token names, or null. */
  find(token: string, now = Date.now()): Session | null {
    const session = this.byId.get(sessionId(token));
    return session && session.expires > now ? session : null;
  }

  /** Ends one session (sign-out). */
  async end(id: string, now = Date.now()): Promise<void> {
    if (this.byId.has(id)) await this.write([closedEvent(id, now)]);
  }

  /** Ends every session that `which` selects, except `keep` (the one that asked); resolves with how many. */
  async endWhere(which: (s: Session) => boolean, keep?: string, now = Date.now()): Promise<number> {
    const ids = [...this.byId.values()].filter((s) => which(s) && s.id !== keep).map((s) => s.id);
    if (ids.length > 0) await this.write(ids.map((id) => closedEvent(id, now)));
    return ids.length;
  }

  /** Live sessions now. */
  get size(): number {
    return this.byId.size;
  }

  close(): Promise<void> {
    return this.journal.close();
  }

  private async write(events: SessionEvent[]): Promise<void> {
    await this.journal.append(
      () => Buffer.concat(events.map((e) => jsonLine(e))),
      () => {
        for (const e of events) this.apply(e);
        this.lines += events.length;
      },
    );
    if (!this.mostlyHistory()) return;
    // Between writes, so the live sessions written are exactly those the file adds up to.
    await this.journal
      .exclusive(async () => ({ result: undefined, newLength: await this.rewrite() }))
      .catch((error: Error) => this.log({ level: "warn", msg: `${SESSIONS_FILE} not compacted`, error: error.message }));
  }

  private mostlyHistory(): boolean {
    return this.lines > 2 * this.byId.size + 64;
  }

  /** Writes the file anew as the live sessions; resolves with its length. */
  private async rewrite(): Promise<number> {
    const text = snapshotOf([...this.byId.values()].map(openedEvent));
    await writeFileDurably(this.file, text);
    this.lines = this.byId.size;
    return Buffer.byteLength(text);
  }

  private apply(event: SessionEvent): void {
    if (event.event === "closed") this.byId.delete(event.id);
    else this.byId.set(event.id, { id: event.id, name: event.name, team: event.team === true, issued: event.issued, expires: event.expires, time: event.time });
  }

  private dropExpired(now: number): void {
    for (const [id, s] of this.byId) if (s.expires <= now) this.byId.delete(id);
  }
}

const openedEvent = (s: Session): SessionEvent => ({
  event: "opened",
  id: s.id,
  name: s.name,
  ...(s.team && { team: true as const }),
  issued: s.issued,
  expires: s.expires,
  time: s.time,
});
const closedEvent = (id: string, time: number): SessionEvent => ({ event: "closed", id, time });
