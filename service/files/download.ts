/**
 * GET /files/<sha256>: a stored file, streamed from one open descriptor (a deletion meanwhile does not
 * cut it short), whole or the one byte range asked for. Its ETag is its sha256: the content behind a URL
 * never changes, so a client resumes a broken download with `Range: bytes=N-` and `If-Range: "<sha256>"`.
 */
import type { Request, Response } from "express";
import { promises as fsp } from "node:fs";
import { pipeline } from "node:stream/promises";
import { contentDisposition, requestedRange } from "./fileHeaders";
import { HttpError } from "../http/httpErrors";

/** Streams the file at `file` (resolves once sent, or once the client left); ENOENT when it is gone. */
export async function sendStoredFile(req: Request, res: Response, file: string, sha256: string, name: string): Promise<void> {
  const handle = await fsp.open(file, "r");
  try {
    const { size } = await handle.stat();
    const etag = `"${sha256}"`;
    const range = requestedRange(req.headers.range, req.header("If-Range"), etag, size);
    res.setHeader("Accept-Ranges", "bytes");
    res.setHeader("ETag", etag);
    res.setHeader("Cache-Control", "private");
    // A sender's bytes are never a page: a browser that opens the link neither sniffs a type nor runs a script.
    res.setHeader("Content-Security-Policy", "sandbox");
    if (range === "unsatisfiable") {
      res.setHeader("Content-Range", `bytes */${size}`);
      throw new HttpError("rangeNotSatisfiable", `the requested range is not within the file: it has ${size} bytes`);
    }
    const { start, end } = range ?? { start: 0, end: size - 1 };
    res.status(range ? 206 : 200);
    res.setHeader("Content-Type", "application/octet-stream");
    res.setHeader("Content-Disposition", contentDisposition(name));
    res.setHeader("Content-Length", String(end - start + 1));
    if (range) res.setHeader("Content-Range", `bytes ${start}-${end}/${size}`);
    if (req.method === "HEAD" || size === 0) return void res.end();
    try {
      await pipeline(handle.createReadStream({ start, end, autoClose: false }), res);
    } catch (error) {
      // A client that went away mid-download resumes with a Range: nothing to answer, nothing to log.
      if ((error as NodeJS.ErrnoException).code !== "ERR_STREAM_PREMATURE_CLOSE") throw error;
    }
  } finally {
    await handle.close();
  }
}
