import * as http from "http";
import { AddressInfo } from "net";
import { Duplex } from "stream";
import { createApp } from "./app";
import { CredentialChecker, CredentialSource, loadCredential } from "./credentials";
import { LineSink, LogFields, stdoutSink, structuredLogger } from "./log";
import { BusStore } from "./store";

export type { CredentialSource };

export interface BusOptions {
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  dataDir: string;
  credentials: CredentialSource;
  /** Receives one JSON log line at a time; stdout when absent. */
  log?: LineSink;
}

export interface RunningBus {
  url: string;
  port: number;
  /** Stop accepting, let in-flight requests and writes finish, fsync, close the files. */
  close(): Promise<void>;
  /** Re-read a file credential source (rotation without restart); a bad file keeps the old one. */
  reloadCredentials(): void;
}

const SHUTDOWN_GRACE_MS = 10_000;

export async function startBus(opts: BusOptions): Promise<RunningBus> {
  const log = structuredLogger(opts.log ?? stdoutSink);
  const auth = new CredentialChecker(loadCredential(opts.credentials));
  const store = await BusStore.open(opts.dataDir, (level, msg, fields) => log({ level, msg, ...fields }));
  let closing = false;
  const app = createApp({ store, auth, log: (f) => log(f as LogFields), closing: () => closing });
  const server = http.createServer(app);
  server.on("clientError", answerMalformedRequest);

  const host = opts.host ?? "127.0.0.1";
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(opts.port ?? 8787, host, () => {
        server.off("error", reject);
        resolve();
      });
    });
  } catch (error) {
    await store.close();
    throw error;
  }
  const port = (server.address() as AddressInfo).port;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  log({ msg: "listening", url, dataDir: opts.dataDir, messages: store.count });

  let closed: Promise<void> | null = null;
  return {
    url,
    port,
    close() {
      closed ??= (async () => {
        closing = true;
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const force = setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS);
        await stopped;
        clearTimeout(force);
        await store.close();
        log({ msg: "stopped", messages: store.count });
      })();
      return closed;
    },
    reloadCredentials() {
      try {
        auth.set(loadCredential(opts.credentials));
        log({ msg: "credentials reloaded" });
      } catch (error) {
        log({ level: "error", msg: "credentials reload failed; keeping the old ones", error: (error as Error).message });
      }
    },
  };
}

/** Requests node's HTTP parser rejects never reach Express: answer them in the same JSON shape. */
function answerMalformedRequest(error: NodeJS.ErrnoException, socket: Duplex): void {
  if (error.code === "ECONNRESET" || !socket.writable) {
    socket.destroy();
    return;
  }
  const body = JSON.stringify({ error: `malformed HTTP request (${error.code ?? "parse error"})` });
  socket.end(
    "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json; charset=utf-8\r\nX-Robots-Tag: noindex\r\n" +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
