import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import { buildServiceBundle as buildProvisionBundle } from "../../provision/bundle";
import { RunningBus, startBus } from "../../service/server";

export const USER = "claude";
export const PASS = "test-pass-0123456789abcdefghij";

const created: string[] = [];
// Registered in every test file that imports this module; root-level, so it runs after the
// file's own afterAll hooks (which undo mounts on these dirs).
afterAll(() => {
  for (const dir of created.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

export function tempDir(prefix = "claude-bus-test-"): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  created.push(dir);
  return dir;
}

export interface TestBus extends RunningBus {
  dataDir: string;
  logs: string[];
}

/** The real bus on an ephemeral loopback port with a fresh (or given) data dir. */
export async function startTestBus(dataDir = tempDir()): Promise<TestBus> {
  const logs: string[] = [];
  const bus = await startBus({ port: 0, dataDir, credentials: { user: USER, pass: PASS }, log: (l) => logs.push(l) });
  return { ...bus, dataDir, logs };
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json: any;
}

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** [user, pass]; null sends no Authorization header. Default: the test credential. */
  auth?: [string, string] | null;
}

/** A plain HTTP request (node's http, so bodies and headers can be anything). */
export function request(baseUrl: string, pathAndQuery: string, opts: RequestOptions = {}): Promise<Reply> {
  const headers: Record<string, string> = { ...opts.headers };
  const auth = opts.auth === undefined ? [USER, PASS] : opts.auth;
  if (auth) headers.Authorization = "Basic " + Buffer.from(`${auth[0]}:${auth[1]}`).toString("base64");
  if (opts.body !== undefined) headers["Content-Length"] = String(Buffer.byteLength(opts.body));
  return new Promise((resolve, reject) => {
    const req = http.request(baseUrl + pathAndQuery, { method: opts.method ?? "GET", headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode!, headers: res.headers, text, json });
      });
      res.on("error", reject);
    });
    req.on("error", reject);
    if (opts.body !== undefined) req.write(opts.body);
    req.end();
  });
}

export function postJson(baseUrl: string, pathname: string, value: unknown, opts: RequestOptions = {}): Promise<Reply> {
  return request(baseUrl, pathname, {
    method: "POST",
    ...opts,
    headers: { "Content-Type": "application/json", ...opts.headers },
    body: JSON.stringify(value),
  });
}

/** Every stored message, paging with since. */
export async function allMessages(baseUrl: string): Promise<Array<Record<string, unknown>>> {
  const out: Array<Record<string, unknown>> = [];
  for (;;) {
    const since = out.length > 0 ? String(out[out.length - 1].id) : "0";
    const reply = await request(baseUrl, `/messages?since=${since}&limit=500`);
    if (reply.status !== 200) throw new Error(`GET /messages: ${reply.status} ${reply.text}`);
    if (reply.json.messages.length === 0) return out;
    out.push(...reply.json.messages);
  }
}

/** The shipped service bundle (provision/bundle.ts), built into a temp dir removed after the test file. */
export async function buildServiceBundle(): Promise<string> {
  return (await buildProvisionBundle(tempDir("claude-bus-bundle-"))).file;
}

export interface ServiceProcess {
  child: ChildProcess;
  url: string;
  stdout: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Run the bundled service as a child process and wait for its "listening" log line. `onOutput` sees
 * stdout so far on every chunk, so a test can act during start-up.
 */
export function spawnService(
  bundle: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  onOutput?: (out: string, child: ChildProcess) => void,
): Promise<ServiceProcess> {
  const child = spawn(process.execPath, [bundle, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal })),
  );
  return new Promise((resolve, reject) => {
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      onOutput?.(out, child);
      const line = out.split("\n").find((l) => l.includes('"msg":"listening"'));
      if (line) resolve({ child, url: JSON.parse(line).url, stdout: () => out, exited });
    });
    child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
    void exited.then(({ code, signal }) => reject(new Error(`service exited (${code ?? signal}) before listening:\n${out}\n${err}`)));
  });
}

export function fileLines(file: string): string[] {
  const text = fs.readFileSync(file, "utf8");
  return text === "" ? [] : text.replace(/\n$/, "").split("\n");
}

/** Polls `condition` every 20 ms until it holds; fails after `ms`. */
export async function waitFor(condition: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error("timed out waiting for a condition");
    await new Promise((r) => setTimeout(r, 20));
  }
}
