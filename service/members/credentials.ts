/** The team credential (Basic auth): where it comes from, and its constant-time check. */
import { createHash, timingSafeEqual } from "node:crypto";
import * as fs from "node:fs";
import { parseEnvFile } from "../../contract/envFile";
import { describeIssue } from "../../contract/issues";
import { BusUser } from "../../contract/names";
import { PasswordText } from "../../contract/password";
import { READABLE_BY_THE_BUS, readAtStart } from "../store/startupFile";

/** Where the credential comes from. A file is re-read on reload (SIGHUP). */
export type CredentialSource = { user: string; pass: string } | { file: string };

export interface Credential {
  user: string;
  pass: string;
  /** Also accepted while set: lets a rotation switch nginx and the service without a 401 gap. */
  previousPass?: string;
}

export function loadCredential(source: CredentialSource): Credential {
  if ("file" in source) {
    const remedy = `it holds the team credential, the lines BUS_USER=... and BUS_PASS=...: ${READABLE_BY_THE_BUS}, or write it again (the provision credentials step, or claude-bus rotate)`;
    return readAtStart(source.file, remedy, () => {
      const env = parseEnvFile(fs.readFileSync(source.file, "utf8"), source.file);
      if (!env.BUS_USER || !env.BUS_PASS) throw new Error("needs BUS_USER and BUS_PASS");
      return { user: env.BUS_USER, pass: env.BUS_PASS, previousPass: env.BUS_PASS_PREVIOUS };
    });
  }
  for (const [name, schema, value] of [
    ["BUS_USER", BusUser, source.user],
    ["BUS_PASS", PasswordText, source.pass],
  ] as const) {
    const checked = schema.safeParse(value);
    if (!checked.success) throw new Error(`bus credential: ${describeIssue(checked.error.issues[0], { root: name, between: " " })}`);
  }
  return { user: source.user, pass: source.pass };
}

const digest = (s: string | Buffer): Buffer => createHash("sha256").update(s).digest();

/** The user and password of an `Authorization: Basic ...` header, as bytes; null when there is none. */
export interface BasicCredential {
  user: Buffer;
  pass: Buffer;
}

export function parseBasic(header: string | undefined): BasicCredential | null {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? "");
  if (!match) return null;
  const decoded = Buffer.from(match[1], "base64");
  const colon = decoded.indexOf(0x3a);
  if (colon < 0) return null;
  return { user: decoded.subarray(0, colon), pass: decoded.subarray(colon + 1) };
}

/**
 * Checks the team credential in constant time: both sides are hashed first so timingSafeEqual always
 * compares 32 bytes and neither the length nor the content leaks.
 */
export class CredentialChecker {
  private user!: Buffer;
  private passes!: Buffer[];
  /** The team credential's user name (machines may not enroll under it). */
  userName!: string;

  constructor(credential: Credential) {
    this.set(credential);
  }

  set(credential: Credential): void {
    this.userName = credential.user;
    this.user = digest(credential.user);
    this.passes = [credential.pass, ...(credential.previousPass ? [credential.previousPass] : [])].map(digest);
  }

  isUser(user: Buffer): boolean {
    return timingSafeEqual(digest(user), this.user);
  }

  check(credential: BasicCredential): boolean {
    const userOk = this.isUser(credential.user);
    const pass = digest(credential.pass);
    let passOk = false;
    for (const expected of this.passes) passOk = timingSafeEqual(pass, expected) || passOk;
    return userOk && passOk;
  }
}
