/** JSON in and out: request bodies checked before any handler sees them, answers in one shape. */
import express, { type NextFunction, type Request, type Response } from "express";
import { TextDecoder } from "node:util";
import type { z } from "zod";
import { MAX_REQUEST_BYTES } from "../../contract/defaults";
import { describeIssue, type IssueWords } from "../../contract/issues";
import { acceptBody, expectsContinue } from "./connections";
import { HttpError } from "./httpErrors";

/** Every JSON answer ends with a newline, so a curl line without `| jq` does not run into the prompt. */
export function sendJson(res: Response, status: number, value: unknown): void {
  res
    .status(status)
    .type("application/json")
    .send(`${JSON.stringify(value)}\n`);
}

/** A route's body parsers: application/json in UTF-8, at most MAX_REQUEST_BYTES, parsed. */
export const jsonBody: express.RequestHandler[] = [requireJson, express.raw({ type: () => true, limit: MAX_REQUEST_BYTES }), decodeJson];

function requireJson(req: Request, res: Response, next: NextFunction): void {
  const type = req.headers["content-type"];
  if (!type || !req.is("application/json")) {
    next(new HttpError("unsupportedMediaType"));
    return;
  }
  const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(type)?.[1];
  if (charset && !/^utf-?8$/i.test(charset)) {
    next(new HttpError("unsupportedMediaType", "charset must be utf-8"));
    return;
  }
  // A client that waits for 100 Continue is refused on its Content-Length before it sends the body (the
  // body parser would wait for that body first); any other client's body is read and dropped as before.
  if (Number(req.headers["content-length"] ?? 0) > MAX_REQUEST_BYTES && expectsContinue(req)) {
    res.setHeader("Connection", "close");
    next(new HttpError("tooLarge"));
    return;
  }
  acceptBody(req, res);
  next();
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

function decodeJson(req: Request, _res: Response, next: NextFunction): void {
  const raw = req.body as unknown;
  if (!Buffer.isBuffer(raw) || raw.length === 0) {
    next(new HttpError("badRequest", "request body is empty; send a JSON object"));
    return;
  }
  let text: string;
  try {
    text = utf8.decode(raw);
  } catch {
    next(new HttpError("badRequest", "request body is not valid UTF-8"));
    return;
  }
  try {
    req.body = JSON.parse(text);
  } catch (error) {
    next(new HttpError("badRequest", `request body is not valid JSON: ${(error as Error).message}`));
    return;
  }
  next();
}

/** A request's query against its schema: each parameter given once, as a plain value; an unknown one is a 400. */
export function parseQuery<T extends z.ZodType>(schema: T, query: unknown): z.infer<T> {
  for (const [key, value] of Object.entries(query as Record<string, unknown>)) {
    if (typeof value !== "string") throw new HttpError("badRequest", `${key}: must be given once, as a plain value`);
  }
  return parse(schema, query, { root: "query", unknown: "parameter" });
}

export function parse<T extends z.ZodType>(schema: T, value: unknown, words: IssueWords): z.infer<T> {
  const result = schema.safeParse(value);
  if (!result.success) throw new HttpError("badRequest", describeIssue(result.error.issues[0], words));
  return result.data;
}
