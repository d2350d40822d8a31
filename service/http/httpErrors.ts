/** How the service answers errors: a kind from the contract's table, in its JSON shape, never a stack trace. */
import type { ErrorRequestHandler, Response } from "express";
import { HTTP_ERRORS, type HttpErrorName, errorBody } from "../../contract/httpErrors";
import { StorageError } from "../store/appendLog";
import type { Log } from "../log";

/** An error a handler throws to answer with that kind; `text` says precisely what was wrong. */
export class HttpError extends Error {
  readonly status: number;
  constructor(
    readonly kind: HttpErrorName,
    text: string = HTTP_ERRORS[kind].text,
  ) {
    super(text);
    this.status = HTTP_ERRORS[kind].status;
  }
}

export function sendError(res: Response, kind: HttpErrorName, text: string = HTTP_ERRORS[kind].text): void {
  res.status(HTTP_ERRORS[kind].status).type("application/json").send(errorBody(text));
}

/** Maps every failure to a JSON error; only a bug in this code gives a 500. */
export function errorHandler(log: Log): ErrorRequestHandler {
  return (err, _req, res, _next) => {
    if (res.headersSent) {
      // A streamed answer failed half way: the client must not take the part for the whole. (An answer
      // sent whole already, a 408 for a body that stalled, only closes the connection.)
      if (!res.writableEnded) log({ level: "error", msg: "answer cut short", error: String(err?.message ?? err) });
      return res.destroy();
    }
    if (err instanceof HttpError) return sendError(res, err.kind, err.message);
    if (err instanceof StorageError) {
      log({ level: "error", msg: "storage unavailable", error: err.message });
      return sendError(res, "storageUnavailable", `${HTTP_ERRORS.storageUnavailable.text}: ${err.publicText}`);
    }
    // body-parser and the router set `status` (or `statusCode`) on client errors.
    const status = Number(err?.status ?? err?.statusCode);
    if (status === 413) return sendError(res, "tooLarge");
    if (status === 415) return sendError(res, "unsupportedMediaType", `unsupported request: ${err.message}`);
    if (status >= 400 && status < 500) return sendError(res, "badRequest", `bad request: ${err.message}`);
    log({ level: "error", msg: "internal error", error: String(err?.stack ?? err) });
    return sendError(res, "internal");
  };
}
