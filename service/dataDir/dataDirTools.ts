/**
 * What `claude-bus restore` and `claude-bus import` do to a data dir, with no bus running on it (they
 * take its lock): put a backup in place, or bring a team page's Flask-era bus.jsonl in with new ids.
 */
import * as fs from "node:fs";
import { promises as fsp } from "node:fs";
import * as path from "node:path";
import * as zlib from "node:zlib";
import { describeIssue } from "../../contract/issues";
import { SeedMessageSchema } from "../../contract/message";
import { COMPACTED_FILE } from "../store/compaction";
import { lockDataDir } from "./dataDirLock";
import { CLAIMS_FILE } from "../claims/claimStore";
import { FILES_FILE } from "../files/fileCatalog";
import { checkMachinesFile, MACHINES_FILE } from "../members/membership";
import { PRESENCE_FILE } from "../members/presence";
import { ACKS_FILE, BusStore, MESSAGES_FILE } from "../store/store";
import { readTar } from "./tar";

/** The files a backup holds; nothing else is ever written from one. */
const BACKUP_FILES = new Set([MESSAGES_FILE, ACKS_FILE, COMPACTED_FILE, PRESENCE_FILE, MACHINES_FILE, FILES_FILE, CLAIMS_FILE]);

const quiet = () => undefined;

/** Runs `work` on a data dir no bus holds (created if missing). */
async function withLockedDir<T>(dataDir: string, work: () => Promise<T>): Promise<T> {
  await fsp.mkdir(dataDir, { recursive: true, mode: 0o750 });
  const lock = await lockDataDir(dataDir);
  try {
    return await work();
  } finally {
    await lock.release();
  }
}

/**
 * Puts a backup (the .tar.gz GET /backup gave) into `dataDir`, which must hold no store unless `force`.
 * Every entry is checked before any file is written; each file is written whole (temp file, fsync,
 * rename); then the store is opened once to prove it starts. Resolves with the messages it holds.
 */
export async function restoreBackup(archive: Buffer, dataDir: string, opts: { force: boolean }): Promise<number> {
  let entries: ReturnType<typeof readTar>;
  try {
    entries = readTar(zlib.gunzipSync(archive));
  } catch (error) {
    throw new Error(`not a claude-bus backup: ${(error as Error).message}`);
  }
  const unknown = entries.filter((e) => !BACKUP_FILES.has(e.name));
  if (unknown.length > 0) throw new Error(`not a claude-bus backup: it holds ${unknown.map((e) => e.name).join(", ")}`);
  if (!entries.some((e) => e.name === MESSAGES_FILE)) throw new Error(`not a claude-bus backup: it holds no ${MESSAGES_FILE}`);
  const machines = entries.find((e) => e.name === MACHINES_FILE);
  if (machines) checkMachinesFile(machines.data.toString("utf8"));
  return withLockedDir(dataDir, async () => {
    const existing = [MESSAGES_FILE, ACKS_FILE].filter((name) => fs.existsSync(path.join(dataDir, name)) && fs.statSync(path.join(dataDir, name)).size > 0);
    if (existing.length > 0 && !opts.force)
      throw new Error(`${dataDir} already holds a store (${existing.join(", ")}): restore into an empty data dir, or add --force to replace it`);
    for (const name of BACKUP_FILES) {
      const entry = entries.find((e) => e.name === name);
      const file = path.join(dataDir, name);
      if (!entry) {
        await fsp.rm(file, { force: true });
        continue;
      }
      await fsp.writeFile(`${file}.restoring`, entry.data, { mode: 0o600 });
      const handle = await fsp.open(`${file}.restoring`, "r+");
      await handle.sync().finally(() => handle.close());
      await fsp.rename(`${file}.restoring`, file);
    }
    const store = await BusStore.open(dataDir, quiet);
    const count = store.count;
    await store.close();
    return count;
  });
}

/**
 * Brings a Flask-era bus.jsonl into `dataDir` (a bus that is not running): every line is checked first
 * (nothing is written when one is bad); then the messages get new ids after the ones there, in the
 * file's order, keep their time, sender, recipient and tags, and their readers' read state. Resolves
 * with the old id and new id of each.
 */
export async function importSeed(text: string, source: string, dataDir: string): Promise<Array<[oldId: string, newId: string]>> {
  const messages = text
    .split("\n")
    .map((line, i) => ({ line, lineNo: i + 1 }))
    .filter(({ line }) => line.trim() !== "")
    .map(({ line, lineNo }) => {
      let json: unknown;
      try {
        json = JSON.parse(line);
      } catch (error) {
        throw new Error(`${source}:${lineNo}: not JSON (${(error as Error).message}); nothing was imported`);
      }
      const parsed = SeedMessageSchema.safeParse(json);
      if (!parsed.success) throw new Error(`${source}:${lineNo}: ${describeIssue(parsed.error.issues[0], { root: "line" })}; nothing was imported`);
      return parsed.data;
    });
  return withLockedDir(dataDir, async () => {
    const store = await BusStore.open(dataDir, quiet);
    try {
      const ids = await store.importMessages(
        messages.map((m) => ({
          // A time without an offset is taken as UTC, as Python's utcnow().isoformat() writes it.
          message: { ts: new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(m.ts) ? m.ts : `${m.ts}Z`).toISOString(), from: m.from, to: m.to, body: m.body, tags: m.tags },
          readers: m.read_by ?? [],
        })),
      );
      return messages.map((m, i) => [m.id, String(ids[i])]);
    } finally {
      await store.close();
    }
  });
}
