/** Plain HTTP requests (node's http, so bodies and headers can be anything), with the test credential by default. */
import * as http from "node:http";

export const USER = "claude";
export const PASS = "test-pass-0123456789abcdefghij";

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  /** The body as it came (a file's bytes). */
  bytes: Buffer;
  /** The body parsed as JSON; undefined when it is not JSON. */
  json: any; // answers of any shape: each test asserts the fields it needs
}

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** [user, pass]; null sends no Authorization header. Default: the test credential. */
  auth?: [string, string] | null;
}

export function basicAuth(user: string, pass: string): string {
  return `Basic ${Buffer.from(`${user}:${pass}`).toString("base64")}`;
}

export function request(baseUrl: string, pathAndQuery: string, opts: RequestOptions = {}): Promise<Reply> {
  const headers: Record<string, string> = { ...opts.headers };
  const auth = opts.auth === undefined ? [USER, PASS] : opts.auth;
  if (auth) headers.Authorization = basicAuth(auth[0], auth[1]);
  if (opts.body !== undefined) headers["Content-Length"] = String(Buffer.byteLength(opts.body));
  return new Promise((resolve, reject) => {
    const req = http.request(baseUrl + pathAndQuery, { method: opts.method ?? "GET", headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const bytes = Buffer.concat(chunks);
        const text = bytes.toString("utf8");
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode!, headers: res.headers, text, bytes, json });
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
export async function allMessages(baseUrl: string, auth?: [string, string]): Promise<Array<Record<string, unknown>>> {
  const out: Array<Record<string, unknown>> = [];
  for (;;) {
    const since = out.length > 0 ? String(out[out.length - 1].id) : "0";
    const reply = await request(baseUrl, `/messages?since=${since}&limit=500`, { auth });
    if (reply.status !== 200) throw new Error(`GET /messages: ${reply.status} ${reply.text}`);
    if (reply.json.messages.length === 0) return out;
    out.push(...reply.json.messages);
  }
}
