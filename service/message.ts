/** A message exactly as the API returns it and as its line in bus.jsonl holds it. */
export interface Message {
  id: string;
  ts: string;
  from: string;
  to: string;
  body: string;
  tags: string[];
  read_by: string[];
}

/** One line of acks.jsonl: `reader` acked message `id` at `ts`. */
export interface AckRecord {
  id: string;
  reader: string;
  ts: string;
}

export const BROADCAST = "any";

/** The JSONL serializer shared by the store and the benchmark's data generator. */
export function jsonLine(record: Message | AckRecord): Buffer {
  return Buffer.from(JSON.stringify(record) + "\n", "utf8");
}
