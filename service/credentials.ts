import { createHash, timingSafeEqual } from "crypto";
import * as fs from "fs";
import { z } from "zod";

/** Where the bus's Basic-auth credential comes from. A file is re-read on reload (SIGHUP). */
export type CredentialSource = { user: string; pass: string } | { file: string };

const Credential = z.object({
  user: z.string().min(1, "BUS_USER must not be empty").regex(/^[^:]*$/, "BUS_USER must not contain ':'"),
  pass: z.string().min(1, "BUS_PASS must not be empty"),
  // Also accepted while set: lets a rotation switch nginx and the service without a 401 gap.
  previousPass: z.string().min(1).optional(),
});
type Credential = z.infer<typeof Credential>;

/** Parse a dotenv / shell-sourceable KEY=VALUE file (comments, `export`, quotes). */
export function parseEnvFile(text: string): Record<string, string> {
  const values: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const match = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!match) continue;
    const quoted = /^(['"])(.*?)\1(\s+#.*)?$/.exec(match[2]);
    values[match[1]] = quoted ? quoted[2] : match[2].replace(/\s+#.*$/, "");
  }
  return values;
}

export function loadCredential(source: CredentialSource): Credential {
  if ("file" in source) {
    const env = parseEnvFile(fs.readFileSync(source.file, "utf8"));
    const parsed = Credential.safeParse({ user: env.BUS_USER, pass: env.BUS_PASS, previousPass: env.BUS_PASS_PREVIOUS || undefined });
    if (!parsed.success) throw new Error(`${source.file}: ${parsed.error.issues[0].message} (needs BUS_USER and BUS_PASS)`);
    return parsed.data;
  }
  const parsed = Credential.safeParse({ user: source.user, pass: source.pass });
  if (!parsed.success) throw new Error(`bus credential: ${parsed.error.issues[0].message}`);
  return parsed.data;
}

const digest = (s: string | Buffer): Buffer => createHash("sha256").update(s).digest();

/**
 * Checks `Authorization: Basic ...` headers in constant time: both sides are hashed first so
 * timingSafeEqual always compares 32 bytes and neither the length nor the content leaks.
 */
export class CredentialChecker {
  private user!: Buffer;
  private passes!: Buffer[];

  constructor(credential: Credential) {
    this.set(credential);
  }

  set(credential: Credential): void {
    this.user = digest(credential.user);
    this.passes = [credential.pass, ...(credential.previousPass ? [credential.previousPass] : [])].map(digest);
  }

  check(header: string | undefined): boolean {
    const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? "");
    const decoded = match ? Buffer.from(match[1], "base64") : Buffer.alloc(0);
    const colon = decoded.indexOf(0x3a);
    const user = digest(colon >= 0 ? decoded.subarray(0, colon) : decoded);
    const pass = digest(colon >= 0 ? decoded.subarray(colon + 1) : Buffer.alloc(0));
    const userOk = timingSafeEqual(user, this.user);
    let passOk = false;
    for (const expected of this.passes) passOk = timingSafeEqual(pass, expected) || passOk;
    return colon >= 0 && userOk && passOk;
  }
}
