/**
 * What the bus knows of its files, kept as events in files.jsonl in the data dir: each upload (new bytes
 * or a repeat of stored ones) as `stored`, with its size, name, time and uploader, and each deletion as
 * `deleted`. An upload's event is fsynced before its answer; a deletion's is written after the file is
 * gone (a full disk must not stop a deletion that frees it). A deleted file is remembered for one age
 * limit (GET answers 410 meanwhile, then 404): at most as many as were stored at once. Which messages
 * attach a file is learned from the message store (its replay, then each post), not kept here.
 */
import * as path from "node:path";
import { z } from "zod";
import { Sha256 } from "../../contract/files";
import { UPLOADER_PATTERN } from "../../contract/names";
import { EventLogged, openEventLog } from "../store/eventLog";
import { jsonLine, parseJson } from "../store/jsonl";
import { READABLE_BY_THE_BUS } from "../store/startupFile";
import type { Log } from "../log";

export const FILES_FILE = "files.jsonl";

const Uploader = z.string().regex(UPLOADER_PATTERN);
const Time = z.number().int().nonnegative();

const EventSchema = z.discriminatedUnion("event", [
  z.strictObject({ event: z.literal("stored"), sha256: Sha256, size: z.number().int().nonnegative(), name: z.string(), by: Uploader, time: Time }),
  z.strictObject({ event: z.literal("deleted"), sha256: Sha256, time: Time }),
]);
export type FileEvent = z.infer<typeof EventSchema>;

/** A stored file: its size, the name of its last upload, when that was, and each uploader's last upload. */
export interface FileRecord {
  sha256: string;
  size: number;
  name: string;
  uploaded: number;
  by: Map<string, number>;
}

/** files.jsonl: which attached files the bus holds, replayed at start. */
export class FileCatalog extends EventLogged<FileEvent> {
  private readonly records = new Map<string, FileRecord>();
  /** Deleted files by sha256: when. */
  private readonly deleted = new Map<string, number>();
  /** Per sha256, the newest message that attaches it (ms); kept an age limit past its file (forgetBefore). */
  private readonly attachedAt = new Map<string, number>();
  private storedBytes = 0;
  /** Per uploader, the stored files it uploaded and their bytes (a file counts for each of its uploaders). */
  private readonly byUploader = new Map<string, { files: number; bytes: number }>();

  private constructor() {
    super();
  }

  /**
   * Replays files.jsonl. A line torn by a crash (never answered) is cut off; a damaged whole line is
   * logged and skipped (the file it named is then an orphan, removed at start like any unrecorded one).
   * The log is rewritten as the state it adds up to once that is much shorter.
   */
  static async open(dataDir: string, log: Log): Promise<FileCatalog> {
    const catalog = new FileCatalog();
    const remedy = `it says which attached files the bus holds: ${READABLE_BY_THE_BUS}, or restore it from a backup (claude-bus restore)`;
    catalog.log = await openEventLog(
      path.join(dataDir, FILES_FILE),
      remedy,
      {
        replay: (text, lineNo) => {
          const event = parseEvent(text);
          if (event) catalog.apply(event);
          else log({ level: "error", msg: "damaged line skipped", file: FILES_FILE, line: lineNo });
        },
        stateEvents: () => catalog.stateEvents(),
      },
      log,
    );
    return catalog;
  }

  get(sha256: string): FileRecord | undefined {
    return this.records.get(sha256);
  }

  all(): IterableIterator<FileRecord> {
    return this.records.values();
  }

  get count(): number {
    return this.records.size;
  }

  /** Bytes of every stored file. */
  get bytes(): number {
    return this.storedBytes;
  }

  /** The stored files `uploader` uploaded, and their bytes. */
  heldBy(uploader: string): { files: number; bytes: number } {
    return this.byUploader.get(uploader) ?? { files: 0, bytes: 0 };
  }

  /** Whether a file the bus no longer holds was known: deleted within the age limit, or attached to a message. */
  isGone(sha256: string): boolean {
    return !this.records.has(sha256) && (this.deleted.has(sha256) || this.attachedAt.has(sha256));
  }

  /** A message posted at `time` attaches these files. */
  attached(hashes: readonly string[], time: number): void {
    for (const sha256 of hashes) if ((this.attachedAt.get(sha256) ?? -Infinity) < time) this.attachedAt.set(sha256, time);
  }

  /** When the newest message that attaches this file was posted, if any does. */
  lastAttached(sha256: string): number | undefined {
    return this.attachedAt.get(sha256);
  }

  /** Records an upload (new bytes, or a repeat of stored ones) once its event is on disk. */
  async stored(event: Omit<Extract<FileEvent, { event: "stored" }>, "event">): Promise<FileRecord> {
    const line: FileEvent = { event: "stored", ...event };
    return this.log.append(
      () => jsonLine(line),
      () => this.apply(line)!,
    );
  }

  /** Forgets a file whose bytes were removed; the event is written after, and a failure to write it only logged (the next start finds the file missing and forgets it again). */
  async removed(sha256: string, time: number, log: Log): Promise<void> {
    const line: FileEvent = { event: "deleted", sha256, time };
    this.apply(line);
    await this.log
      .append(
        () => jsonLine(line),
        () => undefined,
      )
      .catch((error: Error) => log({ level: "warn", msg: "file deletion not recorded", sha256, error: error.message }));
  }

  /**
   * Forgets deletions, and the attachments of files no longer stored, older than `cutoff` (ms): GET then
   * answers 404 instead of 410, and neither map outgrows what one age limit brings.
   */
  forgetBefore(cutoff: number): void {
    for (const [sha256, time] of this.deleted) if (time < cutoff) this.deleted.delete(sha256);
    for (const [sha256, time] of this.attachedAt) if (time < cutoff && !this.records.has(sha256)) this.attachedAt.delete(sha256);
  }

  protected stateEvents(): FileEvent[] {
    const events: FileEvent[] = [];
    for (const r of this.records.values()) {
      const uploads = [...r.by].sort(([, a], [, b]) => a - b);
      for (const [by, time] of uploads) events.push({ event: "stored", sha256: r.sha256, size: r.size, name: r.name, by, time });
    }
    for (const [sha256, time] of this.deleted) events.push({ event: "deleted", sha256, time });
    return events;
  }

  /** One event's effect on the state: the same in replay and when it is first written. */
  private apply(event: FileEvent): FileRecord | undefined {
    if (event.event === "deleted") {
      const gone = this.records.get(event.sha256);
      this.storedBytes -= gone?.size ?? 0;
      for (const uploader of gone?.by.keys() ?? []) this.countFor(uploader, -1, gone!.size);
      this.records.delete(event.sha256);
      this.deleted.set(event.sha256, event.time);
      return undefined;
    }
    this.deleted.delete(event.sha256);
    let record = this.records.get(event.sha256);
    if (!record) {
      record = { sha256: event.sha256, size: event.size, name: event.name, uploaded: event.time, by: new Map() };
      this.records.set(event.sha256, record);
      this.storedBytes += event.size;
    }
    if (!record.by.has(event.by)) this.countFor(event.by, 1, record.size);
    record.name = event.name;
    record.uploaded = Math.max(record.uploaded, event.time);
    record.by.set(event.by, Math.max(record.by.get(event.by) ?? 0, event.time));
    return record;
  }

  private countFor(uploader: string, files: 1 | -1, size: number): void {
    const held = this.heldBy(uploader);
    const next = { files: held.files + files, bytes: held.bytes + files * size };
    if (next.files === 0) this.byUploader.delete(uploader);
    else this.byUploader.set(uploader, next);
  }
}

function parseEvent(text: string): FileEvent | null {
  const parsed = EventSchema.safeParse(parseJson(text));
  return parsed.success ? parsed.data : null;
}
