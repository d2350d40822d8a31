/**
 * Runs the real Pulumi program (infra/index.ts) against Pulumi's mock engine and records every
 * resource registration as the engine would see it: type, name, parent, inputs (with secret
 * markers intact), dependsOn, deletedWith, replaceWith, ignoreChanges, additionalSecretOutputs.
 * Only the engine and the providers (DigitalOcean, random) are simulated, answering as the real
 * ones do; the program, config parsing and the provision step list are the real ones.
 */
import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import * as rpc from "@pulumi/pulumi/runtime/rpc";
import * as settings from "@pulumi/pulumi/runtime/settings";
import { readStackConfig, SECRET_CONFIG_KEYS } from "../../infra/config";
import { claudeBusStack } from "../../infra/program";

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
  deletedWith: string;
  replaceWith: string[];
  ignoreChanges: string[];
  additionalSecretOutputs: string[];
}

export interface Resolved {
  value: unknown;
  secret: boolean;
}

export interface StackRun {
  resources: Registered[];
  outputs: Record<string, Resolved>;
  /** The single registered resource with this logical name (throws when absent). */
  get(name: string): Registered;
}

/** Droplet ids are numbers, which the provider hands over as strings. */
export const FAKE_DROPLET_ID = "424242";
export const FAKE_IPV4 = "203.0.113.10";
export const FAKE_IPV6 = "2001:db8::10";
export const FAKE_PRIVATE_KEY =
  "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAAtestonlytestonlytestonly\n-----END OPENSSH PRIVATE KEY-----\n";
export const FAKE_PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForTestsOnly0000000000000000000000 ci@example.com";
export const FAKE_FINGERPRINT = "3b:16:bf:e4:8b:00:8b:b8:59:8c:a9:d3:f0:19:45:fa";

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
    chars: classes.filter(([, enabled]) => enabled).map(([set]) => set).join(""),
    // Each minimum draws from its class whether or not the class is on, as the provider does.
    minimums: classes.map(([set, , min]) => [set, Number(min ?? 0)] as const),
  };
}

/** Every character a password generated from these inputs may hold. */
export function randomPasswordCharacters(inputs: Record<string, unknown>): string {
  const { chars, minimums } = passwordRule(inputs);
  return [...new Set(chars + minimums.filter(([, min]) => min > 0).map(([set]) => set).join(""))].join("");
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

function mockState(type: string, inputs: Record<string, unknown>): Record<string, unknown> {
  switch (type) {
    case "digitalocean:index/droplet:Droplet":
      return { ...inputs, ipv4Address: "198.51.100.7", ipv6Address: FAKE_IPV6, dropletUrn: `do:droplet:${FAKE_DROPLET_ID}` };
    case "digitalocean:index/reservedIp:ReservedIp":
      return { ...inputs, ipAddress: FAKE_IPV4, reservedIpUrn: `do:floatingip:${FAKE_IPV4}` };
    case "digitalocean:index/sshKey:SshKey":
      return { ...inputs, fingerprint: FAKE_FINGERPRINT };
    case "random:index/randomPassword:RandomPassword":
      // Plain, not secret: the program itself must mark the password secret.
      return { ...inputs, result: randomPassword(inputs) };
    default:
      return { ...inputs };
  }
}

const mocks: pulumi.runtime.Mocks = {
  newResource: (args) => ({
    id: args.type === "digitalocean:index/droplet:Droplet" ? FAKE_DROPLET_ID : `${args.name}-id`,
    state: mockState(args.type, args.inputs),
  }),
  call: (args) => {
    throw new Error(`unexpected provider call ${args.token}`);
  },
};

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

/** Runs the program of infra/index.ts with this stack config under mocks. Config values are strings, as Pulumi passes them. */
export async function runStack(config: Record<string, string>, bundleDir: string): Promise<StackRun> {
  const all: Record<string, string> = {};
  for (const [k, v] of Object.entries(config)) all[`claude-bus:${k}`] = v;
  pulumi.runtime.setAllConfig(
    all,
    SECRET_CONFIG_KEYS.filter((k) => k in config).map((k) => `claude-bus:${k}`),
  );
  await pulumi.runtime.setMocks(mocks, "claude-bus", "test", false);

  const resources: Registered[] = [];
  const monitor = settings.getMonitor() as unknown as {
    registerResource(req: RegisterRequest, cb: (err: unknown, res: { getUrn(): string } | undefined) => void): Promise<void>;
  };
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req, cb) =>
    register(req, (err, res) => {
      if (!err && res) {
        resources.push({
          type: req.getType(),
          name: req.getName(),
          urn: res.getUrn(),
          parent: req.getParent(),
          inputs: rpc.deserializeProperties(req.getObject()) as Record<string, unknown>,
          dependencies: req.getDependenciesList(),
          deletedWith: req.getDeletedwith(),
          replaceWith: req.getReplaceWithList(),
          ignoreChanges: req.getIgnorechangesList(),
          additionalSecretOutputs: req.getAdditionalsecretoutputsList(),
        });
      }
      cb(err, res);
    });

  // What infra/index.ts runs, with the bundle built into this test's own directory.
  const exported: Record<string, unknown> = await claudeBusStack(readStackConfig(), bundleDir);
  const outputs: Record<string, Resolved> = {};
  for (const [k, v] of Object.entries(exported)) outputs[k] = await resolve(v as pulumi.Input<unknown>);
  await (settings as unknown as { waitForRPCs(): Promise<void> }).waitForRPCs();
  for (const r of resources) r.inputs = (await plainAssets(r.inputs)) as Record<string, unknown>;

  return {
    resources,
    outputs,
    get(name) {
      const found = resources.filter((r) => r.name === name);
      if (found.length !== 1) throw new Error(`expected one resource named ${name}, found ${found.length}`);
      return found[0];
    },
  };
}

interface RegisterRequest {
  getType(): string;
  getName(): string;
  getParent(): string;
  getObject(): Parameters<typeof rpc.deserializeProperties>[0];
  getDependenciesList(): string[];
  getDeletedwith(): string;
  getReplaceWithList(): string[];
  getIgnorechangesList(): string[];
  getAdditionalsecretoutputsList(): string[];
}
