/**
 * One bus per data dir. Two servers appending to one bus.jsonl would hand out the same ids and
 * interleave their lines, so the store is opened only under an exclusive lock that dies with its
 * process (even under kill -9), unlike a pid file: a listening unix socket. On Linux it lives in the
 * abstract namespace, keyed by the dir's device and inode, so the kernel frees it and nothing is
 * written into the dir (a read-only data dir still starts). Elsewhere it is a socket file in the dir,
 * and a dead holder's file is recognised (nothing answers it) and replaced. Whoever connects to the
 * lock is told the holder's pid, for the error message.
 */
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";

export class DataDirLockedError extends Error {
  constructor(
    readonly dataDir: string,
    readonly holderPid: string,
  ) {
    super(`data dir ${dataDir} is in use by another claude-bus (pid ${holderPid}): stop it, or give this one another --data`);
    this.name = "DataDirLockedError";
  }
}

export interface DataDirLock {
  release(): Promise<void>;
}

/** The socket file's name on platforms without an abstract namespace. */
export const LOCK_FILE = ".claude-bus.lock";

/** Takes the lock of an existing dir; throws DataDirLockedError naming the holder's pid. */
export async function lockDataDir(dataDir: string, platform: NodeJS.Platform = process.platform): Promise<DataDirLock> {
  const { dev, ino } = await fs.promises.stat(dataDir);
  const address = platform === "linux" ? `\0claude-bus-lock/${dev}/${ino}` : path.join(dataDir, LOCK_FILE);
  const server = net.createServer((socket) => socket.end(`${process.pid}\n`));
  for (let attempt = 0; ; attempt++) {
    const error = await listen(server, address);
    if (!error) break;
    if (error.code !== "EADDRINUSE") throw error;
    const holder = await askHolder(address);
    if (holder !== undefined) throw new DataDirLockedError(dataDir, holder);
    // A socket file nobody answers: its holder died. Move it aside by a name of our own and check again
    // there, so a live lock that another starter just put in its place is never removed.
    if (platform === "linux" || attempt > 3) throw new DataDirLockedError(dataDir, "unknown");
    await clearDeadSocketFile(address);
  }
  server.unref(); // the lock never keeps the process alive by itself
  return {
    release: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
      }),
  };
}

function listen(server: net.Server, address: string): Promise<NodeJS.ErrnoException | undefined> {
  return new Promise((resolve) => {
    const onError = (error: NodeJS.ErrnoException) => resolve(error);
    server.once("error", onError);
    server.listen(address, () => {
      server.off("error", onError);
      resolve(undefined);
    });
  });
}

/** The holder's pid, or undefined when nothing answers at the address. */
function askHolder(address: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    let answer = "";
    const socket = net.connect(address);
    socket.setTimeout(2_000, () => socket.destroy());
    socket.on("data", (chunk) => (answer += chunk.toString()));
    socket.on("end", () => resolve(answer.trim() || "unknown"));
    socket.on("error", () => resolve(undefined));
    socket.on("close", (hadError) => {
      if (!hadError) resolve(answer.trim() || "unknown");
    });
  });
}

async function clearDeadSocketFile(file: string): Promise<void> {
  const aside = `${file}.dead-${process.pid}-${Date.now()}`;
  try {
    await fs.promises.rename(file, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return; // another starter cleared it first
    throw error;
  }
  if ((await askHolder(aside)) !== undefined) {
    await fs.promises.rename(aside, file); // it was live after all: put it back
    return;
  }
  await fs.promises.rm(aside, { force: true });
}
