/** Stack config: Pulumi.yaml's typed schema and infra/config.ts's table agree, and validation fails clearly. */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve as resolvePath } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { load } from "js-yaml";
import {
  DEFAULT_BUS_USER,
  DEFAULT_FILE_MAX_AGE_DAYS,
  DEFAULT_MAX_FILE_MIB,
  DEFAULT_MAX_LONG_POLLS,
  DEFAULT_RATE_LIMIT,
  DEFAULT_SERVICE_MEMORY_MIB,
  DEFAULT_SUBDOMAIN,
  DEFAULT_UPLOADER_MAX_FILES,
  DEFAULT_UPLOADER_MAX_PARTIALS,
  GENERATED_PASSWORD_LENGTH,
} from "../../contract/defaults";
import { renderTmpfiles } from "../../provision/render/files";
import { renderServiceUnit } from "../../provision/render/systemd";
import { HOST_PASSWORD_CHARS, HOST_PASSWORD_MAX, HOST_PASSWORD_MIN, HOST_PASSWORD_RULE } from "../../contract/password";
import {
  hostConfigOf as hostConfigFor,
  serviceMemoryOf,
  parseStackConfig,
  readStackConfig,
  SECRET_CONFIG_KEYS,
  STACK_CONFIG,
  STACK_CONFIG_KEYS,
  type RawStackConfig,
} from "../../infra/config";
import { baseConfig, FAKE_PRIVATE_KEY, resolve, TEST_VOLUME_DEVICE } from "./harness";

/** The host config the program makes for the test stack (its volume device included). */
const hostConfigOf = (cfg: Parameters<typeof hostConfigFor>[0]) => hostConfigFor(cfg, TEST_VOLUME_DEVICE);

interface ConfigDecl {
  type: string;
  description?: string;
  default?: unknown;
  secret?: boolean;
  items?: { type: string };
}
const project = load(readFileSync(join(__dirname, "../../Pulumi.yaml"), "utf8")) as {
  name: string;
  runtime: { name: string; options?: { typescript?: boolean; tsconfig?: string } };
  main: string;
  config: Record<string, ConfigDecl>;
};

function errorOf(raw: RawStackConfig): string {
  try {
    parseStackConfig(raw);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error("expected the config to be rejected");
}

describe("Pulumi.yaml", () => {
  it("is the claude-bus TypeScript program at infra/index.ts", () => {
    expect(project.name).toBe("claude-bus");
    expect(project.runtime.name).toBe("nodejs");
    expect(project.runtime.options?.typescript).toBe(true);
    expect(project.main).toBe("infra/index.ts");
    expect(() => readFileSync(join(__dirname, "../..", project.main))).not.toThrow();
  });

  it("compiles the program with the project's tsconfig.json, which ts-node would not find from infra/, Pulumi's working directory", () => {
    const root = join(__dirname, "../..");
    const workingDir = join(root, dirname(project.main));
    expect(existsSync(join(workingDir, "tsconfig.json"))).toBe(false);
    expect(project.runtime.options?.tsconfig).toBeDefined();
    expect(resolvePath(workingDir, project.runtime.options!.tsconfig!)).toBe(join(root, "tsconfig.json"));
  });

  it("declares exactly the keys the program reads, each typed and described", () => {
    expect(Object.keys(project.config).sort()).toEqual([...STACK_CONFIG_KEYS].sort());
    for (const [key, decl] of Object.entries(project.config)) {
      expect([key, ["string", "integer", "boolean", "array"].includes(decl.type)]).toEqual([key, true]);
      expect([key, (decl.description ?? "").length > 10]).toEqual([key, true]);
      if (decl.type === "array") expect([key, decl.items?.type]).toEqual([key, "string"]);
    }
  });

  it("requires the keys without a sensible default and never gives a secret a plaintext default", () => {
    const required = Object.entries(project.config)
      .filter(([, d]) => d.default === undefined)
      .map(([k]) => k)
      .sort();
    expect(required).toEqual(["acmeEmail", "domain", "sshPrivateKey"]);
    expect(project.config.sshPrivateKey.secret).toBe(true);
    // Pulumi rejects `secret: true` with a plaintext default, so the optional password is unmarked
    // in the schema and the program treats it as a secret anyway (see the secrets tests).
    expect(project.config.busPassword.default).toBe("");
    for (const [key, decl] of Object.entries(project.config)) {
      if (decl.secret) expect([key, decl.default]).toEqual([key, undefined]);
    }
  });

  it("defaults are the ones the program applies when a key is unset", () => {
    // The Pulumi CLI fills in Pulumi.yaml defaults; the program's own defaults must say the same.
    const asPulumiPassesThem: RawStackConfig = { ...baseConfig() };
    for (const [key, decl] of Object.entries(project.config)) {
      if (decl.default === undefined || key in asPulumiPassesThem) continue;
      (asPulumiPassesThem as Record<string, string>)[key] = typeof decl.default === "string" ? decl.default : JSON.stringify(decl.default);
    }
    const withDefaults = parseStackConfig(asPulumiPassesThem);
    const unset = parseStackConfig(baseConfig());
    const plain = ({ sshPrivateKey: _k, busPassword: _p, ...rest }: ReturnType<typeof parseStackConfig>) => rest;
    expect(plain(unset)).toEqual(plain(withDefaults));
    // rateLimit unset is the contract's default, which Pulumi.yaml documents and the host gets.
    expect(hostConfigOf(unset).rateLimit.perSecond).toBe(project.config.rateLimit.default);
    expect(hostConfigOf(withDefaults)).toEqual(hostConfigOf(unset));
    expect(withDefaults.size).toBe("s-1vcpu-1gb");
    expect(withDefaults.image).toBe("debian-13-x64");
    expect([withDefaults.volumeSizeGib, withDefaults.allowDataDestroy, withDefaults.alertEmail]).toEqual([5, false, undefined]);
    expect(withDefaults.subdomain).toBe("claude-bus");
    expect(withDefaults.busUser).toBe("claude");
    expect(withDefaults.busPassword).toBeUndefined();
  });

  it("declares every key as infra/config.ts's table does: same order, type, default, description and secrecy", () => {
    expect(Object.keys(project.config)).toEqual(STACK_CONFIG_KEYS);
    for (const key of STACK_CONFIG_KEYS) {
      const decl = project.config[key];
      const spec: { type: string; default?: unknown; description: string; secret?: boolean } = STACK_CONFIG[key];
      expect([key, decl.type, decl.default]).toEqual([key, spec.type, spec.default]);
      expect([key, decl.description]).toEqual([key, expect.stringContaining(spec.description)]);
      // Pulumi.yaml can mark only a key without a default secret; readStackConfig enforces the rest.
      expect([key, decl.secret ?? false]).toEqual([key, spec.secret === true && spec.default === undefined]);
    }
    expect(SECRET_CONFIG_KEYS).toEqual(["sshPrivateKey", "busPassword"]);
  });

  it("promises no IPv6 (no AAAA record, no ipv6 output): the bus has no reserved IPv6 address", () => {
    const text = readFileSync(join(__dirname, "../../Pulumi.yaml"), "utf8");
    expect(text).not.toMatch(/A\/AAAA|ipv6 output/);
    expect(text).toContain("no AAAA record");
  });

  it("documents the contract's password rule and generated length", () => {
    const documented = /\((\d+)-(\d+) characters: letters, digits and (\S+)\)/.exec(project.config.busPassword.description ?? "");
    expect(documented).not.toBeNull();
    const [, min, max, punctuation] = documented!;
    expect([Number(min), Number(max), `A-Za-z0-9${punctuation}`]).toEqual([HOST_PASSWORD_MIN, HOST_PASSWORD_MAX, HOST_PASSWORD_CHARS]);
    expect(project.config.busPassword.description).toContain(`${GENERATED_PASSWORD_LENGTH}-character alphanumeric`);
  });

  it("takes the shared defaults from the contract", () => {
    expect(project.config.busUser.default).toBe(DEFAULT_BUS_USER);
    expect(project.config.subdomain.default).toBe(DEFAULT_SUBDOMAIN);
    expect(project.config.rateLimit.default).toBe(DEFAULT_RATE_LIMIT.perSecond);
    expect(project.config.rateLimit.description).toContain(`burst ${DEFAULT_RATE_LIMIT.burst}`);
    expect(hostConfigOf(parseStackConfig(baseConfig())).rateLimit).toEqual(DEFAULT_RATE_LIMIT);
  });
});

describe("retention", () => {
  it("is off by default and reaches the host config when set", () => {
    expect(hostConfigOf(parseStackConfig(baseConfig())).retainDays).toBe(0);
    const host = hostConfigOf(parseStackConfig({ ...baseConfig(), retainDays: "30", archiveRemoved: "false" }));
    expect([host.retainDays, host.archiveRemoved]).toEqual([30, false]);
    expect(() => parseStackConfig({ ...baseConfig(), retainDays: "-1" })).toThrow(/retainDays: must be 0/);
  });
});

describe("the limits of files", () => {
  it("default to the contract's, leave the quota to the service, and reach the host config, which ages the drop dir alike", () => {
    const host = hostConfigOf(parseStackConfig(baseConfig()));
    expect([host.maxFileMiB, host.fileQuotaMiB, host.fileMaxAgeDays, host.sharedDir.maxAgeDays]).toEqual([
      DEFAULT_MAX_FILE_MIB,
      0,
      DEFAULT_FILE_MAX_AGE_DAYS,
      undefined,
    ]);
    const set = hostConfigOf(parseStackConfig({ ...baseConfig(), maxFileMiB: "500", fileQuotaMiB: "4096", fileMaxAgeDays: "30" }));
    expect([set.maxFileMiB, set.fileQuotaMiB, set.fileMaxAgeDays]).toEqual([500, 4096, 30]);
    expect(renderTmpfiles(set)).toContain(" 30d\n");
    expect(() => parseStackConfig({ ...baseConfig(), maxFileMiB: "0" })).toThrow(/maxFileMiB: must be at least 1/);
    expect(() => parseStackConfig({ ...baseConfig(), fileQuotaMiB: "-1" })).toThrow(/fileQuotaMiB: must be 0 \(50% of the data volume\) or more/);
    expect(() => parseStackConfig({ ...baseConfig(), fileMaxAgeDays: "1.5" })).toThrow(/fileMaxAgeDays: must be a whole number of days/);
  });
});

describe("each credential's own limits", () => {
  it("leave the host config to the service's defaults until set, then reach the unit's serve flags", () => {
    const host = hostConfigOf(parseStackConfig(baseConfig()));
    expect([host.uploaderMaxFiles, host.uploaderQuotaMiB, host.uploaderMaxPartials, host.maxLongPolls]).toEqual([
      DEFAULT_UPLOADER_MAX_FILES,
      0,
      DEFAULT_UPLOADER_MAX_PARTIALS,
      DEFAULT_MAX_LONG_POLLS,
    ]);
    expect(renderServiceUnit(host)).not.toMatch(/--uploader-|--max-long-polls/);
    const set = hostConfigOf(
      parseStackConfig({ ...baseConfig(), uploaderMaxFiles: "200", uploaderQuotaMiB: "512", uploaderMaxPartials: "5", maxLongPolls: "64" }),
    );
    expect(renderServiceUnit(set)).toMatch(/ --uploader-max-files 200 --uploader-quota-mib 512 --uploader-max-partials 5 --max-long-polls 64$/m);
    expect(() => parseStackConfig({ ...baseConfig(), uploaderMaxFiles: "0" })).toThrow(/uploaderMaxFiles: must be at least 1/);
    expect(() => parseStackConfig({ ...baseConfig(), uploaderQuotaMiB: "-1" })).toThrow(/uploaderQuotaMiB: must be 0 \(25% of the file quota\) or more/);
    expect(() => parseStackConfig({ ...baseConfig(), maxLongPolls: "1.5" })).toThrow(/maxLongPolls: must be a whole number of long-polls/);
  });
});

describe("the team credential's role", () => {
  it("is member by default and reaches the host config when set", () => {
    expect(hostConfigOf(parseStackConfig(baseConfig())).teamCredential).toBe("member");
    expect(hostConfigOf(parseStackConfig({ ...baseConfig(), teamCredential: "admin-only" })).teamCredential).toBe("admin-only");
    expect(() => parseStackConfig({ ...baseConfig(), teamCredential: "root" })).toThrow(/teamCredential: must be "member" or "admin-only"/);
  });
});

describe("the service's memory ceiling", () => {
  it.each([
    ["s-1vcpu-1gb", 512],
    ["s-1vcpu-512mb-10gb", 256],
    ["s-2vcpu-4gb", 2048],
    ["s-8vcpu-16gb-amd", 8192],
  ])("is half of what %s names", (size, mib) => {
    expect(serviceMemoryOf(size)).toEqual({ serviceMemoryMiB: mib });
    expect(hostConfigOf(parseStackConfig({ ...baseConfig(), size })).serviceMemoryMiB).toBe(mib);
  });

  it("is the host's default when the slug names no memory", () => {
    expect(serviceMemoryOf("c-2")).toEqual({});
    expect(hostConfigOf(parseStackConfig({ ...baseConfig(), size: "c-2" })).serviceMemoryMiB).toBe(DEFAULT_SERVICE_MEMORY_MIB);
  });
});

describe("parseStackConfig", () => {
  it("accepts a minimal config and maps it to provision's host config", () => {
    const cfg = parseStackConfig({ ...baseConfig(), subdomain: "bus", rateLimit: "7", clientSshKeys: '["ssh-ed25519 AAAAC3Nza c1"]' });
    const host = hostConfigOf(cfg);
    expect(host.fqdn).toBe("bus.example.com");
    expect(host.acmeEmail).toBe("ops@example.com");
    expect(host.rateLimit.perSecond).toBe(7);
    expect(host.clientSshKeys).toEqual(["ssh-ed25519 AAAAC3Nza c1"]);
    expect(cfg.sshAllowedCidrs).toEqual(["0.0.0.0/0", "::/0"]);
    expect(cfg.manageDns).toBe(false);
  });

  it("reads booleans, integers and lists the way `pulumi config set` stores them", () => {
    const cfg = parseStackConfig({
      ...baseConfig(),
      manageDns: "true",
      rateLimit: "50",
      sshAllowedCidrs: '["198.51.100.0/24","2001:db8::/48"]',
    });
    expect(cfg.manageDns).toBe(true);
    expect(cfg.rateLimit).toBe(50);
    expect(cfg.sshAllowedCidrs).toEqual(["198.51.100.0/24", "2001:db8::/48"]);
  });

  it("names the key when the domain is missing", () => {
    const { domain: _d, ...rest } = baseConfig();
    expect(errorOf(rest)).toMatch(/^\s*domain is required: pulumi config set domain/m);
  });

  it.each([["300.1.2.3/8"], ["10.0.0.0/33"], ["10.0.0.0"], ["2001:db8::/129"], ["example.com/24"]])("names the key and item for the bad CIDR %s", (cidr) => {
    const message = errorOf({ ...baseConfig(), sshAllowedCidrs: JSON.stringify(["198.51.100.0/24", cidr]) });
    expect(message).toMatch(/sshAllowedCidrs\[1\]: must be a CIDR/);
    expect(message).not.toMatch(/sshAllowedCidrs\[0\]/);
  });

  it("rejects a CIDR list that is not a list", () => {
    expect(errorOf({ ...baseConfig(), sshAllowedCidrs: "10.0.0.0/8" })).toMatch(/sshAllowedCidrs: must be a list/);
    expect(errorOf({ ...baseConfig(), sshAllowedCidrs: "[]" })).toMatch(/sshAllowedCidrs: must list at least one CIDR/);
  });

  it.each([["small"], ["1GB"], ["S-1VCPU-1GB"], ["s_1vcpu_1gb"], ["s-1vcpu-1gb "]])("names the key for the bad size slug %j", (size) => {
    expect(errorOf({ ...baseConfig(), size })).toMatch(/^\s*size: must be a DigitalOcean size slug/m);
  });

  it.each([["s-1vcpu-512mb-10gb"], ["s-2vcpu-2gb-amd"], ["c-2"]])("accepts the size slug %s", (size) => {
    expect(parseStackConfig({ ...baseConfig(), size }).size).toBe(size);
  });

  it("names every bad key at once", () => {
    const message = errorOf({ ...baseConfig(), region: "New York", manageDns: "yes", acmeEmail: "nope", rateLimit: "fast" });
    for (const key of ["region", "manageDns", "acmeEmail", "rateLimit"]) expect(message).toMatch(new RegExp(`^\\s*${key}: `, "m"));
  });

  it("wants sshKeyFingerprint or sshPublicKey, and authorizes root's keys only from public keys", () => {
    const { sshPublicKey: _k, ...neither } = baseConfig();
    expect(errorOf(neither)).toMatch(/sshKeyFingerprint: set sshKeyFingerprint .* or sshPublicKey/);
    expect(parseStackConfig({ ...neither, sshKeyFingerprint: "12345678" }).sshKeyFingerprint).toBe("12345678");
    // Both: the fingerprint names the registered key, the public key is what root's authorized_keys holds.
    const both = parseStackConfig({ ...baseConfig(), sshKeyFingerprint: "12345678" });
    expect(hostConfigOf(both).rootSshKeys).toEqual([baseConfig().sshPublicKey]);
    expect(hostConfigOf(parseStackConfig({ ...neither, sshKeyFingerprint: "12345678" })).rootSshKeys).toEqual([]);
    // A rotation: the new key beside the current one; never the new key alone, which would lock Pulumi out.
    const next = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINewKey new";
    expect(hostConfigOf(parseStackConfig({ ...baseConfig(), sshNewPublicKey: next })).rootSshKeys).toEqual([baseConfig().sshPublicKey, next]);
    expect(errorOf({ ...neither, sshKeyFingerprint: "12345678", sshNewPublicKey: next })).toMatch(/^\s*sshNewPublicKey: needs sshPublicKey/m);
    expect(errorOf({ ...neither, sshKeyFingerprint: "not-a-fingerprint" })).toMatch(/sshKeyFingerprint: must be an MD5 fingerprint/);
  });

  it("names the key for a subdomain that is not one DNS label", () => {
    expect(errorOf({ ...baseConfig(), subdomain: "bus.team" })).toMatch(/^\s*subdomain: must be one DNS label/m);
    expect(errorOf({ ...baseConfig(), subdomain: "-bus" })).toMatch(/^\s*subdomain: /m);
  });

  it("rejects unknown keys (typos) by name", () => {
    expect(errorOf({ ...baseConfig(), domian: "example.org" } as RawStackConfig)).toMatch(/^\s*domian: unknown key$/m);
  });

  it("checks busUser with the contract's rule, naming the key", () => {
    expect(errorOf({ ...baseConfig(), busUser: "bad user!" })).toMatch(/^\s*busUser: must not contain ':' or whitespace/m);
    expect(errorOf({ ...baseConfig(), busUser: "agent:1" })).toMatch(/^\s*busUser: /m);
  });

  it("passes host-config errors on, naming the key", () => {
    // Every label is valid, but the name is longer than DNS allows: only the host config checks that.
    const tooLong = `${`${"a".repeat(60)}.`.repeat(5)}com`;
    expect(() => hostConfigOf(parseStackConfig({ ...baseConfig(), domain: tooLong }))).toThrow(/stack config.*domain/);
  });

  it("never echoes a secret in an error, and returns secrets only as Pulumi secrets", async () => {
    const badPassword = "hunter2 has a space and a quote'";
    const message = errorOf({ ...baseConfig(), busPassword: badPassword });
    expect(message).toMatch(/busPassword: must be 28-128 characters from/);
    expect(message).toContain(`busPassword: ${HOST_PASSWORD_RULE}`);
    expect(message).not.toContain("hunter2");

    const badKey = "ssh-rsa AAAA this is a public key pasted by mistake";
    const keyMessage = errorOf({ ...baseConfig(), sshPrivateKey: badKey });
    expect(keyMessage).toMatch(/sshPrivateKey: must be a PEM\/OpenSSH private key/);
    expect(keyMessage).not.toContain("pasted by mistake");

    const cfg = parseStackConfig({ ...baseConfig(), busPassword: "Abcdefghij0123456789XYZabcde" });
    expect(pulumi.Output.isInstance(cfg.sshPrivateKey)).toBe(true);
    expect(await resolve(cfg.sshPrivateKey)).toEqual({ value: FAKE_PRIVATE_KEY, secret: true });
    expect(await resolve(cfg.busPassword!)).toEqual({ value: "Abcdefghij0123456789XYZabcde", secret: true });
  });
});

describe("readStackConfig", () => {
  const asStack = (config: Record<string, string>, secretKeys: string[]) =>
    pulumi.runtime.setAllConfig(
      Object.fromEntries(Object.entries(config).map(([k, v]) => [`claude-bus:${k}`, v])),
      secretKeys.map((k) => `claude-bus:${k}`),
    );

  it("reads the running stack's config", () => {
    asStack({ ...baseConfig(), subdomain: "agents", manageDns: "true" }, ["sshPrivateKey"]);
    const cfg = readStackConfig();
    expect(cfg).toMatchObject({ domain: "example.com", subdomain: "agents", manageDns: true });
  });

  it("refuses a password or private key stored in plain text, without echoing it", () => {
    asStack({ ...baseConfig(), busPassword: "PlainTextPassword1234567890AB" }, ["sshPrivateKey"]);
    expect(() => readStackConfig()).toThrow(/busPassword: is stored in plain text .* pulumi config set --secret busPassword/);
    expect(() => readStackConfig()).not.toThrow(/PlainTextPassword123/);
    asStack({ ...baseConfig(), busPassword: "PlainTextPassword1234567890AB" }, ["sshPrivateKey", "busPassword"]);
    expect(() => readStackConfig()).not.toThrow();
    asStack(baseConfig(), []);
    expect(() => readStackConfig()).toThrow(/sshPrivateKey: is stored in plain text/);
    // Pulumi.yaml's default for the optional password is "", which is no secret.
    asStack({ ...baseConfig(), busPassword: "" }, ["sshPrivateKey"]);
    expect(readStackConfig().busPassword).toBeUndefined();
  });
});
