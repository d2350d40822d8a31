/**
 * The file store itself, on real files, where an HTTP test cannot pick the timing: two requests for the
 * same partial upload that reach the store in the same tick, and a sweep weeks from now.
 */
import { createHash } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { Readable } from "node:stream";
import { FileStore } from "../../service/files/fileStore";
import { HttpError } from "../../service/http/httpErrors";
import { tempDir } from "../support/tempDir";

const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");
/** A request body as the store reads it: a stream that arrived whole. */
const body = (bytes: Buffer) => Object.assign(Readable.from([bytes]), { complete: true }) as unknown as IncomingMessage;
const outcome = (settled: PromiseSettledResult<unknown>) =>
  settled.status === "fulfilled" ? "stored" : settled.reason instanceof HttpError ? settled.reason.status : String(settled.reason);

it("two requests for the same part of one upload: one is taken, the other is a 409, and the quota counts the bytes once", async () => {
  const store = await FileStore.open(
    tempDir("files"),
    { maxFileBytes: 10_000, maxAgeDays: 14, maxFiles: 10, quotaBytes: 1_500, uploaderMaxFiles: 10, uploaderQuotaBytes: 1_500, uploaderMaxPartials: 10 },
    60_000,
    () => undefined,
  );
  try {
    const file = Buffer.alloc(1_000, 7);
    const part = (from: number, to: number) =>
      store.uploadPart(
        body(file.subarray(from, to)),
        sha256(file),
        "alpha",
        "file.bin",
        { start: from, end: to - 1, total: file.length },
        to - from,
        () => undefined,
      );
    const first = await Promise.allSettled([part(0, 500), part(0, 500)]);
    expect(first.map(outcome).sort()).toEqual([409, "stored"]);
    const second = await Promise.allSettled([part(500, 1_000), part(500, 1_000)]);
    expect(second.map(outcome).sort()).toEqual([409, "stored"]);

    // 1,000 bytes stored and nothing partial: another 500 fit the 1,500-byte quota exactly
    const other = Buffer.alloc(500, 8);
    await expect(store.uploadPart(body(other), sha256(other), "alpha", "other.bin", null, other.length, () => undefined)).resolves.toMatchObject({
      created: true,
    });
  } finally {
    await store.close();
  }
});

it("the sweep forgets what messages older than the age limit attached, of files no longer held: such a file answers 404, not 410", async () => {
  const DAY = 86_400_000;
  const store = await FileStore.open(
    tempDir("files"),
    { maxFileBytes: 10_000, maxAgeDays: 14, maxFiles: 10, quotaBytes: 1_500, uploaderMaxFiles: 10, uploaderQuotaBytes: 1_500, uploaderMaxPartials: 10 },
    60_000,
    () => undefined,
  );
  try {
    const now = Date.now();
    const [old, recent] = ["a".repeat(64), "b".repeat(64)];
    store.attached([old], now - 15 * DAY);
    store.attached([recent], now - 13 * DAY);
    expect([store.isGone(old), store.isGone(recent)]).toEqual([true, true]);
    await store.sweep(now);
    expect([store.isGone(old), store.isGone(recent)]).toEqual([false, true]);
  } finally {
    await store.close();
  }
});
