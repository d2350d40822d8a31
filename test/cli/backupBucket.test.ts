/**
 * Off-host backups as the host's timer and a user run them: `claude-bus backup --to-s3` from a real bus
 * into a real S3-compatible server on loopback (s3rver), pruning to the newest --keep, `claude-bus
 * backups` listing them, and `claude-bus restore --from-s3` bringing messages, acks and machines back.
 */
import * as fs from "node:fs";
import { ListObjectsV2Command, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import * as path from "node:path";
import { renderBackupTarget } from "../../contract/backupTarget";
import { startBus, type TestBus } from "../support/bus";
import { allMessages, postJson, request } from "../support/http";
import { type LocalS3, startLocalS3, TEST_KEY } from "../support/localS3";
import { cliPerFile, closedPort, envText, runCli, tempDir } from "./harness";

let cli: string;
let s3: LocalS3;
let bus: TestBus;
let machine: { user: string; pass: string };
let home: string;
/** The bus's credentials file and the bucket's env file, as the timer's unit hands them over. */
let busEnv: string;
let s3Env: string;

const OLD_BACKUPS = ["20260101T030000Z", "20260102T030000Z", "20260103T030000Z"].map((t) => `claude-bus-backup-${t}.tar.gz`);

function writePrivate(file: string, text: string): string {
  fs.writeFileSync(file, text, { mode: 0o600 });
  return file;
}

/** The bucket through the S3 API directly, as another writer (or reader) of it would. */
const direct = () =>
  new S3Client({
    endpoint: s3.endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: TEST_KEY.id, secretAccessKey: TEST_KEY.secret },
  });

async function putObject(key: string, body: string): Promise<void> {
  await direct().send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: body }));
}

/** Every key in the bucket, sorted. */
async function allKeys(): Promise<string[]> {
  const listed = await direct().send(new ListObjectsV2Command({ Bucket: s3.bucket }));
  return (listed.Contents ?? []).map((o) => o.Key!).sort();
}

const backupsIn = async (env: string) =>
  JSON.parse((await runCli(cli, ["backups", "--json", "--s3-env", env], { home })).stdout) as { key: string; bytes: number }[];

cliPerFile((bundled) => (cli = bundled));
beforeAll(async () => {
  s3 = await startLocalS3();
  bus = await startBus();
  home = tempDir("home");
  busEnv = writePrivate(path.join(home, "bus.env"), envText(bus));
  s3Env = writePrivate(path.join(home, "s3.env"), renderBackupTarget(s3.target("prod/")));
  // What the backup must carry: messages, an ack, an enrolled machine.
  const first = await postJson(bus.url, "/post", { from: "alpha", to: "bravo", body: "first, acked", tags: ["x"] });
  await postJson(bus.url, "/post", { from: "bravo", to: "any", body: "second, unread" });
  expect((await postJson(bus.url, "/ack", { reader: "bravo", ids: [first.json.id] })).status).toBe(200);
  const invite = await postJson(bus.url, "/invites", { name: "laptop" });
  machine = (await postJson(bus.url, "/enroll", { code: invite.json.code }, { auth: null })).json;
  expect(machine.user).toBe("laptop");
}, 60_000);

afterAll(async () => {
  await bus?.close();
  await s3?.close();
});

describe("backup --to-s3", () => {
  it("uploads a backup under the prefix and keeps only the newest --keep of the bus's backups, touching nothing else", async () => {
    for (const name of OLD_BACKUPS) await putObject(`prod/${name}`, "an older backup");
    await putObject("prod/notes.txt", "not a backup");
    await putObject("claude-bus-backup-20200101T000000Z.tar.gz", "outside the prefix");

    const run = await runCli(cli, ["backup", "--to-s3", "--keep", "2", "--env-file", busEnv, "--s3-env", s3Env], { home });
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const stored = await backupsIn(s3Env);
    expect(stored.map((b) => b.key)).toEqual([`prod/${OLD_BACKUPS[2]}`, expect.stringMatching(/^prod\/claude-bus-backup-\d{8}T\d{6}Z\.tar\.gz$/)]);
    const newest = stored[1].key;
    expect(run.stdout).toContain(`✓ backup of ${bus.url} uploaded to s3://${s3.bucket}/${newest} (${stored[1].bytes} bytes)`);
    expect(run.stdout).toContain(`  deleted the older prod/${OLD_BACKUPS[0]}\n  deleted the older prod/${OLD_BACKUPS[1]}\n`);
    // The foreign object and the one outside the prefix are still there.
    expect(await allKeys()).toEqual(["claude-bus-backup-20200101T000000Z.tar.gz", `prod/${OLD_BACKUPS[2]}`, newest, "prod/notes.txt"]);
  });

  it("refuses a bad --keep, and --out with --to-s3, before it touches anything", async () => {
    const bad = await runCli(cli, ["backup", "--to-s3", "--keep", "0", "--env-file", busEnv, "--s3-env", s3Env], { home });
    expect([bad.code, bad.stderr]).toEqual([1, expect.stringContaining('--keep must be a whole number from 1 to 1000, got "0"')]);
    const out = await runCli(cli, ["backup", "--to-s3", "--out", "x.tar.gz", "--s3-env", s3Env], { home });
    expect([out.code, out.stderr]).toEqual([1, expect.stringContaining("--out is for a local file, not --to-s3")]);
    const keepAlone = await runCli(cli, ["backup", "--keep", "3"], { home });
    expect([keepAlone.code, keepAlone.stderr]).toEqual([1, expect.stringContaining("--keep goes with --to-s3")]);
  });

  it("fails with exit 1 and the bucket's answer when the key is wrong, never echoing the secret", async () => {
    const secret = "WrongSecretWhichMustNeverAppear000000000000";
    const wrong = writePrivate(
      path.join(home, "wrong.env"),
      renderBackupTarget({ ...s3.target("prod/"), BACKUP_S3_ACCESS_KEY_ID: "DO00UNKNOWNKEY000000", BACKUP_S3_SECRET_ACCESS_KEY: secret }),
    );
    const before = await backupsIn(s3Env);
    const run = await runCli(cli, ["backup", "--to-s3", "--env-file", busEnv, "--s3-env", wrong], { home });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`claude-bus backup: uploading to s3://${s3.bucket}/prod/claude-bus-backup-`);
    expect(run.stderr).toContain(
      `: ${s3.endpoint} answered 403 InvalidAccessKeyId: the key pair (BACKUP_S3_ACCESS_KEY_ID, BACKUP_S3_SECRET_ACCESS_KEY) is wrong, or was deleted`,
    );
    expect(run.stdout + run.stderr).not.toContain(secret);
    expect(await backupsIn(s3Env)).toEqual(before);
  });

  it("fails with a non-zero exit and says the bucket cannot be reached when nothing answers there", async () => {
    const port = await closedPort();
    const secret = TEST_KEY.secret;
    const away = writePrivate(path.join(home, "away.env"), renderBackupTarget({ ...s3.target(), BACKUP_S3_ENDPOINT: `http://127.0.0.1:${port}` }));
    const run = await runCli(cli, ["backup", "--to-s3", "--env-file", busEnv, "--s3-env", away], { home });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      new RegExp(
        `^claude-bus backup: uploading to s3://${s3.bucket}/claude-bus-backup-\\d{8}T\\d{6}Z\\.tar\\.gz: cannot reach http://127\\.0\\.0\\.1:${port}: ECONNREFUSED\\n$`,
      ),
    );
    expect(run.stdout + run.stderr).not.toContain(secret);
  });

  it("fails with exit 3 when the bus itself cannot be reached, uploading nothing", async () => {
    const before = await backupsIn(s3Env);
    const run = await runCli(cli, ["backup", "--to-s3", "--url", `http://127.0.0.1:${await closedPort()}`, "--env-file", busEnv, "--s3-env", s3Env], { home });
    expect([run.code, run.stderr]).toEqual([3, expect.stringContaining("cannot reach the bus at http://127.0.0.1:")]);
    expect(await backupsIn(s3Env)).toEqual(before);
  });
});

/** The bucket as BACKUP_S3_* variables (no file). */
const s3EnvVars = (): Record<string, string> => Object.fromEntries(Object.entries(s3.target()).map(([k, v]) => [k, String(v)]));

describe("the bucket's settings", () => {
  it("come from --s3-env, else BACKUP_S3_ENV_FILE, else ~/.secrets/claude-bus-backup.env, else BACKUP_S3_* variables", async () => {
    const byFlag = await runCli(cli, ["backups", "--s3-env", s3Env], { home });
    const byEnvFile = await runCli(cli, ["backups"], { home, env: { BACKUP_S3_ENV_FILE: s3Env } });
    expect(byFlag.code).toBe(0);
    expect(byEnvFile.stdout).toBe(byFlag.stdout);
    expect(byFlag.stdout).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z +\d+ {2}prod\/claude-bus-backup-\d{8}T\d{6}Z\.tar\.gz\n/);
    const otherHome = tempDir("home");
    fs.mkdirSync(path.join(otherHome, ".secrets"));
    writePrivate(path.join(otherHome, ".secrets", "claude-bus-backup.env"), fs.readFileSync(s3Env, "utf8"));
    expect((await runCli(cli, ["backups"], { home: otherHome })).stdout).toBe(byFlag.stdout);
    const byVars = await runCli(cli, ["backups"], { home: tempDir("home"), env: { ...s3EnvVars(), BACKUP_S3_PREFIX: "prod/" } });
    expect(byVars.stdout).toBe(byFlag.stdout);
  });

  it("missing or wrong, say what to do and which line is wrong, never the value", async () => {
    const none = await runCli(cli, ["backups"], { home: tempDir("home") });
    expect([none.code, none.stderr]).toEqual([1, expect.stringContaining("no backup bucket: ")]);
    expect(none.stderr).toContain("pulumi stack output --show-secrets backupEnv");
    const bad = writePrivate(path.join(home, "bad.env"), "BACKUP_S3_ENDPOINT=http://s3.example.com\nBACKUP_S3_BUCKET=b\n");
    const run = await runCli(cli, ["backups", "--s3-env", bad], { home });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`${bad}:1: BACKUP_S3_ENDPOINT must be the bucket service's https:// URL`);
    const loose = path.join(home, "loose.env");
    fs.writeFileSync(loose, fs.readFileSync(s3Env), { mode: 0o644 });
    fs.chmodSync(loose, 0o644);
    const warned = await runCli(cli, ["backups", "--s3-env", loose], { home });
    expect(warned.stderr).toContain(`warning: ${loose} holds the backup bucket's secret key and others can read it (mode 0644): chmod 600 ${loose}`);
    expect(warned.stderr).not.toContain(TEST_KEY.secret);
  });
});

describe("restore --from-s3", () => {
  it("brings the newest backup back: messages, acks and the machine's own credential", async () => {
    const data = path.join(tempDir("restore"), "data");
    const run = await runCli(cli, ["restore", "--from-s3", "--data", data, "--s3-env", s3Env], { home });
    expect(run.code).toBe(0);
    const newest = (await backupsIn(s3Env)).at(-1)!;
    expect(run.stderr).toBe(`downloaded ${newest.key} from the backup bucket (${newest.bytes} bytes)\n`);
    expect(run.stdout).toBe(`restored 2 messages into ${data}\n`);
    expect(fs.readdirSync(path.dirname(data))).toEqual(["data"]); // the download was not left beside it

    const restored = await startBus({ dataDir: data });
    try {
      const messages = await allMessages(restored.url);
      expect(messages.map((m) => [m.body, m.read_by])).toEqual([
        ["first, acked", ["alpha", "bravo"]],
        ["second, unread", ["bravo"]],
      ]);
      expect((await request(restored.url, "/health", { auth: [machine.user, machine.pass] })).status).toBe(200);
      const machines = (await request(restored.url, "/machines")).json;
      expect(JSON.stringify(machines)).toContain("laptop");
    } finally {
      await restored.close();
    }
  });

  it("restores the backup KEY names, and says so when there is no such backup", async () => {
    const [oldest] = await backupsIn(s3Env);
    const data = path.join(tempDir("restore"), "data");
    // The older backup left in the bucket by the first test is not a real one: restore checks what it reads.
    const refused = await runCli(cli, ["restore", "--from-s3", oldest.key, "--data", data, "--s3-env", s3Env], { home });
    expect([refused.code, refused.stderr]).toEqual([1, expect.stringContaining("not a claude-bus backup")]);
    const missing = await runCli(cli, ["restore", "--from-s3", "prod/claude-bus-backup-19990101T000000Z.tar.gz", "--data", data, "--s3-env", s3Env], { home });
    expect([missing.code, missing.stderr]).toEqual([1, expect.stringContaining("answered 404 NoSuchKey: no such backup (claude-bus backups lists them)")]);
    const newest = (await backupsIn(s3Env)).at(-1)!;
    const named = await runCli(cli, ["restore", "--from-s3", newest.key, "--data", data, "--s3-env", s3Env], { home });
    expect([named.code, named.stdout]).toEqual([0, `restored 2 messages into ${data}\n`]);
  });

  it("--s3-env without --from-s3 is a usage error", async () => {
    const run = await runCli(cli, ["restore", "x.tar.gz", "--s3-env", s3Env], { home });
    expect([run.code, run.stderr]).toEqual([1, expect.stringContaining("--s3-env goes with --from-s3")]);
  });
});
