/**
 * A real S3-compatible server on loopback for tests: s3rver (files in a temp dir), speaking the S3 API
 * the AWS SDK and DigitalOcean Spaces speak. It knows only the key ids registered here; it does not
 * check SigV4 signatures, so a wrong key is an unknown key id, not a wrong secret.
 */
import type { BackupTarget } from "../../contract/backupTarget";
import { tempDir } from "./tempDir";

// s3rver ships no type declarations: the little of it used here.
interface S3rverInstance {
  run(): Promise<{ address: string; port: number }>;
  close(): Promise<void>;
}
type S3rverClass = new (options: Record<string, unknown>) => S3rverInstance;
const S3rver = require("s3rver") as S3rverClass;
const { DUMMY_ACCOUNT } = require("s3rver/lib/models/account") as { DUMMY_ACCOUNT: { createKeyPair(id: string, secret: string): void } };

/** A key pair shaped like a Spaces key (20-character id, 43-character secret), known to every local S3. */
export const TEST_KEY = { id: "DO00TESTKEY0BACKUPS0", secret: "Sp4cesSecretForTestsOnly0000000000000000000" };
DUMMY_ACCOUNT.createKeyPair(TEST_KEY.id, TEST_KEY.secret);

export interface LocalS3 {
  endpoint: string;
  bucket: string;
  /** The bucket's objects on disk (s3rver's file store). */
  dir: string;
  /** A backup target for this bucket with the test key, optionally under a prefix. */
  target(prefix?: string): BackupTarget;
  close(): Promise<void>;
}

export async function startLocalS3(bucket = "claude-bus-backups", port = 0): Promise<LocalS3> {
  const dir = tempDir("s3");
  const server = new S3rver({ address: "127.0.0.1", port, silent: true, directory: dir, configureBuckets: [{ name: bucket }] });
  const address = await server.run();
  const endpoint = `http://127.0.0.1:${address.port}`;
  return {
    endpoint,
    bucket,
    dir,
    target: (prefix) => ({
      BACKUP_S3_ENDPOINT: endpoint,
      BACKUP_S3_BUCKET: bucket,
      ...(prefix !== undefined && { BACKUP_S3_PREFIX: prefix }),
      BACKUP_S3_ACCESS_KEY_ID: TEST_KEY.id,
      BACKUP_S3_SECRET_ACCESS_KEY: TEST_KEY.secret,
    }),
    close: () => server.close(),
  };
}
