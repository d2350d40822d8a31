import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { parseEnvFile, renderEnvFile } from "../../contract/envFile";
import { HostPassword, generatePassword } from "../../contract/password";
import { LETS_ENCRYPT_PRODUCTION, PUBLIC_DOH_URL, parseHostConfig } from "../../provision/config";
import { tempDir } from "../support/tempDir";
import { ED25519_KEY, MINIMAL, cfgOf } from "./fixtures";

describe("parseHostConfig", () => {
  it("fills SPEC's defaults from just a domain and an ACME email", () => {
    expect(cfgOf()).toEqual({
      domain: "example.com",
      subdomain: "claude-bus",
      fqdn: "claude-bus.example.com",
      busUser: "claude",
      acmeEmail: "ops@example.com",
      acmeServer: LETS_ENCRYPT_PRODUCTION,
      hsts: true,
      ipv6: true,
      servicePort: 8787,
      serviceMemoryMiB: 512,
      retainDays: 0,
      archiveRemoved: true,
      teamCredential: "member",
      maxFileMiB: 100,
      fileQuotaMiB: 0,
      fileMaxAgeDays: 14,
      uploaderMaxFiles: 1000,
      uploaderQuotaMiB: 0,
      uploaderMaxPartials: 20,
      maxLongPolls: 32,
      maxBodyKiB: 520,
      rateLimit: { perSecond: 20, burst: 100 },
      sharedDir: { group: "claude-bus-files", dropUser: "claude-drop" },
      clientSshKeys: [],
      rootSshKeys: [],
      dohUrl: PUBLIC_DOH_URL,
      autoReboot: "04:00",
    });
  });

  it("keeps every given value and derives the fqdn from subdomain and domain", () => {
    const cfg = cfgOf({
      domain: "Bus.Example.ORG",
      subdomain: "msgs",
      busUser: "agent",
      acmeServer: "https://127.0.0.1:14000/dir",
      hsts: false,
      ipv6: false,
      servicePort: 9000,
      rateLimit: { perSecond: 5, burst: 0 },
      sharedDir: { group: "dropfolk", dropUser: "dropper", maxAgeDays: 7 },
      clientSshKeys: [ED25519_KEY],
    });
    expect(cfg.fqdn).toBe("msgs.bus.example.org");
    expect(cfg).toMatchObject({ busUser: "agent", hsts: false, ipv6: false, servicePort: 9000, clientSshKeys: [ED25519_KEY] });
    expect(cfg.sharedDir).toEqual({ group: "dropfolk", dropUser: "dropper", maxAgeDays: 7 });
  });

  it.each([
    [{ domain: undefined }, /domain is required/],
    [{ domain: "localhost" }, /domain: must be a DNS name/],
    [{ domain: "exa mple.com" }, /domain: must be a DNS name/],
    [{ subdomain: "a.b" }, /subdomain: must be one DNS label/],
    [{ acmeEmail: "not-an-email" }, /acmeEmail:/],
    [{ acmeServer: "http://acme.example.com/dir" }, /acmeServer: must be the https:\/\/ URL/],
    [{ acmeCaBundle: "no pem here" }, /acmeCaBundle: must hold at least one PEM certificate/],
    [{ servicePort: 80 }, /servicePort:/],
    [{ servicePort: "8787" }, /servicePort:/],
    [{ busUser: "a:b" }, /busUser:/],
    [{ maxBodyKiB: 10 }, /maxBodyKiB:/],
    [{ rateLimit: { perSecond: 0 } }, /rateLimit\.perSecond:/],
    [{ sharedDir: { group: "Bad Group" } }, /sharedDir\.group: must be a unix name/],
    [{ sharedDir: { maxAgeDays: 0 } }, /sharedDir\.maxAgeDays:/],
    [{ maxFileMiB: 0 }, /maxFileMiB:/],
    [{ maxFileMiB: 10_241 }, /maxFileMiB:/],
    [{ fileQuotaMiB: 1.5 }, /fileQuotaMiB:/],
    [{ fileMaxAgeDays: 3651 }, /fileMaxAgeDays:/],
    [{ uploaderMaxFiles: 0 }, /uploaderMaxFiles:/],
    [{ uploaderQuotaMiB: 1.5 }, /uploaderQuotaMiB:/],
    [{ uploaderMaxPartials: 10_001 }, /uploaderMaxPartials:/],
    [{ maxLongPolls: 0 }, /maxLongPolls:/],
    [{ clientSshKeys: [ED25519_KEY, "ssh-ed25519 AAAA\nssh-rsa AAAA"] }, /clientSshKeys\[1\]: must be one OpenSSH public key line/],
    [{ hostname: "x" }, /hostname: unknown key/],
    [{ sharedDir: { owner: "x" } }, /sharedDir\.owner: unknown key/],
  ])("rejects %j naming the key", (extra, message) => {
    expect(() => parseHostConfig({ ...MINIMAL, ...extra })).toThrow(message);
  });

  it("rejects a non-object", () => {
    expect(() => parseHostConfig("example.com")).toThrow(/invalid host config: \(config\)/);
  });
});

describe("HostPassword (the contract's rule for the password the host is given)", () => {
  it("accepts generated-style passwords and refuses what could break dotenv, a curl config or shell quoting", () => {
    expect(HostPassword.safeParse("Abcdefghijklmnopqrstuvwxyz12").success).toBe(true);
    for (const bad of ["short", 'has"quote1234', "has space 12345", "back\\slash12345", "new\nline123456", "x".repeat(129)]) {
      expect(HostPassword.safeParse(bad).success).toBe(false);
    }
  });

  it("is at least as long as a generated one (28 characters, as the team page promises): 12 or 27 are refused", () => {
    expect(HostPassword.safeParse("Abcdefghijkl").success).toBe(false);
    expect(HostPassword.safeParse("Abcdefghijklmnopqrstuvwxyz1").success).toBe(false);
    expect(HostPassword.safeParse(generatePassword()).success).toBe(true);
  });

  it("refuses what bash would expand when a client sources its env file: ~, ! and *", () => {
    for (const bad of ["~+abcdefghijkl", "abcdefgh:~root", "abcdefghijkl!!", "abcdefghijkl*"]) {
      expect(HostPassword.safeParse(bad).success).toBe(false);
    }
  });

  it("accepts only passwords that reach a client's env file unquoted and come back the same from bash and our parser", () => {
    const punctuation = "._+/=@%,:-";
    const password = `Ab0${punctuation}${punctuation}${punctuation}=`;
    expect(HostPassword.safeParse(password).success).toBe(true);
    const text = renderEnvFile({ BUS_USER: "claude", BUS_PASS: password, BUS_URL: "https://claude-bus.example.com" });
    expect(text).toContain(`BUS_PASS=${password}\n`);
    expect(parseEnvFile(text, "claude-bus.env").BUS_PASS).toBe(password);
    const file = path.join(tempDir("pass"), "claude-bus.env");
    fs.writeFileSync(file, text);
    const sourced = spawnSync("bash", ["-c", 'cd / && source "$1" && printf %s "$BUS_PASS"', "bash", file], { encoding: "utf8" });
    expect(sourced.stdout).toBe(password);
  });
});

describe("provision/host.example.json", () => {
  it("is a valid host config for claude-bus.example.com", () => {
    const file = path.join(__dirname, "..", "..", "provision", "host.example.json");
    const cfg = parseHostConfig(JSON.parse(fs.readFileSync(file, "utf8")));
    expect(cfg.fqdn).toBe("claude-bus.example.com");
    expect(cfg.clientSshKeys).toHaveLength(1);
  });
});
