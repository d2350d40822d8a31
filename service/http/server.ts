/** The bus as a running HTTP server: lock the data dir, open the store, listen; close it all again. */
import { promises as fsp } from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { DEFAULT_HOST, DEFAULT_MAX_LONG_POLLS, DEFAULT_PORT } from "../../contract/defaults";
import { createApp } from "./app";
import { CONNECTION_TIMEOUTS, type ConnectionTimeouts, guardConnections, serverOptions } from "./connections";
import type { TeamCredentialRole } from "../members/access";
import type { AuthDeps } from "../members/authenticate";
import { AuthFailures, type FailureLimits } from "../members/authFailures";
import { CredentialChecker, type CredentialSource, loadCredential } from "../members/credentials";
import { lockDataDir } from "../dataDir/dataDirLock";
import { startFileExpiry } from "../files/fileExpiry";
import { DEFAULT_FILE_LIMITS, type FileLimits, FileStore } from "../files/fileStore";
import { type LineSink, stdoutSink, structuredLogger } from "../log";
import { LongPollSlots } from "./longPollSlots";
import { Membership } from "../members/membership";
import { Presence } from "../members/presence";
import { type RetentionOptions, startRetention } from "../store/retention";
import { Waiters } from "../store/waiters";
import { BusStore } from "../store/store";
import { Sessions } from "../members/sessions";
import { Notifier, NOTIFY_LIMITS, type NotifyLimits } from "../notify/notifier";
import { NotifySettings } from "../notify/notifySettings";
import type { WebAssets } from "../../contract/webApp";
import { loadWebAssets } from "../web/webAssets";
import { ClaimStore } from "../claims/claimStore";
import { ReceiptWaiters } from "./receipts";

export interface BusOptions {
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  dataDir: string;
  credentials: CredentialSource;
  /** Receives one JSON log line at a time; stdout when absent. */
  log?: LineSink;
  /** How long a connection may idle before its first byte, and a request take to arrive (defaults suit the host). */
  timeouts?: Partial<ConnectionTimeouts>;
  /** Remove messages older than this, by compaction (absent: keep everything). */
  retention?: RetentionOptions;
  /** What the team credential may do (default "member": everything, as the seed's single user). */
  teamCredential?: TeamCredentialRole;
  /** nginx on this host is in front (the host's unit says so): its X-Real-IP names the client. Default false: the socket's address counts. */
  behindProxy?: boolean;
  /** When failed logins from one address lead to 429 (defaults suit the host; tests shorten them). */
  authFailureLimits?: FailureLimits;
  /** The limits of attached files: largest file, quota, age, how many, and each uploader's own (defaults: contract/defaults.ts). */
  files?: Partial<FileLimits>;
  /** Long-polls one credential may hold at once (default DEFAULT_MAX_LONG_POLLS). */
  maxLongPolls?: number;
  /** The web inbox's files (default: those of the bundle, or of this tree's dist/). */
  web?: WebAssets;
  /** The ntfy forward's queue, timeout and retries (defaults: contract/defaults.ts; tests shorten the waits). */
  notify?: Partial<NotifyLimits>;
}

export interface RunningBus {
  url: string;
  port: number;
  /** Stop accepting, let in-flight requests and writes finish, fsync, close the files. */
  close(): Promise<void>;
  /** Re-read a file credential source (rotation without restart); a bad file keeps the old one. */
  reloadCredentials(): void;
  /** Requests held by long-poll right now. */
  waiting(): number;
}

const SHUTDOWN_GRACE_MS = 10_000;

export async function startBus(opts: BusOptions): Promise<RunningBus> {
  const log = structuredLogger(opts.log ?? stdoutSink);
  const initial = loadCredential(opts.credentials);
  const team = new CredentialChecker(initial);
  let teamPass = initial.pass;
  await fsp.mkdir(opts.dataDir, { recursive: true });
  // Before anything reads or repairs the files: a second bus on this dir must touch nothing.
  const lock = await lockDataDir(opts.dataDir);
  let store: BusStore | undefined;
  let closing = false;
  const timeouts = { ...CONNECTION_TIMEOUTS, ...opts.timeouts };
  const server = http.createServer(serverOptions(timeouts));
  guardConnections(server, timeouts);
  const host = opts.host ?? DEFAULT_HOST;
  const presence = Presence.load(opts.dataDir, log);
  let waiters: Waiters | undefined;
  /** Set once the store has replayed: replayed messages are not notified again. */
  let notifier: Notifier | undefined;
  let membership: Membership | undefined;
  let sessions: Sessions | undefined;
  let files: FileStore | undefined;
  let claims: ClaimStore | undefined;
  const receipts = new ReceiptWaiters();
  try {
    membership = await Membership.open(opts.dataDir, log);
    sessions = await Sessions.open(opts.dataDir, log);
    const notifySettings = NotifySettings.load(opts.dataDir, log);
    files = await FileStore.open(opts.dataDir, { ...DEFAULT_FILE_LIMITS, ...opts.files }, timeouts.uploadIdleMs, log);
    const attached = files;
    store = await BusStore.open(opts.dataDir, log, {
      posted: (m) => {
        presence.posted(m.from, m.to, m.time);
        attached.attached(m.attachments, m.time);
        waiters?.posted(m);
        notifier?.posted(m);
      },
      acked: (reader, time, ids) => {
        presence.acked(reader, time);
        receipts.acked(reader, ids);
      },
    });
    claims = await ClaimStore.open(opts.dataDir, log);
    const opened = store;
    waiters = new Waiters((n, q) => opened.matches(n, q));
    notifier = new Notifier(notifySettings, (n) => (opened.has(n) ? JSON.parse(opened.messageJson(n)) : null), log, { ...NOTIFY_LIMITS, ...opts.notify });
    const auth: AuthDeps = {
      team,
      teamRole: opts.teamCredential ?? "member",
      membership,
      sessions,
      failures: new AuthFailures(opts.authFailureLimits),
      behindProxy: opts.behindProxy ?? false,
      log,
      used: (name, time) => presence.used(name, time),
    };
    const longPolls = new LongPollSlots(opts.maxLongPolls ?? DEFAULT_MAX_LONG_POLLS);
    server.on(
      "request",
      createApp({
        store,
        dataDir: opts.dataDir,
        auth,
        presence,
        waiters,
        files,
        longPolls,
        claims,
        receipts,
        closing: () => closing,
        web: opts.web ?? loadWebAssets(),
        notify: notifySettings,
      }),
    );
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(opts.port ?? DEFAULT_PORT, host, () => {
        server.off("error", reject);
        resolve();
      });
    });
  } catch (error) {
    await claims?.close();
    await store?.close();
    await files?.close();
    await membership?.close();
    await sessions?.close();
    await lock.release();
    throw error;
  }
  const opened = store;
  const members = membership;
  const browserSessions = sessions;
  const fileStore = files;
  const claimStore = claims;
  const retention = opts.retention && startRetention(opened, opts.retention, log);
  const fileExpiry = startFileExpiry(fileStore, log);
  presence.startSaving(log);
  const port = (server.address() as AddressInfo).port;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  log({ msg: "listening", url, dataDir: opts.dataDir, messages: opened.count, fileQuotaBytes: fileStore.quotaBytes });

  let closed: Promise<void> | null = null;
  return {
    url,
    port,
    close() {
      closed ??= (async () => {
        closing = true;
        retention?.stop();
        fileExpiry.stop();
        notifier?.close();
        waiters?.wakeAll();
        receipts.wakeAll();
        const claimsClosed = claimStore.close();
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const force = setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS);
        await stopped;
        clearTimeout(force);
        await opened.close();
        await claimsClosed;
        await fileStore.close();
        await members.close();
        await browserSessions.close();
        await presence.close();
        await lock.release();
        log({ msg: "stopped", messages: opened.count });
      })();
      return closed;
    },
    waiting: () => waiters?.size ?? 0,
    reloadCredentials() {
      try {
        const credential = loadCredential(opts.credentials);
        team.set(credential);
        log({ msg: "credentials reloaded" });
        // A new team password ends the browser sessions signed in with the old one.
        if (credential.pass !== teamPass) {
          teamPass = credential.pass;
          browserSessions.endWhere((s) => s.team).catch((error: Error) => log({ level: "error", msg: "team sessions not ended", error: error.message }));
        }
      } catch (error) {
        log({ level: "error", msg: "credentials reload failed; keeping the old ones", error: (error as Error).message });
      }
    },
  };
}
