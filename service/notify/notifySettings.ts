/**
 * Each name's ntfy setting (PUT /settings/notify), in notify.json in the data dir: mode 0600, written
 * whole and durably (durableFile.ts). Its access tokens are secrets at rest: they never appear in a log
 * or an answer, and backups leave the file out (after a restore each person sets it again).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { z } from "zod";
import { NOTIFY_MODES, type NotifyMode, type NotifySettingsView } from "../../contract/notify";
import { MachineName } from "../../contract/names";
import { StorageError } from "../store/appendLog";
import { writeFileDurably } from "../../contract/durableFile";
import { parseJson } from "../store/jsonl";
import type { Log } from "../log";
import { READABLE_BY_THE_BUS, readAtStart } from "../store/startupFile";

export const NOTIFY_FILE = "notify.json";

export interface NotifySetting {
  url: string;
  token?: string;
  mode: NotifyMode;
}

const FileSchema = z.record(MachineName, z.strictObject({ url: z.string(), token: z.string().optional(), mode: z.enum(NOTIFY_MODES) }));

export const viewOf = (s: NotifySetting): NotifySettingsView => ({ url: s.url, mode: s.mode, token_set: s.token !== undefined });

export class NotifySettings {
  private writes: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly file: string,
    private readonly byName: Map<string, NotifySetting>,
  ) {}

  /** A damaged file costs the settings (each person sets theirs again), with a warning, never the start. */
  static load(dataDir: string, log: Log): NotifySettings {
    const file = path.join(dataDir, NOTIFY_FILE);
    const byName = new Map<string, NotifySetting>();
    if (fs.existsSync(file)) {
      const text = readAtStart(file, `it holds the ntfy settings: ${READABLE_BY_THE_BUS}, or remove it (each person sets theirs again)`, () =>
        fs.readFileSync(file, "utf8"),
      );
      const parsed = FileSchema.safeParse(parseJson(text));
      if (parsed.success) for (const [name, s] of Object.entries(parsed.data)) byName.set(name, s);
      else log({ level: "warn", msg: `${NOTIFY_FILE} is damaged: notifications are off until each person sets them again` });
    }
    return new NotifySettings(file, byName);
  }

  get(name: string): NotifySetting | undefined {
    return this.byName.get(name);
  }

  /** Every name with a setting. */
  entries(): IterableIterator<[string, NotifySetting]> {
    return this.byName.entries();
  }

  /** Sets (or with null, removes) `name`'s setting; resolves once on disk. */
  change(name: string, setting: NotifySetting | null): Promise<void> {
    const write = this.writes.then(async () => {
      const next = new Map(this.byName);
      if (setting) next.set(name, setting);
      else next.delete(name);
      await writeFileDurably(this.file, `${JSON.stringify(Object.fromEntries(next))}\n`).catch((error: unknown) => {
        throw new StorageError(this.file, error);
      });
      this.byName.clear();
      for (const [k, v] of next) this.byName.set(k, v);
    });
    this.writes = write.catch(() => undefined);
    return write;
  }
}
