/** The start-up fast path reads exactly what the schema reads, for every line shape, and refuses what the schema refuses. */
import { createHash } from "node:crypto";
import { StoredMessageSchema } from "../../contract/message";
import { parseStoredAck, parseStoredLine } from "../../service/store/storedLine";

function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const hash = (n: number) => createHash("sha256").update(String(n)).digest("hex");
const ALPHABET = ["a", "Z", "0", " ", '"', "\\", "\n", "\u0001", "é", "🚀", '","tags":[', ",", "]", "}", '"attachments":[', '{"sha256":"'];

it("reads the same fields as a full parse against the schema, whatever the body and tags hold", () => {
  const rand = prng(7);
  const text = (max: number) => Array.from({ length: Math.floor(rand() * max) }, () => ALPHABET[Math.floor(rand() * ALPHABET.length)]).join("");
  for (let i = 1; i <= 2_000; i++) {
    const message = {
      id: String(i),
      ts: new Date(1_700_000_000_000 + i).toISOString(),
      from: "from.x",
      to: rand() < 0.5 ? "any" : "to_y@z",
      body: text(40) || "b",
      tags: Array.from({ length: Math.floor(rand() * 3) }, () => text(6) || "t"),
      read_by: ["from.x"],
      ...(rand() < 0.5 && { thread: String(Math.max(1, i - 3)) }),
      ...(rand() < 0.3 && { reply_to: String(Math.max(1, i - 1)) }),
      ...(rand() < 0.3 && {
        attachments: Array.from({ length: 1 + Math.floor(rand() * 3) }, (_, k) => ({
          sha256: hash(i * 10 + k),
          name: text(12) || "f",
          size: Math.floor(rand() * 1e9),
        })),
      }),
      ...(rand() < 0.3 && { verified: true }),
      ...(rand() < 0.3 && { idempotency_key: text(8) || "k" }),
    };
    const line = JSON.stringify(message);
    const full = StoredMessageSchema.parse(JSON.parse(line));
    expect(parseStoredLine(line)).toEqual({
      id: full.id,
      ts: full.ts,
      from: full.from,
      to: full.to,
      tags: full.tags,
      thread: full.thread,
      attachments: full.attachments?.map((a) => a.sha256),
      idempotency_key: full.idempotency_key,
    });
  }
});

it.each([
  ['{"id":"1","ts":"t","from":"a","to":"b","body":"x","tags":[],"read_by":["a"]', "not JSON"],
  ['{"id":"0","ts":"t","from":"a","to":"b","body":"x","tags":[],"read_by":["a"]}', "id:"],
  ['{"id":"1","ts":"t","from":"a b","to":"b","body":"x","tags":[],"read_by":["a"]}', "from:"],
  ['{"id":"1","ts":"t","from":"a","to":"b","body":"x","tags":[1],"read_by":["a"]}', "tags[0]:"],
  ['{"id":"1","ts":"t","from":"a","to":"b","body":"x","tags":[],"read_by":["a"],"thread":"x"}', "thread:"],
  [`{"id":"1","ts":"t","from":"a","to":"b","body":"x","tags":[],"read_by":["a"],"attachments":[]}`, "attachments:"],
  [
    `{"id":"1","ts":"t","from":"a","to":"b","body":"x","tags":[],"read_by":["a"],"attachments":[{"sha256":"${"A".repeat(64)}","name":"n","size":1}]}`,
    "attachments[0].sha256:",
  ],
  [
    `{"id":"1","ts":"t","from":"a","to":"b","body":"x","tags":[],"read_by":["a"],"attachments":[{"sha256":"${"a".repeat(64)}","name":"n","size":1.5}]}`,
    "attachments[0].size:",
  ],
  ['{"id":"1","ts":"t","from":"a","to":"b","body":"x","tags":[],"read_by":["a"],"verified":false}', "verified:"],
  ["\u0000\u0000\u0000", "not JSON"],
])("refuses %j as the schema does", (line, reason) => {
  expect(parseStoredLine(line)).toEqual(expect.stringContaining(reason));
});

it("reads ack lines the same way, and refuses what the schema refuses", () => {
  expect(parseStoredAck('{"id":"12","reader":"b@x","ts":"2026-01-01T00:00:00.000Z"}')).toEqual({ id: "12", reader: "b@x", ts: "2026-01-01T00:00:00.000Z" });
  expect(parseStoredAck('{"reader":"b","id":"12","ts":"t"}')).toEqual({ id: "12", reader: "b", ts: "t" });
  expect(parseStoredAck('{"id":"12","reader":"b c","ts":"t"}')).toEqual(expect.stringContaining("reader:"));
  expect(parseStoredAck('{"id":"12","reader":"b","ts":"t","x":1}')).toEqual(expect.stringContaining("x: unknown key"));
});
