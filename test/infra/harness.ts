/**
 * Runs the real Pulumi program (infra/index.ts) against Pulumi's mock engine and records every
 * resource registration as the engine would see it: type, name, parent, inputs (with secret
 * markers intact), dependsOn, deletedWith, ignoreChanges, protect, deleteBeforeReplace,
 * additionalSecretOutputs.
 *
 * Given the state a previous run left, it also plans like the engine: each resource is the same,
 * updated, replaced, created or deleted (engine.ts), and the mock providers answer as the real ones do:
 * new ids only for a new or replaced resource, and the values the API reads back (not always the ones
 * sent). Only the engine and the providers (DigitalOcean, random, command) are simulated; the program,
 * config parsing and the provision step list are the real ones.
 */
import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import * as rpc from "@pulumi/pulumi/runtime/rpc";
import * as settings from "@pulumi/pulumi/runtime/settings";
import { readStackConfig, SECRET_CONFIG_KEYS } from "../../infra/config";
import { claudeBusStack } from "../../infra/program";
import { volumeDevice, volumeNameOf } from "../../infra/volume";
import { executionOrder, type Op, plan, planDeletes, type StackState, type StateEntry } from "./engine";

export interface Registered {
  type: string;
  name: string;
  urn: string;
  parent: string;
  /**
   * Inputs as sent to the engine; secret values are `{ [specialSigKey]: specialSecretSig, value }`,
   * file assets `{ filePath }`.
   */
  inputs: Record<string, unknown>;
  dependencies: string[];
  /** Per input property, the URNs of the resources its value comes from. */
  propertyDependencies: Record<string, string[]>;
  deletedWith: string;
  ignoreChanges: string[];
  protect: boolean;
  deleteBeforeReplace: boolean;
  additionalSecretOutputs: string[];
  /** What the engine does with it, given the previous run's state. */
  op: Op;
}

export interface Resolved {
  value: unknown;
  secret: boolean;
}

export interface StackRun {
  resources: Registered[];
  outputs: Record<string, Resolved>;
  /** The state this run leaves: the next run's previous state. */
  state: StackState;
  /** The resources of the previous state this run no longer registers: deleted. */
  deleted: string[];
  /** What the engine or a provider refuses (a protected resource deleted or replaced, a volume shrunk). */
  errors: string[];
  /** The engine's steps in an order it may run them (engine.ts's executionOrder). */
  order: string[];
  /** The single registered resource with this logical name (throws when absent). */
  get(name: string): Registered;
}

/** Droplet ids are numbers, which the provider hands over as strings. */
export const FAKE_DROPLET_ID = "424242";
export const FAKE_IPV4 = "203.0.113.10";
export const FAKE_IPV6 = "2001:db8::10";
export const FAKE_PRIVATE_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAAtestonlytestonlytestonly\n-----END OPENSSH PRIVATE KEY-----\n";
export const FAKE_PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForTestsOnly0000000000000000000000 ci@example.com";
export const FAKE_FINGERPRINT = "3b:16:bf:e4:8b:00:8b:b8:59:8c:a9:d3:f0:19:45:fa";
/** A second key, as a rotation brings. */
export const FAKE_PUBLIC_KEY_2 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForTestsOnly1111111111111111111111 new@example.com";
/** The host key the first droplet boots with (what /etc/ssh/ssh_host_ed25519_key.pub holds, without its comment). */
export const FAKE_HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeHostKeyForTestsOnly00000000000000000000";
/** The key a droplet boots with: each new droplet makes its own. */
export const bootHostKeyOf = (dropletId: string) =>
  dropletId === FAKE_DROPLET_ID ? FAKE_HOST_KEY : `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeHostKeyOfDroplet${dropletId}`;

/** The key a volume step reported in its output (provision/steps/volume.sh's last line). */
const reportedKey = (entry: StateEntry | undefined) => /^host key: (.*)$/m.exec(String(entry?.outputs.stdout ?? ""))?.[1];

/**
 * What the host answers to a command, as the host steps behave: the first contact prints the key the host
 * presents now (the one it booted with until the volume step ran on it, the volume's from then on); the
 * volume step installs the keys kept on the volume (the first host's, saved by its first run) and
 * reports the one in use.
 */
function commandStdout(name: string, inputs: Record<string, unknown>, previous: StackState, presented: (dropletId: string) => string): string {
  const dropletId = dropletOf(inputs);
  if (String(inputs.create).startsWith("cut -d ' ' -f 1,2 /etc/ssh/")) return `${presented(dropletId)}\n`;
  if (name === "claude-bus-volume") return `changed: mounted the volume\nhost key: ${reportedKey(previous[name]) ?? bootHostKeyOf(dropletId)}\n`;
  return "";
}

/** The droplet a host command runs on: the first of its triggers. */
const dropletOf = (inputs: Record<string, unknown>) => String((inputs.triggers as unknown[] | undefined)?.[0]);

/**
 * The key each droplet presents as the run goes on: the one it booted with until the volume step has run
 * on it (in an earlier run or this one), the one that step reported from then on.
 */
function hostKeys(previous: StackState) {
  const now = new Map<string, string>();
  const volumeStep = previous["claude-bus-volume"];
  return {
    presented(dropletId: string): string {
      const ranHere = volumeStep && dropletOf(volumeStep.inputs) === dropletId ? reportedKey(volumeStep) : undefined;
      return now.get(dropletId) ?? ranHere ?? bootHostKeyOf(dropletId);
    },
    ran(name: string, outputs: Record<string, unknown>): void {
      const key = name === "claude-bus-volume" ? reportedKey({ outputs } as StateEntry) : undefined;
      if (key) now.set(dropletOf(outputs), key);
    },
  };
}

/** The stack the mock engine runs ("test"), and so the data volume's device the host config names. */
export const TEST_VOLUME_DEVICE = volumeDevice(volumeNameOf("test"));

/** A minimal valid stack config (values as `pulumi config set` stores them: strings). */
export function baseConfig(): Record<string, string> {
  return {
    domain: "example.com",
    acmeEmail: "ops@example.com",
    sshPublicKey: FAKE_PUBLIC_KEY,
    sshPrivateKey: FAKE_PRIVATE_KEY,
  };
}

/** random_password's character sets, as terraform-provider-random (which Pulumi's random bridges) has them. */
const UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const LOWER = "abcdefghijklmnopqrstuvwxyz";
const DIGITS = "0123456789";
const SPECIAL = "!@#$%&*()-_=+[]{}<>:?";

/** The provider's reading of RandomPassword inputs: a class is on unless set false; minimums default to 0. */
function passwordRule(inputs: Record<string, unknown>) {
  const special = typeof inputs.overrideSpecial === "string" && inputs.overrideSpecial !== "" ? inputs.overrideSpecial : SPECIAL;
  const on = (v: unknown) => v !== false;
  const classes: [string, boolean, unknown][] = [
    [UPPER, on(inputs.upper), inputs.minUpper],
    [LOWER, on(inputs.lower), inputs.minLower],
    [DIGITS, on(inputs.numeric ?? inputs.number), inputs.minNumeric],
    [special, on(inputs.special), inputs.minSpecial],
  ];
  return {
    length: Number(inputs.length),
    chars: classes
      .filter(([, enabled]) => enabled)
      .map(([set]) => set)
      .join(""),
    // Each minimum draws from its class whether or not the class is on, as the provider does.
    minimums: classes.map(([set, , min]) => [set, Number(min ?? 0)] as const),
  };
}

/** Every character a password generated from these inputs may hold. */
export function randomPasswordCharacters(inputs: Record<string, unknown>): string {
  const { chars, minimums } = passwordRule(inputs);
  return [
    ...new Set(
      chars +
        minimums
          .filter(([, min]) => min > 0)
          .map(([set]) => set)
          .join(""),
    ),
  ].join("");
}

/**
 * What random.RandomPassword answers for these inputs, made the provider's way (each minimum from
 * its class, the rest from every enabled class, then shuffled), with randomness derived from the
 * inputs and `seed`: the same inputs give the same password, new keepers a new one.
 */
export function randomPassword(inputs: Record<string, unknown>, seed = ""): string {
  const { length, chars, minimums } = passwordRule(inputs);
  const needed = minimums.reduce((sum, [, min]) => sum + min, 0);
  if (length < needed) throw new Error(`length (${length}) must be >= the sum of the minimums (${needed})`);
  const stream = `${JSON.stringify(unwrapSecrets(inputs))}\0${seed}`;
  let counter = 0;
  const next = () => createHash("sha256").update(`${stream}\0${counter++}`).digest().readUInt32BE(0);
  const draw = (set: string, n: number) => Array.from({ length: n }, () => set[next() % set.length]);
  const picked = [...minimums.flatMap(([set, min]) => draw(set, min)), ...draw(chars, length - needed)];
  return picked
    .map((c) => [next(), c] as const)
    .sort(([a], [b]) => a - b)
    .map(([, c]) => c)
    .join("");
}

/** An MD5 fingerprint of a public key, as DigitalOcean computes it. */
export const fingerprintOf = (publicKey: string) =>
  createHash("md5")
    .update(Buffer.from(publicKey.split(" ")[1], "base64"))
    .digest("hex")
    .match(/../g)!
    .join(":");

/**
 * What each provider stores after a create or update: the inputs as the API reads them back, plus its
 * computed outputs. The project reads a reserved IP's URN back as do:floatingip:, whatever was sent
 * (terraform-provider-digitalocean #1264, pulumi-digitalocean #946).
 */
function mockState(
  type: string,
  name: string,
  id: string,
  inputs: Record<string, unknown>,
  previous: StackState,
  presented: (dropletId: string) => string,
): Record<string, unknown> {
  switch (type) {
    case "digitalocean:index/droplet:Droplet":
      return { ...inputs, ipv4Address: "198.51.100.7", ipv6Address: FAKE_IPV6, dropletUrn: `do:droplet:${id}` };
    case "digitalocean:index/reservedIp:ReservedIp":
      return { ...inputs, ipAddress: FAKE_IPV4, reservedIpUrn: `do:reservedip:${FAKE_IPV4}` };
    case "digitalocean:index/volume:Volume":
      return { ...inputs, volumeUrn: `do:volume:${id}`, filesystemType: inputs.initialFilesystemType, filesystemLabel: inputs.initialFilesystemLabel };
    case "digitalocean:index/project:Project":
      return { ...inputs, resources: (inputs.resources as string[] | undefined)?.map((urn) => urn.replace(/^do:reservedip:/, "do:floatingip:")) };
    case "digitalocean:index/sshKey:SshKey":
      return { ...inputs, fingerprint: fingerprintOf(String(inputs.publicKey)) };
    case "digitalocean:index/spacesBucket:SpacesBucket": {
      // The provider defaults the region to nyc3 and reads back where the bucket answers.
      const region = String(inputs.region ?? "nyc3");
      return {
        ...inputs,
        region,
        bucketDomainName: `${inputs.name}.${region}.digitaloceanspaces.com`,
        endpoint: `${region}.digitaloceanspaces.com`,
        bucketUrn: `do:space:${inputs.name}`,
      };
    }
    case "digitalocean:index/spacesKey:SpacesKey": {
      // Spaces access keys are DO00 and 16 more capitals and digits; secrets 43 base64 characters. Plain:
      // the SDK marks secretKey secret (additionalSecretOutputs), the program must keep what it makes of it secret.
      const draw = (what: string) => createHash("sha256").update(`${id}\0${what}`).digest("base64");
      return {
        ...inputs,
        accessKey: `DO00${draw("id")
          .replace(/[^A-Z0-9]/g, "")
          .padEnd(16, "7")
          .slice(0, 16)}`,
        secretKey: draw("secret").replace(/=+$/, ""),
        createdAt: "2026-12-07T00:00:00Z",
      };
    }
    case "random:index/randomId:RandomId": {
      const bytes = createHash("sha256")
        .update(`${id}\0${JSON.stringify(inputs)}`)
        .digest()
        .subarray(0, Number(inputs.byteLength));
      return {
        ...inputs,
        hex: bytes.toString("hex"),
        b64Url: bytes.toString("base64url"),
        b64Std: bytes.toString("base64"),
        dec: BigInt(`0x${bytes.toString("hex")}`).toString(),
      };
    }
    case "random:index/randomPassword:RandomPassword":
      // Plain, not secret: the program itself must mark the password secret.
      return { ...inputs, result: randomPassword(inputs) };
    case "command:remote:Command":
      return { ...inputs, stdout: commandStdout(name, inputs, previous, presented), stderr: "" };
    default:
      return { ...inputs };
  }
}

const RESERVED_IP_LOOKUP = "digitalocean:index/getReservedIp:getReservedIp";

/**
 * The reserved IP data source as the live API answers at the start of a run: assigned to the droplet the
 * previous run's assignment names, or to none, where the provider leaves droplet_id unset (0).
 */
function reservedIpLookup(ipAddress: string, previous: StackState): Record<string, unknown> {
  const entries = Object.values(previous);
  const assigned = entries.find((e) => e.type === "digitalocean:index/reservedIpAssignment:ReservedIpAssignment" && e.outputs.ipAddress === ipAddress);
  const ip = entries.find((e) => e.type === "digitalocean:index/reservedIp:ReservedIp" && e.outputs.ipAddress === ipAddress);
  return {
    id: ipAddress,
    ipAddress,
    region: ip?.outputs.region ?? "",
    dropletId: assigned ? Number(assigned.outputs.dropletId) : 0,
    urn: `do:reservedip:${ipAddress}`,
  };
}

/** Ids as the providers make them: droplets get numbers (in string form), each new one a new number. */
function newId(type: string, name: string, previous: StateEntry | undefined): string {
  if (type === "digitalocean:index/droplet:Droplet") return previous ? String(Number(previous.id) + 1) : FAKE_DROPLET_ID;
  return previous ? `${previous.id}+` : `${name}-id`;
}

export /** Every plain (non-secret) string anywhere in a value. */
function plainStrings(v: unknown): string[] {
  if (isSecretValue(v)) return [];
  if (typeof v === "string") return [v];
  if (Array.isArray(v)) return v.flatMap(plainStrings);
  if (typeof v === "object" && v !== null) return Object.values(v).flatMap(plainStrings);
  return [];
}

export function isSecretValue(v: unknown): boolean {
  return typeof v === "object" && v !== null && (v as Record<string, unknown>)[rpc.specialSigKey] === rpc.specialSecretSig;
}

/** The same value with every secret marker removed. */
export function unwrapSecrets(v: unknown): unknown {
  if (isSecretValue(v)) return unwrapSecrets((v as { value: unknown }).value);
  if (Array.isArray(v)) return v.map(unwrapSecrets);
  if (typeof v === "object" && v !== null && Object.getPrototypeOf(v) === Object.prototype) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unwrapSecrets(x)]));
  }
  return v;
}

/** Every secret-marked value anywhere in `v` (including nested ones). */
export function secretPaths(v: unknown, path = ""): string[] {
  if (isSecretValue(v)) return [path, ...secretPaths((v as { value: unknown }).value, path)];
  if (Array.isArray(v)) return v.flatMap((x, i) => secretPaths(x, `${path}[${i}]`));
  if (typeof v === "object" && v !== null) return Object.entries(v).flatMap(([k, x]) => secretPaths(x, path ? `${path}.${k}` : k));
  return [];
}

/** File assets as `{ filePath }`: their path is a promise, which does not compare. */
async function plainAssets(v: unknown): Promise<unknown> {
  if (v instanceof pulumi.asset.FileAsset) return { filePath: await v.path };
  if (Array.isArray(v)) return Promise.all(v.map(plainAssets));
  if (typeof v === "object" && v !== null && Object.getPrototypeOf(v) === Object.prototype) {
    const entries = await Promise.all(Object.entries(v).map(async ([k, x]) => [k, await plainAssets(x)] as const));
    return Object.fromEntries(entries);
  }
  return v;
}

export async function resolve<T>(o: pulumi.Input<T>): Promise<Resolved> {
  const out = pulumi.output(o);
  // `isSecret` is an internal promise on Output; reading it is how Pulumi's own tests check secrecy.
  const secret = await (out as unknown as { isSecret: Promise<boolean> }).isSecret;
  const value = await new Promise<unknown>((done) => out.apply((v) => done(v)));
  return { value, secret };
}

/**
 * Runs the program of infra/index.ts with this stack config under mocks, planned against `previous` (the
 * state a run left; none: a first `pulumi up`). Config values are strings, as Pulumi passes them.
 */
export async function runStack(config: Record<string, string>, bundleDir: string, previous: StackState = {}): Promise<StackRun> {
  const all: Record<string, string> = {};
  for (const [k, v] of Object.entries(config)) all[`claude-bus:${k}`] = v;
  pulumi.runtime.setAllConfig(
    all,
    SECRET_CONFIG_KEYS.filter((k) => k in config).map((k) => `claude-bus:${k}`),
  );
  const options = new Map<string, { ignoreChanges: string[]; protect: boolean }>();
  const state: StackState = {};
  const ops = new Map<string, Op>();
  const errors: string[] = [];
  const keys = hostKeys(previous);
  const mocks: pulumi.runtime.Mocks = {
    newResource: (args) => {
      const before = previous[args.name];
      const inputs = unwrapSecrets(args.inputs) as Record<string, unknown>;
      const { ignoreChanges, protect } = options.get(args.name) ?? { ignoreChanges: [], protect: false };
      const planned = plan(args.type, args.name, inputs, before, ignoreChanges);
      errors.push(...planned.errors);
      ops.set(args.name, planned.op);
      const id = planned.op === "same" || planned.op === "update" ? before!.id : newId(args.type, args.name, before);
      const runs =
        planned.op !== "same" && args.type.startsWith("command:remote:") && (planned.inputs.create !== undefined || args.type.endsWith("CopyToRemote"));
      if (runs) {
        // @pulumi/command refuses a host that presents another key than the one the command is pinned to.
        const pinned = (planned.inputs.connection as { hostKey?: string }).hostKey;
        const presented = keys.presented(dropletOf(planned.inputs));
        if (pinned !== undefined && pinned !== presented)
          errors.push(`${args.name}: ssh: host key mismatch (pinned ${pinned}, the host presents ${presented})`);
      }
      const outputs = planned.op === "same" ? before!.outputs : mockState(args.type, args.name, id, planned.inputs, previous, keys.presented);
      if (runs) keys.ran(args.name, outputs);
      state[args.name] = { type: args.type, id, inputs: planned.inputs, outputs, protect, dependencies: [], propertyDependencies: {}, deletedWith: "" };
      return { id, state: outputs };
    },
    call: (args) => {
      if (args.token === RESERVED_IP_LOOKUP) return reservedIpLookup(String(args.inputs.ipAddress), previous);
      throw new Error(`unexpected provider call ${args.token}`);
    },
  };
  await pulumi.runtime.setMocks(mocks, "claude-bus", "test", false);

  const resources: Registered[] = [];
  const monitor = settings.getMonitor() as unknown as {
    registerResource(req: RegisterRequest, cb: (err: unknown, res: { getUrn(): string } | undefined) => void): Promise<void>;
  };
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req, cb) => {
    options.set(req.getName(), { ignoreChanges: req.getIgnorechangesList(), protect: req.getProtect() });
    return register(req, (err, res) => {
      if (!err && res) {
        resources.push({
          type: req.getType(),
          name: req.getName(),
          urn: res.getUrn(),
          parent: req.getParent(),
          inputs: rpc.deserializeProperties(req.getObject()) as Record<string, unknown>,
          dependencies: req.getDependenciesList(),
          propertyDependencies: propertyDependenciesOf(req),
          deletedWith: req.getDeletedwith(),
          ignoreChanges: req.getIgnorechangesList(),
          protect: req.getProtect(),
          deleteBeforeReplace: req.getDeletebeforereplace(),
          additionalSecretOutputs: req.getAdditionalsecretoutputsList(),
          op: ops.get(req.getName()) ?? "same",
        });
      }
      cb(err, res);
    });
  };

  // What infra/index.ts runs, with the bundle built into this test's own directory.
  const exported: Record<string, unknown> = await claudeBusStack(readStackConfig(), bundleDir);
  const outputs: Record<string, Resolved> = {};
  for (const [k, v] of Object.entries(exported)) outputs[k] = await resolve(v as pulumi.Input<unknown>);
  await (settings as unknown as { waitForRPCs(): Promise<void> }).waitForRPCs();
  for (const r of resources) r.inputs = (await plainAssets(r.inputs)) as Record<string, unknown>;

  const nameOf = (urn: string) => (urn ? urn.split("::").pop()! : "");
  for (const r of resources) {
    state[r.name].dependencies = r.dependencies.map(nameOf);
    state[r.name].propertyDependencies = Object.fromEntries(Object.entries(r.propertyDependencies).map(([key, urns]) => [key, urns.map(nameOf)]));
    state[r.name].deletedWith = nameOf(r.deletedWith);
  }
  const deletes = planDeletes(previous, new Set(resources.map((r) => r.name)));
  return {
    resources,
    outputs,
    state,
    deleted: deletes.deleted,
    errors: [...errors, ...deletes.errors],
    order: executionOrder(resources, previous, deletes.deleted),
    get(name) {
      const found = resources.filter((r) => r.name === name);
      if (found.length !== 1) throw new Error(`expected one resource named ${name}, found ${found.length}`);
      return found[0];
    },
  };
}

function propertyDependenciesOf(req: RegisterRequest): Record<string, string[]> {
  const found: Record<string, string[]> = {};
  req.getPropertydependenciesMap().forEach((deps, key) => {
    found[key] = deps.getUrnsList();
  });
  return found;
}

interface RegisterRequest {
  getType(): string;
  getName(): string;
  getParent(): string;
  getObject(): Parameters<typeof rpc.deserializeProperties>[0];
  getDependenciesList(): string[];
  getPropertydependenciesMap(): { forEach(each: (deps: { getUrnsList(): string[] }, key: string) => void): void };
  getDeletedwith(): string;
  getIgnorechangesList(): string[];
  getProtect(): boolean;
  getDeletebeforereplace(): boolean;
  getAdditionalsecretoutputsList(): string[];
}
