/**
 * GET /backup: a consistent copy of the store, as it is at one instant, while the bus goes on: a gzipped
 * tar of bus.jsonl and acks.jsonl (cut at their lengths at that instant), compacted.json when retention
 * ran, presence.json (each name's last_seen and last_used), machines.jsonl (machines' credentials, as
 * hashes), files.jsonl (what is known of the attached files; not their bytes, which can be large: a
 * restore keeps every message, and an attachment whose bytes are not in the restored data dir answers
 * 410) and claims.jsonl (the live claims and the last fencing token). `claude-bus backup` saves it; `claude-bus restore` puts it in a data dir.
 */
import type { Response } from "express";
import * as fs from "node:fs";
import * as path from "node:path";
import { finished } from "node:stream/promises";
import * as zlib from "node:zlib";
import { CLAIMS_FILE, type ClaimStore } from "../claims/claimStore";
import type { Routes } from "../http/routes";
import { COMPACTED_FILE } from "../store/compaction";
import { FILES_FILE } from "../files/fileCatalog";
import type { FileStore } from "../files/fileStore";
import { authorize } from "../members/access";
import { identityOf } from "../members/authenticate";
import { MACHINES_FILE, type Membership } from "../members/membership";
import { PRESENCE_FILE, type Presence } from "../members/presence";
import type { BusStore } from "../store/store";
import { tarEnd, tarHeader, tarPadding } from "./tar";

const CHUNK = 1024 * 1024;

/** The small files' content at the instant of the snapshot, rendered by their owners. */
export interface BackupExtras {
  presence: string;
  machines: string;
  files: string;
  claims: string;
}

export async function writeBackup(res: Response, store: BusStore, dataDir: string, extras: BackupExtras): Promise<void> {
  const files = await store.snapshot();
  try {
    const compacted = path.join(dataDir, COMPACTED_FILE);
    const small = [
      ...(fs.existsSync(compacted) ? [{ name: COMPACTED_FILE, data: fs.readFileSync(compacted) }] : []),
      { name: PRESENCE_FILE, data: Buffer.from(extras.presence) },
      { name: MACHINES_FILE, data: Buffer.from(extras.machines) },
      { name: FILES_FILE, data: Buffer.from(extras.files) },
      { name: CLAIMS_FILE, data: Buffer.from(extras.claims) },
    ];
    const stamp = new Date().toISOString().replace(/[:.]/g, "-");
    res.status(200).type("application/gzip").setHeader("Content-Disposition", `attachment; filename="claude-bus-backup-${stamp}.tar.gz"`);
    const gzip = zlib.createGzip();
    gzip.pipe(res);
    const write = async (chunk: Buffer) => {
      if (!gzip.write(chunk)) await new Promise<void>((resolve) => gzip.once("drain", resolve));
    };
    for (const file of files) {
      await write(tarHeader(file.name, file.size));
      const buffer = Buffer.allocUnsafe(Math.min(CHUNK, Math.max(file.size, 1)));
      for (let at = 0; at < file.size && !res.destroyed; ) {
        const read = fs.readSync(file.fd!, buffer, 0, Math.min(buffer.length, file.size - at), at);
        if (read === 0) throw new Error(`${file.name} ended at ${at} of ${file.size} bytes`);
        await write(Buffer.from(buffer.subarray(0, read)));
        at += read;
      }
      await write(tarPadding(file.size));
    }
    for (const file of small) {
      await write(tarHeader(file.name, file.data.length));
      await write(file.data);
      await write(tarPadding(file.data.length));
    }
    gzip.end(tarEnd());
    await finished(res);
  } finally {
    for (const file of files) if (file.fd !== null) fs.closeSync(file.fd);
  }
}

/** The sources of a backup, held by the running bus. */
export interface BackupSources {
  store: BusStore;
  dataDir: string;
  presence: Presence;
  membership: Membership;
  files: FileStore;
  claims: ClaimStore;
}

/** GET /backup, for the team credential (authorize's "backup"). */
export function addBackupRoute(routes: Routes, { store, dataDir, presence, membership, files, claims }: BackupSources): void {
  routes.get("/backup", async (_req, res) => {
    authorize(identityOf(res), "backup");
    await writeBackup(res, store, dataDir, {
      presence: presence.serialize(),
      machines: membership.snapshot(),
      files: files.snapshot(),
      claims: claims.snapshot(),
    });
  });
}
