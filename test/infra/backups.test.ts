/**
 * Off-host backups in the Pulumi program, under the mock engine: with `backups` on, a private, protected
 * Spaces bucket and a key for that bucket alone; the key reaches the host only as the backups step's
 * secret stdin and leaves the stack only as the secret backupEnv output.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseBackupTarget, renderBackupTarget } from "../../contract/backupTarget";
import { hostConfigOf, parseStackConfig } from "../../infra/config";
import { hostSteps } from "../../provision/steps";
import { baseConfig, FAKE_IPV4, isSecretValue, plainStrings, runStack, type StackRun, TEST_VOLUME_DEVICE } from "./harness";

const bundleDir = mkdtempSync(join(tmpdir(), "claude-bus-infra-backups-"));
afterAll(() => rmSync(bundleDir, { recursive: true, force: true }));

const configs = {
  off: baseConfig(),
  on: { ...baseConfig(), region: "nyc3", backups: "true", backupRegion: "fra1", backupKeep: "30", backupHourUtc: "5" },
  /** Defaults: the droplet's region, and a bucket pulumi destroy may delete. */
  defaults: { ...baseConfig(), region: "ams3", backups: "true", allowDataDestroy: "true" },
};
type Name = keyof typeof configs;
const runs = {} as Record<Name, StackRun>;
let again: StackRun;

beforeAll(async () => {
  for (const name of Object.keys(configs) as Name[]) runs[name] = await runStack(configs[name], bundleDir);
  again = await runStack(configs.on, bundleDir, runs.on.state);
}, 120_000);

const BUCKET = "claude-bus-backup-bucket";
const KEY = "claude-bus-backup-key";
const STEP = "claude-bus-backups";
const stateOf = (run: StackRun, name: string) => run.state[name].outputs;

describe("the stack config", () => {
  const errorOf = (raw: Record<string, string>) => {
    try {
      parseStackConfig(raw);
    } catch (err) {
      return (err as Error).message;
    }
    throw new Error("expected the config to be rejected");
  };

  it("turns backups on with keep and hour, or leaves the host without them", () => {
    expect(hostConfigOf(parseStackConfig(configs.off), TEST_VOLUME_DEVICE).backups).toBeUndefined();
    expect(hostConfigOf(parseStackConfig(configs.defaults), TEST_VOLUME_DEVICE).backups).toEqual({ keep: 14, hourUtc: 3 });
  });

  it("names the key that is wrong", () => {
    expect(errorOf({ ...configs.on, backupRegion: "Frankfurt" })).toContain("backupRegion: must be a DigitalOcean region slug with Spaces, like fra1 or nyc3");
    expect(errorOf({ ...configs.on, backupKeep: "0" })).toContain("backupKeep: must be at least 1");
    expect(errorOf({ ...configs.on, backupHourUtc: "24" })).toContain("backupHourUtc: must be 0 to 23");
    expect(errorOf({ ...configs.on, backups: "yes" })).toContain('backups: must be "true" or "false"');
  });
});

describe("with backups off", () => {
  it("makes no bucket, no key and no backups step, and has no backup outputs", () => {
    expect(runs.off.resources.filter((r) => /spaces|randomId|backup/i.test(`${r.type} ${r.name}`))).toEqual([]);
    expect(Object.keys(runs.off.outputs)).not.toContain("backupEnv");
  });
});

describe("with backups on", () => {
  it("makes a private bucket in backupRegion, named by the stack and a random suffix kept in the state, protected, never force-destroyed", () => {
    const bucket = runs.on.get(BUCKET);
    expect(bucket.inputs).toEqual({
      name: expect.stringMatching(/^claude-bus-test-backups-[0-9a-f]{8}$/),
      region: "fra1",
      acl: "private",
      forceDestroy: false,
    });
    expect(bucket.protect).toBe(true);
    expect(bucket.parent).toBe(runs.on.get("claude-bus").urn);
    expect(again.get(BUCKET).op).toBe("same");
    expect(again.get(BUCKET).inputs.name).toBe(bucket.inputs.name);
    expect(runs.defaults.get(BUCKET).inputs).toMatchObject({ region: "ams3" });
    expect(runs.defaults.get(BUCKET).protect).toBe(false);
  });

  it("makes a key that may read and write that bucket alone, its secret marked secret by the provider's SDK", () => {
    const key = runs.on.get(KEY);
    const name = runs.on.get(BUCKET).inputs.name;
    expect(key.inputs).toEqual({ name: `${name}-writer`, grants: [{ bucket: name, permission: "readwrite" }] });
    expect(key.additionalSecretOutputs).toEqual(["secretKey"]);
  });

  it("adds the bucket to the DigitalOcean project", () => {
    const name = runs.on.get(BUCKET).inputs.name;
    expect(runs.on.get("claude-bus-project").inputs.resources).toContain(`do:space:${name}`);
  });

  it("gives the backups step, last, the bucket's env text as secret stdin, with logging off and its output secret", () => {
    const steps = runs.on.resources.filter((r) => r.type === "command:remote:Command" && r.name !== "claude-bus-wait-ssh");
    const step = steps.at(-1)!;
    expect(step.name).toBe(STEP);
    expect(isSecretValue(step.inputs.stdin)).toBe(true);
    const { accessKey, secretKey } = stateOf(runs.on, KEY) as { accessKey: string; secretKey: string };
    const name = String(runs.on.get(BUCKET).inputs.name);
    const text = renderBackupTarget({
      BACKUP_S3_ENDPOINT: "https://fra1.digitaloceanspaces.com",
      BACKUP_S3_REGION: "fra1",
      BACKUP_S3_BUCKET: name,
      BACKUP_S3_ACCESS_KEY_ID: accessKey,
      BACKUP_S3_SECRET_ACCESS_KEY: secretKey,
    });
    expect((step.inputs.stdin as { value: string }).value).toBe(text);
    expect(parseBackupTarget(text, "backupEnv")).toMatchObject({ BACKUP_S3_BUCKET: name });
    expect(step.inputs.logging).toBe("none");
    expect(step.additionalSecretOutputs).toEqual(expect.arrayContaining(["stdout", "stderr"]));
    expect(step.dependencies.map((urn) => urn.split("::").pop())).toEqual(expect.arrayContaining(["claude-bus-health", "claude-bus-backup-key"]));
  });

  it("runs the backups step provision renders for keep and hour from the stack config", () => {
    const sha256 = createHash("sha256")
      .update(readFileSync(join(bundleDir, "claude-bus.js")))
      .digest("hex");
    const host = hostConfigOf(parseStackConfig(configs.on), TEST_VOLUME_DEVICE);
    expect(host.backups).toEqual({ keep: 30, hourUtc: 5 });
    const expected = hostSteps({ ...host, publicIpv4: FAKE_IPV4 }, { sha256 }).at(-1)!;
    expect(expected.name).toBe("backups");
    expect(runs.on.get(STEP).inputs.create).toBe(expected.script);
  });

  it("exports the bucket's name, and its env text only as a secret", () => {
    const name = runs.on.get(BUCKET).inputs.name;
    expect(runs.on.outputs.backupBucket).toEqual({ value: name, secret: false });
    expect(runs.on.outputs.backupEnv.secret).toBe(true);
    expect(runs.on.outputs.backupEnv.value).toBe((runs.on.get(STEP).inputs.stdin as { value: string }).value);
  });

  it("never sends the key's secret to the engine in plain text", () => {
    const { secretKey } = stateOf(runs.on, KEY) as { secretKey: string };
    expect(secretKey).toMatch(/^[A-Za-z0-9+/]{43}$/);
    for (const r of runs.on.resources) expect([r.name, plainStrings(r.inputs).filter((s) => s.includes(secretKey))]).toEqual([r.name, []]);
  });
});
