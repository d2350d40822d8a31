/**
 * The attachment guard's search for a credential in a file's bytes (cli/secretScan.ts): every encoding
 * it knows, at every place a secret can sit in an encoded text and across every chunk boundary, and no
 * alarm on text that only resembles it. The guard itself is tested through post --attach and the MCP
 * send tool (files.test.ts, mcp.test.ts).
 */
import { randomBytes } from "node:crypto";
import { secretScanner } from "../../cli/secretScan";

// "~~~" and "???" are "fn5+" and "Pz8/" in base64: the URL-safe alphabet differs in them
const SECRET = "Qx7mR2pL9vK4~~~???sN8wT3yB6cH1jF5d";
const source = "BUS_PASS of the test";

/** What the scanner reports for `bytes` fed in chunks of `chunk` bytes. */
function scan(bytes: Buffer, chunk = bytes.length, value = SECRET) {
  const scanner = secretScanner([{ value, source }]);
  for (let at = 0; at < bytes.length; at += chunk) scanner.update(bytes.subarray(at, at + chunk));
  return scanner.found();
}

it("finds the secret as it is, as UTF-16, in hex either case, and in base64 and base64url at each of the three alignments", () => {
  const forms: Array<[string, Buffer]> = [
    ["as it is", Buffer.from(`BUS_PASS=${SECRET}\n`)],
    ["as UTF-16", Buffer.from(`password: ${SECRET}`, "utf16le")],
    ["hex-encoded", Buffer.from(Buffer.from(`x${SECRET}y`).toString("hex"))],
    ["hex-encoded", Buffer.from(Buffer.from(`x${SECRET}y`).toString("hex").toUpperCase())],
  ];
  for (const before of ["", "a", "ab", "abc"]) {
    const encoded = Buffer.from(`${before}BUS_PASS=${SECRET}\nmore`).toString("base64");
    forms.push(["base64-encoded", Buffer.from(`data: ${encoded}`)]);
    forms.push(["base64-encoded", Buffer.from(encoded.replace(/\+/g, "-").replace(/\//g, "_"))]);
    // as an Authorization header carries it
    forms.push(["base64-encoded", Buffer.from(`Authorization: Basic ${Buffer.from(`${before}claude:${SECRET}`).toString("base64")}`)]);
  }
  for (const [encoding, bytes] of forms) expect(scan(bytes)).toEqual({ source, encoding });
});

it("finds it across every chunk boundary", () => {
  const bytes = Buffer.concat([randomBytes(40), Buffer.from(SECRET), randomBytes(40)]);
  for (let chunk = 1; chunk <= bytes.length; chunk++) expect(scan(bytes, chunk)).toEqual({ source, encoding: "as it is" });
});

it("finds nothing in text without it: a part of it, another secret, random bytes; a secret too short to look for is not looked for", () => {
  expect(scan(Buffer.from(`BUS_PASS=${SECRET.slice(0, -1)}\n`))).toBeUndefined();
  expect(scan(Buffer.from("BUS_PASS=Zz9yXw8vUt7sRq6pOn5mLk4jIh3g\n"))).toBeUndefined();
  expect(scan(randomBytes(1 << 20), 65_536)).toBeUndefined();
  expect(scan(Buffer.from("the password is hunter2"), undefined, "hunter2")).toBeUndefined();
});
