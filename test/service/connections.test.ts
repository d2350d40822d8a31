/** The edges of HTTP on a raw socket: every answer is JSON and comes in request order; idle sockets are closed. */
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { startBus, type TestBus } from "../support/bus";
import { basicAuth, PASS, USER } from "../support/http";

let bus: TestBus;
beforeAll(async () => {
  bus = await startBus({ timeouts: { firstByteMs: 300, headersMs: 500 } });
});
afterAll(() => bus.close());

const AUTH = `Authorization: ${basicAuth(USER, PASS)}\r\n`;

/** Sends raw bytes, resolves with everything the server sent until it closed (or `ms` passed). */
function exchange(raw: string, ms = 5_000): Promise<{ text: string; closed: boolean }> {
  const { hostname, port } = new URL(bus.url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname, () => socket.write(raw));
    let text = "";
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ text, closed: false });
    }, ms);
    socket.on("data", (d: Buffer) => (text += d.toString()));
    socket.on("close", () => {
      clearTimeout(timer);
      resolve({ text, closed: true });
    });
    socket.on("error", reject);
  });
}

/** The responses in a raw stream: status and parsed JSON body of each (bodies are Content-Length or chunked). */
function responses(text: string): Array<{ status: number; body: unknown }> {
  const out: Array<{ status: number; body: unknown }> = [];
  let rest = text;
  while (rest.startsWith("HTTP/1.1 ")) {
    const headEnd = rest.indexOf("\r\n\r\n");
    const head = rest.slice(0, headEnd);
    let bodyText: string;
    let after: string;
    const length = /\r\ncontent-length: (\d+)/i.exec(head);
    if (length) {
      bodyText = rest.slice(headEnd + 4, headEnd + 4 + Number(length[1]));
      after = rest.slice(headEnd + 4 + Number(length[1]));
    } else {
      bodyText = "";
      after = rest.slice(headEnd + 4);
      for (;;) {
        const lineEnd = after.indexOf("\r\n");
        const size = parseInt(after.slice(0, lineEnd), 16);
        bodyText += after.slice(lineEnd + 2, lineEnd + 2 + size);
        after = after.slice(lineEnd + 2 + size + 2);
        if (size === 0) break;
      }
    }
    out.push({ status: Number(head.slice(9, 12)), body: bodyText ? JSON.parse(bodyText) : undefined });
    rest = after;
  }
  if (rest !== "") throw new Error(`unparsed rest: ${JSON.stringify(rest.slice(0, 200))}`);
  return out;
}

const get = (route: string) => `GET ${route} HTTP/1.1\r\nHost: bus\r\n${AUTH}\r\n`;

describe("answers in order on a keep-alive connection", () => {
  it("a POST followed by garbage: the 201 first, then the 400, and the post stored once (20 trials)", async () => {
    const stored = () => {
      const file = path.join(bus.dataDir, "bus.jsonl");
      return fs.existsSync(file) ? (fs.readFileSync(file, "utf8").match(/\n/g) ?? []).length : 0;
    };
    const before = stored();
    for (let trial = 0; trial < 20; trial++) {
      const body = JSON.stringify({ from: "pipeline", body: `trial ${trial}` });
      const post = `POST /post HTTP/1.1\r\nHost: bus\r\n${AUTH}Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
      const { text } = await exchange(`${post}GARBAGE\r\n\r\n`);
      expect(responses(text).map((r) => r.status)).toEqual([201, 400]);
    }
    expect(stored() - before).toBe(20);
  });

  it("ten GETs, garbage, ten GETs: eleven answers, the 400 last", async () => {
    const { text } = await exchange(`${get("/health").repeat(10)}GARBAGE\r\n\r\n${get("/health").repeat(10)}`);
    const statuses = responses(text).map((r) => r.status);
    expect(statuses).toEqual([...Array(10).fill(200), 400]);
  });
});

describe("every answer is JSON, with a 4xx for bad input", () => {
  it.each([
    ["no Host header", `GET /health HTTP/1.1\r\n${AUTH}\r\n`, 400, "the Host header is required in HTTP/1.1"],
    ["Expect: banana", `GET /health HTTP/1.1\r\nHost: bus\r\nExpect: banana\r\n${AUTH}\r\n`, 417, "unsupported Expect header: only 100-continue is understood"],
    ["CONNECT", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 405, "method CONNECT not allowed: this is not a proxy"],
  ])("%s", async (_what, raw, status, error) => {
    const { text } = await exchange(raw);
    expect(responses(text)[0]).toEqual({ status, body: { error } });
    expect(text).toMatch(/\r\ncontent-type: application\/json/i);
  });

  it("headers that never finish get a JSON 408, not a 400", async () => {
    const { text, closed } = await exchange("GET /health HTTP/1.1\r\nHost: bus\r\n");
    expect(closed).toBe(true);
    expect(responses(text)).toEqual([{ status: 408, body: { error: "the request did not arrive in time" } }]);
  });
});

it("a connection that never sends a byte is closed", async () => {
  const { text, closed } = await exchange("", 5_000);
  expect({ text, closed }).toEqual({ text: "", closed: true });
});

describe("Expect: 100-continue", () => {
  /** Sends the headers, waits for the first answer, and sends the body only after a 100 Continue. */
  function expecting(headers: string, body: string): Promise<{ first: string; final: string }> {
    const { hostname, port } = new URL(bus.url);
    return new Promise((resolve, reject) => {
      const socket = net.connect(Number(port), hostname, () => socket.write(headers));
      let text = "";
      let first: string | undefined;
      socket.on("data", (d: Buffer) => {
        text += d.toString();
        if (first === undefined && text.includes("\r\n\r\n")) {
          first = text.slice(0, 12);
          if (first === "HTTP/1.1 100") {
            text = text.slice(text.indexOf("\r\n\r\n") + 4);
            socket.write(body);
          }
        }
        if (first !== undefined && text.startsWith("HTTP/1.1 ") && !text.startsWith("HTTP/1.1 100") && /\r\n\r\n[\s\S]*\n$/.test(text)) {
          socket.destroy();
          resolve({ first, final: text.slice(0, 12) });
        }
      });
      socket.on("error", reject);
    });
  }
  const body = JSON.stringify({ from: "patient", body: "asked for" });
  const post = (auth: string, length = Buffer.byteLength(body)) =>
    `POST /post HTTP/1.1\r\nHost: bus\r\n${auth}Content-Type: application/json\r\nContent-Length: ${length}\r\nExpect: 100-continue\r\n\r\n`;

  it("asks for the body once the route wants it, and never for a request refused on its headers", async () => {
    expect(await expecting(post(AUTH), body)).toEqual({ first: "HTTP/1.1 100", final: "HTTP/1.1 201" });
    expect(await expecting(post(`Authorization: ${basicAuth(USER, "wrong-password-0000000000000")}\r\n`), body)).toEqual({
      first: "HTTP/1.1 401",
      final: "HTTP/1.1 401",
    });
    expect(await expecting(post(AUTH, 600 * 1024), body)).toEqual({ first: "HTTP/1.1 413", final: "HTTP/1.1 413" });
  });
});
