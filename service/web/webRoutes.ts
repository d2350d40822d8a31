/**
 * The web inbox's routes: GET / (the page) and GET /app/<asset> (its script and style), answered before
 * authentication (the page holds no data: everything it shows comes from the API with the session cookie).
 * Assets are named by their content's hash, so they are cached for good; the page is revalidated by ETag.
 */
import { createHash } from "node:crypto";
import type express from "express";
import { WEB_INDEX, type WebAssets } from "../../contract/webApp";
import { HttpError } from "../http/httpErrors";
import type { Routes } from "../http/routes";

/** No inline script or style, nothing from elsewhere, never framed: a sender's text can only ever be text. */
export const WEB_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

const CONTENT_TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  svg: "image/svg+xml",
};

interface Served {
  body: Buffer;
  type: string;
  etag: string;
}

function served(name: string, text: string): Served {
  const body = Buffer.from(text, "utf8");
  const type = CONTENT_TYPES[name.slice(name.lastIndexOf(".") + 1)] ?? "application/octet-stream";
  return { body, type, etag: `"${createHash("sha256").update(body).digest("hex").slice(0, 32)}"` };
}

function send(req: express.Request, res: express.Response, file: Served, cacheControl: string): void {
  res.setHeader("Content-Security-Policy", WEB_CSP);
  res.setHeader("Referrer-Policy", "no-referrer");
  res.setHeader("X-Frame-Options", "DENY");
  res.setHeader("Cache-Control", cacheControl);
  res.setHeader("ETag", file.etag);
  if (req.headers["if-none-match"] === file.etag) {
    res.status(304).end();
    return;
  }
  res.status(200).type(file.type).send(file.body);
}

export function addWebAppRoutes(routes: Routes, assets: WebAssets | null): void {
  const files = new Map(Object.entries(assets ?? {}).map(([name, text]) => [name, served(name, text)]));
  const notBuilt = () => new HttpError("serviceUnavailable", "the web app is not built in this tree: run npm run build");
  routes.get("/", (req, res) => {
    const index = files.get(WEB_INDEX);
    if (!index) throw notBuilt();
    send(req, res, index, "no-cache");
  });
  routes.get("/app/:asset", (req, res) => {
    const name = req.params.asset as string;
    const file = name === WEB_INDEX ? undefined : files.get(name);
    if (!file) throw new HttpError("notFound", `the web app has no file ${JSON.stringify(name)}`);
    send(req, res, file, "public, max-age=31536000, immutable");
  });
}
