/** The backup bucket's env file: the credentials file's strict format, its own keys, errors that never echo a value. */
import { backupTargetFromEnv, parseBackupTarget, renderBackupTarget, REQUIRED_BACKUP_TARGET_KEYS } from "../../contract/backupTarget";

const SECRET = "Sp4cesSecretForTestsOnly0000000000000000000";
const TARGET = {
  BACKUP_S3_ENDPOINT: "https://fra1.digitaloceanspaces.com",
  BACKUP_S3_BUCKET: "claude-bus-prod-backups-0a1b2c3d",
  BACKUP_S3_ACCESS_KEY_ID: "DO00TESTKEY0BACKUPS0",
  BACKUP_S3_SECRET_ACCESS_KEY: SECRET,
};

describe("the backup target env file", () => {
  it("round-trips through its text, and requires endpoint, bucket and both halves of the key", () => {
    expect(parseBackupTarget(renderBackupTarget(TARGET), "f")).toEqual(TARGET);
    expect(REQUIRED_BACKUP_TARGET_KEYS).toEqual(["BACKUP_S3_ENDPOINT", "BACKUP_S3_BUCKET", "BACKUP_S3_ACCESS_KEY_ID", "BACKUP_S3_SECRET_ACCESS_KEY"]);
  });

  it.each([
    ["http://fra1.example.com", "f:1: BACKUP_S3_ENDPOINT must be the bucket service's https:// URL with no path"],
    ["https://key:secret@fra1.digitaloceanspaces.com", "f:1: BACKUP_S3_ENDPOINT must be"],
    ["https://fra1.digitaloceanspaces.com/bucket", "f:1: BACKUP_S3_ENDPOINT must be"],
  ])("refuses the endpoint %s", (endpoint, message) => {
    expect(() => parseBackupTarget(renderBackupTarget({ ...TARGET, BACKUP_S3_ENDPOINT: endpoint }), "f")).toThrow(message);
    expect(parseBackupTarget(renderBackupTarget({ ...TARGET, BACKUP_S3_ENDPOINT: "http://127.0.0.1:9000" }), "f").BACKUP_S3_ENDPOINT).toBe(
      "http://127.0.0.1:9000",
    );
  });

  it("names the line of a bad or missing value, never the value", () => {
    const text = renderBackupTarget(TARGET).replace(SECRET, `${SECRET} spaces`);
    expect(() => parseBackupTarget(text, "f")).toThrow(/^f:4: BACKUP_S3_SECRET_ACCESS_KEY: unquoted value/);
    try {
      parseBackupTarget(text, "f");
    } catch (err) {
      expect((err as Error).message).not.toContain(SECRET);
    }
    expect(() => parseBackupTarget("BACKUP_S3_BUCKET=b-b-b\n", "f")).toThrow(/BACKUP_S3_ENDPOINT is required/);
    expect(() => parseBackupTarget(`${renderBackupTarget(TARGET)}BUS_PASS=x\n`, "f")).toThrow("f:5: unknown key BUS_PASS");
  });

  it("comes from BACKUP_S3_* variables when set, naming a bad one without its value", () => {
    expect(backupTargetFromEnv({ PATH: "/bin" })).toBeUndefined();
    expect(backupTargetFromEnv({ ...TARGET, PATH: "/bin" })).toEqual(TARGET);
    expect(() => backupTargetFromEnv({ ...TARGET, BACKUP_S3_BUCKET: "UPPER" })).toThrow(/^the environment: BACKUP_S3_BUCKET must be a bucket name/);
  });
});
