/**
 * Looks for known secrets in a stream of bytes, chunk by chunk: as they are, as UTF-16, as hex and as
 * base64 (standard and URL-safe, at each of the three alignments a secret can have inside a longer
 * encoded text). The end of each chunk is kept and searched again with the next, so a secret cut by a
 * chunk boundary is found. What is found is named by where the secret is kept, never by its value.
 */
import { MIN_SCANNED_SECRET_CHARS } from "../contract/defaults";

export interface KnownSecret {
  value: string;
  /** Where it is kept, for the refusal: "BUS_PASS in /home/me/.secrets/claude-bus.env". */
  source: string;
}

export interface SecretFound {
  source: string;
  /** How it was written in the file: "as it is", "base64-encoded"... */
  encoding: string;
}

interface Pattern {
  bytes: Buffer;
  found: SecretFound;
}

/**
 * The part of base64(secret) that is the same wherever the secret sits in a longer base64 text: for each
 * alignment (0-2 bytes before it in its 3-byte group), the characters that depend on the secret's bits only.
 */
function base64Fragments(secret: Buffer): string[] {
  return [0, 1, 2].map((before) => {
    const bytes = before + secret.length;
    const encoded = Buffer.concat([Buffer.alloc(before), secret]).toString("base64");
    return encoded.slice(Math.ceil((8 * before) / 6), Math.floor((8 * bytes) / 6));
  });
}

function patternsOf({ value, source }: KnownSecret): Pattern[] {
  const raw = Buffer.from(value, "utf8");
  const forms: Array<[encoding: string, text: Buffer]> = [
    ["as it is", raw],
    ["as UTF-16", Buffer.from(value, "utf16le")],
    ["hex-encoded", Buffer.from(raw.toString("hex"))],
    ["hex-encoded", Buffer.from(raw.toString("hex").toUpperCase())],
  ];
  for (const fragment of base64Fragments(raw)) {
    forms.push(["base64-encoded", Buffer.from(fragment)]);
    forms.push(["base64-encoded", Buffer.from(fragment.replace(/\+/g, "-").replace(/\//g, "_"))]);
  }
  return forms.map(([encoding, bytes]) => ({ bytes, found: { source, encoding } }));
}

/** A scanner for `secrets` (those too short to look for are left out): feed it every chunk, then ask what it found. */
export function secretScanner(secrets: KnownSecret[]): { update(chunk: Buffer): void; found(): SecretFound | undefined } {
  const seen = new Set<string>();
  const patterns = secrets
    .filter((s) => s.value.length >= MIN_SCANNED_SECRET_CHARS)
    .flatMap(patternsOf)
    .filter(({ bytes }) => !seen.has(bytes.toString("latin1")) && seen.add(bytes.toString("latin1")));
  const overlap = Math.max(0, ...patterns.map((p) => p.bytes.length - 1));
  let tail = Buffer.alloc(0);
  let found: SecretFound | undefined;
  return {
    update(chunk) {
      if (found || patterns.length === 0) return;
      const window = tail.length > 0 ? Buffer.concat([tail, chunk]) : chunk;
      found = patterns.find((p) => window.includes(p.bytes))?.found;
      tail = Buffer.from(window.subarray(Math.max(0, window.length - overlap)));
    },
    found: () => found,
  };
}
