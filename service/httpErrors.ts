import type { ErrorRequestHandler, Response } from "express";
import { StorageError } from "./appendLog";

/** An error with the HTTP status it should be answered with. */
export class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

export function sendError(res: Response, status: number, message: string): void {
  res.status(status).json({ error: message });
}

/** Maps every failure to a JSON error; only a bug in this code gives a 500. */
export function errorHandler(log: (fields: Record<string, unknown>) => void): ErrorRequestHandler {
  return (err, _req, res, _next) => {
    if (err instanceof HttpError) return sendError(res, err.status, err.message);
    if (err instanceof StorageError) {
      log({ level: "error", msg: "storage unavailable", error: err.message });
      return sendError(res, 503, `storage unavailable, nothing was stored: ${err.message}`);
    }
    // body-parser and the router set `status` (or `statusCode`) on client errors.
    const status = Number(err?.status ?? err?.statusCode);
    if (status === 413) return sendError(res, 413, "request body too large");
    if (status === 415) return sendError(res, 415, `unsupported request: ${err.message}`);
    if (status >= 400 && status < 500) return sendError(res, 400, `bad request: ${err.message}`);
    log({ level: "error", msg: "internal error", error: String(err?.stack ?? err) });
    return sendError(res, 500, "internal error");
  };
}
