/**
 * The Pulumi program under Pulumi's mock engine: the Bus component and what each of its builders
 * registers (network, DNS, project, password, host steps), checked on what the engine would receive.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GENERATED_PASSWORD_LENGTH } from "../../contract/defaults";
import { HOST_PASSWORD_MIN, HostPassword } from "../../contract/password";
import { hostConfigOf as hostConfigFor, parseStackConfig } from "../../infra/config";
import { USER_DATA } from "../../infra/network";
import { credentialsEnv } from "../../provision/credentials";
import { BUNDLE_UPLOAD_PATH, hostSteps, releaseScript } from "../../provision/steps";
import {
  baseConfig,
  FAKE_DROPLET_ID,
  FAKE_FINGERPRINT,
  FAKE_IPV4,
  FAKE_IPV6,
  FAKE_PRIVATE_KEY,
  FAKE_PUBLIC_KEY,
  isSecretValue,
  plainStrings,
  randomPassword,
  randomPasswordCharacters,
  type Registered,
  runStack,
  secretPaths,
  type StackRun,
  TEST_VOLUME_DEVICE,
  unwrapSecrets,
  fingerprintOf,
  FAKE_HOST_KEY,
} from "./harness";

/** The host config the program makes for the test stack (its volume device included). */
const hostConfigOf = (cfg: Parameters<typeof hostConfigFor>[0]) => hostConfigFor(cfg, TEST_VOLUME_DEVICE);

const FIXED_PASSWORD = "Fixed0Password0For0Tests0123";

const bundleDir = mkdtempSync(join(tmpdir(), "claude-bus-infra-test-"));
afterAll(() => rmSync(bundleDir, { recursive: true, force: true }));

/** The four stacks every test below reads; each is one full program run. */
const configs = {
  /** Defaults: public key registered, no DNS management, generated password. */
  basic: baseConfig(),
  /** Everything set: managed DNS, existing key, narrowed SSH, fixed password. */
  custom: (() => {
    const { sshPublicKey: _k, ...rest } = baseConfig();
    return {
      ...rest,
      region: "fra1",
      size: "s-1vcpu-512mb-10gb",
      image: "debian-12-x64",
      subdomain: "bus",
      alertEmail: "alerts@example.com",
      allowDataDestroy: "true",
      manageDns: "true",
      sshKeyFingerprint: FAKE_FINGERPRINT,
      sshAllowedCidrs: JSON.stringify(["198.51.100.0/24", "2001:db8:1::/48"]),
      busUser: "agent",
      busPassword: FIXED_PASSWORD,
    };
  })(),
  /** Only the nginx rate limit differs from `basic`. */
  rateLimit: { ...baseConfig(), rateLimit: "55" },
  /** Only the rotation marker differs from `basic`. */
  rotated: { ...baseConfig(), rotation: "2026-06-01" },
};
type Name = keyof typeof configs;
const runs = {} as Record<Name, StackRun>;
let basicAgain: StackRun;

beforeAll(async () => {
  for (const name of Object.keys(configs) as Name[]) runs[name] = await runStack(configs[name], bundleDir);
  basicAgain = await runStack(configs.basic, bundleDir);
}, 120_000);

const short = (urn: string) => urn.split("::").pop();
const commandsOf = (run: StackRun) => run.resources.filter((r) => r.type.startsWith("command:remote:"));
/** The provision steps' commands: not the first contact, nor the release (a delete only). */
const stepsOf = (run: StackRun) =>
  run.resources.filter((r) => r.type === "command:remote:Command" && !["claude-bus-wait-ssh", "claude-bus-release"].includes(r.name));
/** The droplet's own address (the mock provider's): every command connects there, not to the reserved IP. */
const DROPLET_IPV4 = "198.51.100.7";
/** The steps that need the data volume: the volume step and every one after it. */
const onVolume = (run: StackRun) => stepsOf(run).slice(stepsOf(run).findIndex((r) => r.name === "claude-bus-volume"));
const triggersOf = (run: StackRun) => Object.fromEntries(stepsOf(run).map((r) => [r.name, r.inputs.triggers]));
const hostOf = (config: Record<string, string>) => hostConfigOf(parseStackConfig(config));
/** provision's steps for this config, as the program builds them: the certificate step knows the reserved IP. */
function expectedSteps(config: Record<string, string>) {
  const sha256 = createHash("sha256")
    .update(readFileSync(join(bundleDir, "claude-bus.js")))
    .digest("hex");
  return hostSteps({ ...hostOf(config), publicIpv4: FAKE_IPV4 }, { sha256 });
}

describe("Bus", () => {
  it("registers the Bus component and exactly its children, all parented to it", () => {
    const run = runs.basic;
    const bus = run.get("claude-bus");
    expect(bus.type).toBe("claude-bus:index:Bus");
    expect(run.resources.filter((r) => !r.parent)).toEqual([bus]);
    const children = run.resources.filter((r) => r !== bus);
    for (const r of children) expect([r.name, r.parent]).toEqual([r.name, bus.urn]);
    for (const r of children) expect(r.name.startsWith("claude-bus-")).toBe(true);
    const stepNames = expectedSteps(configs.basic).map((s) => `claude-bus-${s.name}`);
    expect(children.map((r) => `${r.type} ${r.name}`).sort()).toEqual(
      [
        "digitalocean:index/sshKey:SshKey claude-bus-ssh-key",
        "digitalocean:index/droplet:Droplet claude-bus-droplet",
        "digitalocean:index/reservedIp:ReservedIp claude-bus-ip",
        "digitalocean:index/reservedIpAssignment:ReservedIpAssignment claude-bus-ip-assignment",
        "digitalocean:index/firewall:Firewall claude-bus-firewall",
        "digitalocean:index/tag:Tag claude-bus-tag",
        "digitalocean:index/project:Project claude-bus-project",
        "digitalocean:index/volume:Volume claude-bus-data",
        "digitalocean:index/volumeAttachment:VolumeAttachment claude-bus-data-attachment",
        "digitalocean:index/uptimeCheck:UptimeCheck claude-bus-uptime",
        "digitalocean:index/uptimeAlert:UptimeAlert claude-bus-uptime-down",
        "digitalocean:index/uptimeAlert:UptimeAlert claude-bus-uptime-latency",
        "digitalocean:index/uptimeAlert:UptimeAlert claude-bus-uptime-tls",
        "digitalocean:index/monitorAlert:MonitorAlert claude-bus-alert-disk",
        "digitalocean:index/monitorAlert:MonitorAlert claude-bus-alert-memory",
        "random:index/randomPassword:RandomPassword claude-bus-password",
        "command:remote:Command claude-bus-wait-ssh",
        "command:remote:CopyToRemote claude-bus-bundle-upload",
        "command:remote:Command claude-bus-release",
        ...stepNames.map((n) => `command:remote:Command ${n}`),
      ].sort(),
    );
  });
});

describe("network", () => {
  it("builds the droplet from config with stable user data, a resize that keeps its disk, and ignores user-data and key drift", () => {
    const basic = runs.basic.get("claude-bus-droplet");
    expect(basic.inputs).toMatchObject({
      name: "claude-bus.example.com",
      region: "nyc3",
      size: "s-1vcpu-1gb",
      image: "debian-13-x64",
      ipv6: true,
      resizeDisk: false,
      sshKeys: [fingerprintOf(FAKE_PUBLIC_KEY)], // the registered key's fingerprint
      userData: USER_DATA,
    });
    expect(basic.ignoreChanges).toEqual(["userData", "sshKeys"]);
    const custom = runs.custom.get("claude-bus-droplet");
    expect(custom.inputs).toMatchObject({ name: "bus.example.com", region: "fra1", size: "s-1vcpu-512mb-10gb", sshKeys: [FAKE_FINGERPRINT] });
  });

  it("registers a public key only when one is given", () => {
    expect(runs.basic.get("claude-bus-ssh-key").inputs).toMatchObject({ publicKey: FAKE_PUBLIC_KEY });
    expect(runs.custom.resources.some((r) => r.type === "digitalocean:index/sshKey:SshKey")).toBe(false);
  });

  it("reserves an IP in the droplet's region and assigns it to the droplet", () => {
    expect(runs.custom.get("claude-bus-ip").inputs).toEqual({ region: "fra1" });
    const assignment = runs.basic.get("claude-bus-ip-assignment");
    expect(assignment.inputs).toEqual({ ipAddress: FAKE_IPV4, dropletId: 424242 });
    expect(assignment.dependencies.map(short).sort()).toEqual(["claude-bus-droplet", "claude-bus-ip"]);
  });

  it("binds the firewall to the stack's tag, which the droplet carries from creation, and makes it before the droplet", () => {
    const run = runs.basic;
    expect(run.get("claude-bus-tag").inputs).toEqual({ name: "claude-bus-test" });
    const fw = run.get("claude-bus-firewall");
    expect(fw.inputs.tags).toEqual(["claude-bus-test"]);
    expect(fw.inputs).not.toHaveProperty("dropletIds");
    expect(fw.dependencies.map(short)).toContain("claude-bus-tag");
    const droplet = run.get("claude-bus-droplet");
    expect(droplet.inputs.tags).toEqual(["claude-bus", "claude-bus-test"]);
    expect(droplet.dependencies.map(short)).toEqual(expect.arrayContaining(["claude-bus-firewall", "claude-bus-tag"]));
  });

  it("asks the droplet to shut down gracefully before it is deleted or powered off", () => {
    expect(runs.basic.get("claude-bus-droplet").inputs.gracefulShutdown).toBe(true);
  });

  it("protects the reserved IPv4, whatever allowDataDestroy says", () => {
    expect(runs.basic.get("claude-bus-ip").protect).toBe(true);
    expect(runs.custom.get("claude-bus-ip").protect).toBe(true);
  });

  it("opens 22 to the allowed CIDRs, 80/443 to everyone and all outbound", () => {
    const fw = runs.custom.get("claude-bus-firewall");
    const everywhere = ["0.0.0.0/0", "::/0"];
    expect(fw.inputs.inboundRules).toEqual([
      { protocol: "tcp", portRange: "22", sourceAddresses: ["198.51.100.0/24", "2001:db8:1::/48"] },
      { protocol: "tcp", portRange: "80", sourceAddresses: everywhere },
      { protocol: "tcp", portRange: "443", sourceAddresses: everywhere },
    ]);
    expect(fw.inputs.outboundRules).toEqual([
      { protocol: "tcp", portRange: "1-65535", destinationAddresses: everywhere },
      { protocol: "udp", portRange: "1-65535", destinationAddresses: everywhere },
      { protocol: "icmp", destinationAddresses: everywhere },
    ]);
  });

  it("defaults SSH to everywhere when no CIDRs are configured", () => {
    const rules = runs.basic.get("claude-bus-firewall").inputs.inboundRules as { portRange: string; sourceAddresses: string[] }[];
    expect(rules.find((r) => r.portRange === "22")?.sourceAddresses).toEqual(["0.0.0.0/0", "::/0"]);
  });
});

describe("data volume", () => {
  it("is an ext4 volume in the droplet's region, named by the stack alone, protected unless allowDataDestroy", () => {
    const volume = runs.basic.get("claude-bus-data");
    expect(volume.inputs).toEqual({
      name: "claude-bus-test",
      region: "nyc3",
      size: 5,
      initialFilesystemType: "ext4",
      initialFilesystemLabel: "claude-bus",
      description: "claude-bus data: messages and the drop dir",
    });
    expect(volume.protect).toBe(true);
    expect(runs.custom.get("claude-bus-data").protect).toBe(false);
    expect(runs.custom.get("claude-bus-data").inputs).toMatchObject({ name: "claude-bus-test", region: "fra1" });
  });

  it("is attached to the droplet, the old attachment deleted before a new one is made", () => {
    const attachment = runs.basic.get("claude-bus-data-attachment");
    expect(attachment.inputs).toEqual({ dropletId: 424242, volumeId: "claude-bus-data-id" });
    expect(attachment.deleteBeforeReplace).toBe(true);
  });

  it("is the device the host's volume step mounts", () => {
    expect(hostOf(configs.basic).volume).toEqual({ device: TEST_VOLUME_DEVICE });
    expect(TEST_VOLUME_DEVICE).toBe("/dev/disk/by-id/scsi-0DO_Volume_claude-bus-test");
    expect(runs.basic.get("claude-bus-volume").inputs.create).toContain(`readonly VOLUME_DEVICE='${TEST_VOLUME_DEVICE}'`);
  });
});

describe("monitoring", () => {
  it("checks the service's own /live route, once the bus is healthy and the name reaches it, and alerts on down, latency and certificate expiry", () => {
    const check = runs.basic.get("claude-bus-uptime");
    expect(check.inputs).toMatchObject({ target: "https://claude-bus.example.com/live", type: "https", enabled: true });
    expect(check.dependencies.map(short)).toEqual(expect.arrayContaining(["claude-bus-health", "claude-bus-ip-assignment"]));
    const alerts = runs.basic.resources.filter((r) => r.type === "digitalocean:index/uptimeAlert:UptimeAlert");
    expect(alerts.map((a) => [a.inputs.type, a.inputs.checkId, a.inputs.notifications])).toEqual(
      ["down", "latency", "ssl_expiry"].map((type) => [type, "claude-bus-uptime-id", [{ emails: ["ops@example.com"] }]]),
    );
    expect(runs.custom.get("claude-bus-uptime-tls").inputs).toMatchObject({
      threshold: 14,
      comparison: "less_than",
      notifications: [{ emails: ["alerts@example.com"] }],
    });
  });

  it("alerts on the droplet's disk and memory", () => {
    const alerts = runs.basic.resources.filter((r) => r.type === "digitalocean:index/monitorAlert:MonitorAlert");
    expect(alerts.map((a) => [a.inputs.type, a.inputs.entities, a.inputs.alerts, a.inputs.compare])).toEqual([
      ["v1/insights/droplet/disk_utilization_percent", [FAKE_DROPLET_ID], { emails: ["ops@example.com"] }, "GreaterThan"],
      ["v1/insights/droplet/memory_utilization_percent", [FAKE_DROPLET_ID], { emails: ["ops@example.com"] }, "GreaterThan"],
    ]);
    expect(runs.basic.get("claude-bus-droplet").inputs.monitoring).toBe(true); // the metrics agent those alerts read
  });
});

describe("DNS", () => {
  it("creates only an A record, to the reserved IPv4, when manageDns is on: the droplet's own IPv6 changes with it", () => {
    const records = runs.custom.resources.filter((r) => r.type === "digitalocean:index/dnsRecord:DnsRecord");
    expect(records.map((r) => r.inputs)).toEqual([{ domain: "example.com", name: "bus", type: "A", value: FAKE_IPV4, ttl: 300 }]);
    expect(JSON.stringify(runs.custom.resources.map((r) => r.inputs))).not.toContain(FAKE_IPV6);
  });

  it("creates no DNS resources (and never a zone) when manageDns is off", () => {
    expect(runs.basic.resources.filter((r) => r.type.startsWith("digitalocean:index/dns") || r.type.startsWith("digitalocean:index/domain"))).toEqual([]);
    expect(runs.custom.resources.some((r) => r.type === "digitalocean:index/domain:Domain")).toBe(false);
  });

  it("orders the certificate step after the DNS record", () => {
    const deps = runs.custom.get("claude-bus-certificate").dependencies.map(short);
    expect(deps).toEqual(expect.arrayContaining(["claude-bus-dns-a"]));
    expect(runs.basic.get("claude-bus-certificate").dependencies.map(short)).not.toContain("claude-bus-dns-a");
  });
});

describe("project", () => {
  it("puts the droplet and the data volume, not the reserved IP, in a DigitalOcean project named after the bus", () => {
    expect(runs.custom.get("claude-bus-project").inputs).toMatchObject({
      name: "bus.example.com",
      resources: [`do:droplet:${FAKE_DROPLET_ID}`, "do:volume:claude-bus-data-id"],
    });
  });
});

describe("password", () => {
  it("uses a configured password as is, and generates 28 letters and digits otherwise", () => {
    expect(runs.custom.outputs.busPassword).toEqual({ value: FIXED_PASSWORD, secret: true });
    expect(runs.custom.resources.some((r) => r.type.startsWith("random:"))).toBe(false);
    const generator = runs.basic.get("claude-bus-password");
    expect(GENERATED_PASSWORD_LENGTH).toBe(28);
    expect(generator.inputs).toMatchObject({ length: 28, special: false, keepers: { rotation: "initial" } });
    expect(runs.basic.outputs.busPassword.value).toMatch(/^[A-Za-z0-9]{28}$/);
  });

  it("asks the generator only for passwords the contract's HostPassword accepts, of the contract's length", () => {
    const inputs = runs.basic.get("claude-bus-password").inputs;
    const characters = randomPasswordCharacters(inputs);
    expect(characters).toMatch(/^[A-Za-z0-9]+$/);
    for (const c of characters) expect([c, HostPassword.safeParse(c.repeat(HOST_PASSWORD_MIN)).success]).toEqual([c, true]);
    for (let seed = 0; seed < 200; seed++) {
      const password = randomPassword(inputs, String(seed));
      expect([seed, password.length, HostPassword.safeParse(password).success]).toEqual([seed, GENERATED_PASSWORD_LENGTH, true]);
    }
  });
});

describe("secrets", () => {
  it("keeps the droplet's user data free of secrets", () => {
    for (const name of ["basic", "custom"] as Name[]) {
      const userData = runs[name].get("claude-bus-droplet").inputs.userData as string;
      const password = runs[name].outputs.busPassword.value as string;
      expect(userData).toBe(USER_DATA);
      expect(userData).not.toContain(password);
      expect(userData).not.toMatch(/PRIVATE KEY|BUS_PASS|password/i);
    }
  });

  it("never sends the password or the private key to the engine in plain text", () => {
    for (const name of Object.keys(configs) as Name[]) {
      const password = runs[name].outputs.busPassword.value as string;
      expect(password.length).toBeGreaterThanOrEqual(12);
      for (const r of runs[name].resources) {
        for (const s of plainStrings(r.inputs)) {
          expect([r.name, s.includes(password)]).toEqual([r.name, false]);
          expect([r.name, s.includes("BEGIN OPENSSH PRIVATE KEY")]).toEqual([r.name, false]);
        }
      }
    }
  });

  it("marks busPassword and clientEnv secret, and only those outputs", () => {
    for (const name of Object.keys(configs) as Name[]) {
      const secretOutputs = Object.entries(runs[name].outputs)
        .filter(([, o]) => o.secret)
        .map(([k]) => k)
        .sort();
      expect([name, secretOutputs]).toEqual([name, ["busPassword", "clientEnv"]]);
    }
  });

  it("gives every command its SSH key as a secret and the credentials env only as secret stdin", () => {
    for (const r of commandsOf(runs.basic)) {
      expect([r.name, isSecretValue(r.inputs.connection)]).toEqual([r.name, true]);
      expect(unwrapSecrets(r.inputs.connection)).toMatchObject({ host: DROPLET_IPV4, user: "root", privateKey: FAKE_PRIVATE_KEY });
    }
    // The first contact learns the host key; every later command is pinned to it (on a first deploy the volume
    // step keeps the key the droplet booted with; lifecycle.test.ts follows a replacement's key).
    expect(unwrapSecrets(runs.basic.get("claude-bus-wait-ssh").inputs.connection)).not.toHaveProperty("hostKey");
    for (const r of commandsOf(runs.basic)) {
      if (r.name === "claude-bus-wait-ssh") continue;
      expect([r.name, (unwrapSecrets(r.inputs.connection) as { hostKey: string }).hostKey]).toEqual([r.name, FAKE_HOST_KEY]);
    }
    const byName = new Map(expectedSteps(configs.basic).map((s) => [`claude-bus-${s.name}`, s]));
    const credentials = credentialsEnv(hostOf(configs.basic), runs.basic.outputs.busPassword.value as string);
    expect(runs.basic.outputs.clientEnv.value).toBe(credentials);
    for (const r of stepsOf(runs.basic)) {
      const step = byName.get(r.name)!;
      if (step.stdin === "credentials") {
        expect([r.name, isSecretValue(r.inputs.stdin), unwrapSecrets(r.inputs.stdin)]).toEqual([r.name, true, credentials]);
        expect([r.name, r.inputs.logging]).toEqual([r.name, "none"]);
        expect([r.name, r.additionalSecretOutputs]).toEqual([r.name, expect.arrayContaining(["stdout", "stderr"])]);
      } else {
        expect([r.name, "stdin" in r.inputs, r.inputs.logging]).toEqual([r.name, false, undefined]);
        expect([r.name, r.additionalSecretOutputs]).toEqual([r.name, expect.not.arrayContaining(["stdout"])]);
        expect([r.name, secretPaths(r.inputs)]).toEqual([r.name, ["connection"]]);
      }
    }
    expect([...byName.values()].filter((s) => s.stdin === "credentials").length).toBeGreaterThan(0);
  });

  it("writes clientEnv as the exact ~/.secrets/claude-bus.env text", () => {
    expect(runs.custom.outputs.clientEnv).toEqual({
      value: `BUS_USER=agent\nBUS_PASS=${FIXED_PASSWORD}\nBUS_URL=https://bus.example.com\n`,
      secret: true,
    });
    const generated = runs.basic.outputs.busPassword.value;
    expect(runs.basic.outputs.clientEnv.value).toBe(`BUS_USER=claude\nBUS_PASS=${generated}\nBUS_URL=https://claude-bus.example.com\n`);
  });

  it("exports the public outputs in plain text", () => {
    const plain = Object.fromEntries(Object.entries(runs.custom.outputs).filter(([k]) => !["busPassword", "clientEnv"].includes(k)));
    expect(plain).toEqual({
      busUrl: { value: "https://bus.example.com", secret: false },
      fqdn: { value: "bus.example.com", secret: false },
      ipv4: { value: FAKE_IPV4, secret: false },
      busUser: { value: "agent", secret: false },
    });
  });
});

describe("host steps: ordering", () => {
  it("runs wait -> copy -> every provision step in provision's order, each after the previous", () => {
    const run = runs.custom;
    const chain = ["claude-bus-wait-ssh", "claude-bus-bundle-upload", ...expectedSteps(configs.custom).map((s) => `claude-bus-${s.name}`)];
    // Registration order follows construction order...
    expect(
      commandsOf(run)
        .map((r) => r.name)
        .filter((n) => n !== "claude-bus-release"),
    ).toEqual(chain);
    // ...but only dependencies order execution: each link must depend on the one before it.
    expect(run.get("claude-bus-wait-ssh").dependencies.map(short)).toContain("claude-bus-droplet");
    for (let i = 1; i < chain.length; i++) {
      expect([chain[i], run.get(chain[i]).dependencies.map(short)]).toEqual([chain[i], expect.arrayContaining([chain[i - 1]])]);
    }
  });

  it("connects to the droplet's own address, so the steps run while the reserved IP still points elsewhere", () => {
    for (const r of commandsOf(runs.basic)) expect([r.name, (unwrapSecrets(r.inputs.connection) as { host: string }).host]).toEqual([r.name, DROPLET_IPV4]);
    expect(FAKE_IPV4).not.toBe(DROPLET_IPV4);
  });

  it("deletes host commands with the droplet, and has the droplet's id in every command's triggers", () => {
    const droplet = runs.basic.get("claude-bus-droplet").urn;
    for (const r of commandsOf(runs.basic).filter((c) => c.name !== "claude-bus-release")) {
      expect([r.name, r.deletedWith, (r.inputs.triggers as unknown[])[0]]).toEqual([r.name, droplet, FAKE_DROPLET_ID]);
    }
  });

  it("moves the volume only once the steps that need none are done, and runs the volume step and every later one only once it is attached", () => {
    const run = runs.basic;
    expect(run.get("claude-bus-data-attachment").dependencies.map(short)).toContain("claude-bus-updates");
    expect(run.get("claude-bus-volume").dependencies.map(short)).toEqual(expect.arrayContaining(["claude-bus-updates", "claude-bus-data-attachment"]));
    const before = stepsOf(run).slice(
      0,
      stepsOf(run).findIndex((r) => r.name === "claude-bus-volume"),
    );
    expect(before.map((r) => r.name)).toEqual(["claude-bus-cloud-init", "claude-bus-ssh-keys", "claude-bus-packages", "claude-bus-updates"]);
  });

  it("releases the volume on the droplet (the bus stopped, the volume unmounted) as the delete of a command that depends on the attachment", () => {
    const release = runs.basic.get("claude-bus-release");
    const cfg = hostConfigOf(parseStackConfig(configs.basic));
    expect(release.inputs.delete).toBe(releaseScript(cfg));
    expect(release.inputs.delete).toContain(`readonly VOLUME_DEVICE='${TEST_VOLUME_DEVICE}'`);
    expect(release.inputs).not.toHaveProperty("create");
    expect(release.dependencies.map(short)).toContain("claude-bus-data-attachment");
    // Its trigger comes from the attachment (the engine deletes it before a replaced attachment), and is the
    // droplet's id (an attachment re-made on the same droplet releases nothing).
    expect(release.inputs.triggers).toEqual([424242]);
    expect(release.propertyDependencies.triggers.map(short)).toEqual(["claude-bus-data-attachment"]);
    // Deleted with the droplet, its delete would be skipped in a replacement, which deletes the old droplet.
    expect(release.deletedWith).toBe("");
    expect(unwrapSecrets(release.inputs.connection)).toMatchObject({ host: DROPLET_IPV4, hostKey: FAKE_HOST_KEY, dialErrorLimit: 5 });
  });

  it("moves the reserved IP at once on a first deploy (its certificate needs the name to reach the droplet)", () => {
    const run = runs.custom;
    expect(run.get("claude-bus-ip-assignment").dependencies.map(short).sort()).toEqual(["claude-bus-droplet", "claude-bus-ip"]);
    expect(run.get("claude-bus-certificate").dependencies.map(short)).toEqual(expect.arrayContaining(["claude-bus-ip-assignment", "claude-bus-dns-a"]));
  });

  it("uploads the bundle to provision's upload path, triggered by its sha256", () => {
    const upload = runs.basic.get("claude-bus-bundle-upload");
    const path = (upload.inputs.source as { filePath: string }).filePath;
    expect(path).toBe(join(bundleDir, "claude-bus.js"));
    const sha256 = createHash("sha256").update(readFileSync(path)).digest("hex");
    expect(upload.inputs.remotePath).toBe(BUNDLE_UPLOAD_PATH);
    expect(upload.inputs.triggers).toEqual([FAKE_DROPLET_ID, sha256]);
  });
});

describe("host steps: triggers", () => {
  it("gives each step exactly its provision hash as trigger, and the attachment's id from the volume step on, and its script as command", () => {
    const expected = expectedSteps(configs.basic);
    const attached = new Set(onVolume(runs.basic).map((r) => r.name));
    expect(attached.has("claude-bus-volume")).toBe(true);
    for (const step of expected) {
      const r: Registered = runs.basic.get(`claude-bus-${step.name}`);
      const triggers = attached.has(r.name) ? [FAKE_DROPLET_ID, "claude-bus-data-attachment-id", step.hash] : [FAKE_DROPLET_ID, step.hash];
      expect([step.name, r.inputs.triggers, r.inputs.create]).toEqual([step.name, triggers, step.script]);
    }
  });

  it("yields identical triggers for the same config twice (a no-op `pulumi up`)", () => {
    expect(triggersOf(basicAgain)).toEqual(triggersOf(runs.basic));
    const inputs = (run: StackRun) => run.resources.map((r) => [r.name, unwrapSecrets(r.inputs)]);
    expect(inputs(basicAgain)).toEqual(inputs(runs.basic));
  });

  it("changes only the nginx step's trigger, and the health check's, when only the rate limit changes", () => {
    const before = triggersOf(runs.basic);
    const after = triggersOf(runs.rateLimit);
    const changed = Object.keys(before).filter((name) => JSON.stringify(before[name]) !== JSON.stringify(after[name]));
    expect(changed).toEqual(["claude-bus-nginx", "claude-bus-health"]);
    expect(runs.rateLimit.get("claude-bus-nginx").inputs.create).toContain("55r/s");
  });

  it("rotates the generated password when the rotation marker changes, re-running only password steps", () => {
    const before = runs.basic;
    const after = runs.rotated;
    expect(after.get("claude-bus-password").inputs).toMatchObject({ keepers: { rotation: "2026-06-01" } });
    expect(after.outputs.busPassword.value).not.toEqual(before.outputs.busPassword.value);
    expect(basicAgain.outputs.busPassword.value).toEqual(before.outputs.busPassword.value);
    expect(triggersOf(after)).toEqual(triggersOf(before));
    // A command re-runs when its inputs change: here only the ones fed the password on stdin.
    const changedInputs = stepsOf(before)
      .filter((r) => JSON.stringify(unwrapSecrets(r.inputs)) !== JSON.stringify(unwrapSecrets(after.get(r.name).inputs)))
      .map((r) => r.name);
    const passwordSteps = expectedSteps(configs.basic)
      .filter((s) => s.stdin === "credentials")
      .map((s) => `claude-bus-${s.name}`);
    expect(changedInputs).toEqual(passwordSteps);
  });
});
