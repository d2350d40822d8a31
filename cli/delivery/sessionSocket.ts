/**
 * A Claude Code session's own inbox: the unix socket Claude Code names in CLAUDE_CODE_MESSAGING_SOCKET for
 * the processes it starts (2.1.332 and 2.1.337 checked; not with --bare). It takes newline-delimited JSON,
 * an optional auth line with CLAUDE_CODE_MESSAGING_TOKEN, then one user message per line, and answers
 * nothing: a write that was flushed and closed cleanly is all the delivery we can know of. A message
 * written while a tool runs reaches the next model request; one written to an idle session wakes it. The
 * protocol is not a documented interface, so any failure here means "fall back", never "fail".
 */
import * as net from "node:net";

export interface SessionSocket {
  path: string;
  /** Sent first as the auth line when set (Claude Code requires it on Windows). */
  token?: string;
}

/** How long one write may take, connect to close, before it counts as refused. */
export const SOCKET_WRITE_TIMEOUT_MS = 5_000;

/** The session's socket from the environment Claude Code gave this process, if it gave one. */
export function sessionSocketFromEnv(env: NodeJS.ProcessEnv): SessionSocket | undefined {
  const socketPath = env.CLAUDE_CODE_MESSAGING_SOCKET;
  if (!socketPath) return undefined;
  return { path: socketPath, token: env.CLAUDE_CODE_MESSAGING_TOKEN || undefined };
}

/** The lines one delivery writes: the auth line (when there is a token), then `text` as a user message. */
export function inboxLines(socket: SessionSocket, text: string): string {
  const lines = socket.token ? [JSON.stringify({ type: "auth", token: socket.token })] : [];
  lines.push(JSON.stringify({ type: "user", message: { role: "user", content: text } }));
  return `${lines.join("\n")}\n`;
}

/** Writes `text` into the session; resolves once the socket took every byte and closed, rejects on anything else. */
export function writeToSession(socket: SessionSocket, text: string, timeoutMs = SOCKET_WRITE_TIMEOUT_MS): Promise<void> {
  return new Promise((resolve, reject) => {
    const conn = net.createConnection(socket.path);
    let failed: Error | undefined;
    const timer = setTimeout(() => conn.destroy(new Error(`the session's inbox took no write within ${timeoutMs} ms`)), timeoutMs);
    conn.on("error", (err) => (failed = err));
    conn.on("connect", () => conn.end(inboxLines(socket, text)));
    conn.on("close", () => {
      clearTimeout(timer);
      // `finish` without an error: every byte went to the peer before the connection closed
      if (!failed && conn.writableFinished) resolve();
      else reject(failed ?? new Error("the session's inbox closed before the write was whole"));
    });
  });
}
