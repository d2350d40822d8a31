/**
 * A model on loopback that speaks the Messages API as Claude Code calls it (streamed SSE), answering from
 * a script, and keeping every request it was sent: a test asserts on what Claude Code put in front of
 * the model (hook context, tool lists, tool results), which is what our hooks and tools produce.
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";

export type Turn = { text: string } | { tool: string; input: Record<string, unknown> };

export interface ModelRequest {
  body: any; // the Messages API request body: each test reads the fields it needs
  /** All the text of the request (system, messages, tool results), for "was X shown to the model". */
  text: string;
  /** A main-loop request (it offers tools), as opposed to Claude Code's small side requests (titles, summaries). */
  main: boolean;
}

export interface ScriptedModel {
  url: string;
  requests: ModelRequest[];
  main(): ModelRequest[];
  close(): Promise<void>;
}

/** `next(request, mainIndex)` picks the answer to each main-loop request; side requests get a short text. */
export async function startScriptedModel(next: (request: ModelRequest, index: number) => Turn): Promise<ScriptedModel> {
  const requests: ModelRequest[] = [];
  let mains = 0;
  let ids = 0;
  const server = http.createServer((req, res) => {
    let raw = "";
    req.on("data", (d) => (raw += d));
    req.on("end", () => {
      if (req.method !== "POST" || !req.url?.startsWith("/v1/messages")) {
        res.writeHead(200, { "content-type": "application/json" }).end("{}");
        return;
      }
      const body = JSON.parse(raw);
      const request: ModelRequest = { body, text: JSON.stringify([body.system, body.messages]), main: Array.isArray(body.tools) && body.tools.length > 0 };
      requests.push(request);
      const turn: Turn = request.main ? next(request, mains++) : { text: "ok" };
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
      for (const [event, data] of sse(turn, `msg_${++ids}`)) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    main: () => requests.filter((r) => r.main),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function sse(turn: Turn, id: string): Array<[string, unknown]> {
  const usage = { input_tokens: 10, output_tokens: 5 };
  const isTool = "tool" in turn;
  const block = isTool ? { type: "tool_use", id: `toolu_${id}`, name: turn.tool, input: {} } : { type: "text", text: "" };
  const delta = isTool ? { type: "input_json_delta", partial_json: JSON.stringify(turn.input) } : { type: "text_delta", text: turn.text };
  return [
    [
      "message_start",
      {
        type: "message_start",
        message: { id, type: "message", role: "assistant", model: "claude-sonnet-4-5", content: [], stop_reason: null, stop_sequence: null, usage },
      },
    ],
    ["content_block_start", { type: "content_block_start", index: 0, content_block: block }],
    ["content_block_delta", { type: "content_block_delta", index: 0, delta }],
    ["content_block_stop", { type: "content_block_stop", index: 0 }],
    ["message_delta", { type: "message_delta", delta: { stop_reason: isTool ? "tool_use" : "end_turn", stop_sequence: null }, usage }],
    ["message_stop", { type: "message_stop" }],
  ];
}

/** The text of the tool_result blocks in the request's last message that has any (Claude Code may append a note after it). */
export function lastToolResult(request: ModelRequest): string {
  const withResults = (m: any) => Array.isArray(m.content) && m.content.some((b: any) => b.type === "tool_result");
  const last = [...request.body.messages].reverse().find(withResults);
  const blocks = last ? last.content : [];
  return blocks
    .filter((b: any) => b.type === "tool_result")
    .map((b: any) => (typeof b.content === "string" ? b.content : b.content.map((c: any) => c.text ?? "").join("")))
    .join("\n");
}
