/**
 * The backup bucket (DigitalOcean Spaces or any S3-compatible store), through the AWS SDK's S3 client:
 * upload a backup file, list the backups (only objects named as `claude-bus backup` names them, under
 * the target's prefix), keep the newest N, download one. Errors say what failed and why in our words,
 * with the endpoint and bucket, never the key pair.
 */
import { createReadStream, createWriteStream, promises as fs } from "node:fs";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, type ListObjectsV2CommandOutput, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { BACKUP_OBJECT_NAME, type BackupTarget, DEFAULT_S3_SIGNING_REGION } from "../contract/backupTarget";
import { isLoopbackUrl } from "../contract/loopback";

/** How long connecting to the bucket's endpoint may take, and how long a request may send or receive nothing. */
const CONNECT_TIMEOUT_MS = 10_000;
const IDLE_TIMEOUT_MS = 120_000;
/** Tries per request (the SDK backs off between them): a dropped connection is tried again. */
const MAX_ATTEMPTS = 3;

export interface StoredBackup {
  /** The object's key (prefix included), what `restore --from-s3 KEY` takes. */
  key: string;
  bytes: number;
  modified: string;
}

/** The bucket refused a request, or could not be reached: the message says which, and where. */
export class BackupBucketError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BackupBucketError";
  }
}

export interface BackupBucket {
  /** s3://bucket/prefix, for messages. */
  readonly where: string;
  upload(file: string, name: string): Promise<{ key: string; bytes: number }>;
  /** The backups, oldest first (their names sort by time). */
  list(): Promise<StoredBackup[]>;
  /** Deletes all but the newest `keep` backups; returns the keys it deleted. */
  prune(keep: number): Promise<string[]>;
  /** Writes the object `key` to `file` (created; it must not exist). */
  download(key: string, file: string): Promise<{ bytes: number }>;
}

/** Network errors: no answer at all (as opposed to an answer that refuses). */
const NETWORK_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ENOTFOUND", "EAI_AGAIN", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "EPIPE", "TimeoutError"]);

/** What to do about an error code the bucket answered with. */
function hint(code: string): string {
  if (code === "InvalidAccessKeyId" || code === "SignatureDoesNotMatch")
    return ": the key pair (BACKUP_S3_ACCESS_KEY_ID, BACKUP_S3_SECRET_ACCESS_KEY) is wrong, or was deleted";
  if (code === "AccessDenied") return ": the key may not do this in this bucket (it needs read and write on it)";
  if (code === "NoSuchBucket") return ": no such bucket at this endpoint (check BACKUP_S3_BUCKET and BACKUP_S3_ENDPOINT)";
  if (code === "NoSuchKey") return ": no such backup (claude-bus backups lists them)";
  return "";
}

export function openBackupBucket(target: BackupTarget): BackupBucket {
  const bucket = target.BACKUP_S3_BUCKET;
  const prefix = target.BACKUP_S3_PREFIX ?? "";
  const where = `s3://${bucket}/${prefix}`;
  const endpoint = target.BACKUP_S3_ENDPOINT.replace(/\/+$/, "");
  const client = new S3Client({
    endpoint,
    region: target.BACKUP_S3_REGION ?? DEFAULT_S3_SIGNING_REGION,
    credentials: { accessKeyId: target.BACKUP_S3_ACCESS_KEY_ID, secretAccessKey: target.BACKUP_S3_SECRET_ACCESS_KEY },
    // https://BUCKET.REGION.digitaloceanspaces.com/KEY, as DigitalOcean documents for the SDK; a local
    // stand-in on loopback has no per-bucket names: http://127.0.0.1:PORT/BUCKET/KEY.
    forcePathStyle: isLoopbackUrl(endpoint),
    // S3-compatible stores do not all know the checksum headers the SDK adds by default.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    // Everything explicit, so the SDK reads no ~/.aws file (the host's job has no home).
    useFipsEndpoint: false,
    useDualstackEndpoint: false,
    maxAttempts: MAX_ATTEMPTS,
    // The SDK would print to the console (an upload's stream is not retried); every failure is reported once, below.
    logger: { debug() {}, info() {}, warn() {}, error() {} },
    requestHandler: { connectionTimeout: CONNECT_TIMEOUT_MS, requestTimeout: IDLE_TIMEOUT_MS },
  });

  /** Runs one request; any failure becomes a BackupBucketError naming what was done where. */
  async function call<T>(what: string, request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (err) {
      const e = err as Error & { code?: string; Code?: string; $metadata?: { httpStatusCode?: number } };
      const code = e.code ?? e.Code ?? e.name;
      const status = e.$metadata?.httpStatusCode;
      if (status !== undefined) throw new BackupBucketError(`${what}: ${endpoint} answered ${status} ${code}${hint(code)}`);
      if (NETWORK_CODES.has(code)) throw new BackupBucketError(`${what}: cannot reach ${endpoint}: ${code}`);
      throw new BackupBucketError(`${what}: ${e.message}`);
    }
  }

  async function list(): Promise<StoredBackup[]> {
    const found: StoredBackup[] = [];
    let token: string | undefined;
    do {
      const page: ListObjectsV2CommandOutput = await call(`listing ${where}`, () =>
        client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token })),
      );
      for (const item of page.Contents ?? []) {
        const name = item.Key?.slice(prefix.length) ?? "";
        if (BACKUP_OBJECT_NAME.test(name)) found.push({ key: item.Key!, bytes: item.Size ?? 0, modified: item.LastModified?.toISOString() ?? "" });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return found.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  return {
    where,
    async upload(file, name) {
      const key = `${prefix}${name}`;
      const { size } = await fs.stat(file);
      await call(`uploading to ${where}${name}`, () =>
        client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: createReadStream(file), ContentLength: size, ContentType: "application/gzip" })),
      );
      return { key, bytes: size };
    },
    list,
    async prune(keep) {
      const all = await list();
      const old = all.slice(0, Math.max(0, all.length - keep));
      // One request per object: the multi-object delete needs checksum headers not every S3-compatible store takes.
      for (const { key } of old) await call(`deleting s3://${bucket}/${key}`, () => client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key })));
      return old.map(({ key }) => key);
    },
    async download(key, file) {
      const answer = await call(`downloading s3://${bucket}/${key}`, () => client.send(new GetObjectCommand({ Bucket: bucket, Key: key })));
      await call(`downloading s3://${bucket}/${key}`, () => pipeline(answer.Body as Readable, createWriteStream(file, { flags: "wx", mode: 0o600 })));
      return { bytes: (await fs.stat(file)).size };
    },
  };
}
