/**
 * An event log in the data dir (machines.jsonl, files.jsonl): replayed into its state at start, rewritten
 * as the state it adds up to once most of it is history, then opened for appending. A line torn by a
 * crash (never answered) is cut off before the first write.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { AppendLog } from "./appendLog";
import { writeFileDurably } from "../../contract/durableFile";
import { readLines } from "./jsonl";
import { readAtStart } from "./startupFile";
import type { Log } from "../log";

/** A log longer than twice its state's events, and this many lines, is rewritten at start. */
export const HISTORY_LINES_KEPT = 64;

/** What an event log is replayed into. */
export interface EventLogState {
  /** Applies one whole line (1-based `lineNo`); throws to stop the start. */
  replay(text: string, lineNo: number): void;
  /** Called once every line is replayed, before the state is measured (e.g. to drop what has expired). */
  replayed?(): void;
  /** The events the state adds up to, in order: what a compaction writes. */
  stateEvents(): readonly object[];
}

/**
 * A state kept in an event log: its snapshot (the events the current state needs: what a backup holds,
 * and compaction writes) and the log's closing, written once for machines.jsonl and files.jsonl.
 */
export abstract class EventLogged<Event extends object> {
  protected log!: AppendLog;
  protected abstract stateEvents(): Event[];

  snapshot(): string {
    return snapshotOf(this.stateEvents());
  }

  close(): Promise<void> {
    return this.log.close();
  }
}

/** Events as the text of a log. */
export function snapshotOf(events: readonly object[]): string {
  return events.map((event) => `${JSON.stringify(event)}\n`).join("");
}

/**
 * Replays `file` (if it exists) into `state`, compacts it when it is mostly history, and opens it for
 * appending. `remedy` says what to do when it cannot be read; a failed compaction is logged, never fatal.
 */
export async function openEventLog(file: string, remedy: string, state: EventLogState, log: Log): Promise<AppendLog> {
  const name = path.basename(file);
  let read = { completeLength: 0, tail: null as { lineNo: number; bytes: Buffer } | null };
  let lines = 0;
  if (fs.existsSync(file)) {
    read = readAtStart(file, remedy, () =>
      readLines(file, (text, _offset, _length, lineNo) => {
        lines++;
        state.replay(text, lineNo);
      }),
    );
  }
  const tail = read.tail;
  if (tail)
    log({ level: "warn", msg: `${name}: a torn last line (a write a crash cut short) is dropped`, file: name, line: tail.lineNo, bytes: tail.bytes.length });
  let length = read.completeLength;
  state.replayed?.();
  if (lines > 2 * state.stateEvents().length + HISTORY_LINES_KEPT) {
    try {
      const text = snapshotOf(state.stateEvents());
      await writeFileDurably(file, text);
      length = Buffer.byteLength(text);
    } catch (error) {
      log({ level: "warn", msg: `${name} not compacted`, error: (error as Error).message });
    }
  }
  return new AppendLog(file, length, tail ? async () => undefined : null);
}
