/**
 * Where route modules register their routes: each registration is also what the 405 answer's `Allow`
 * header says for that path, so no second list is kept by hand.
 */
import type express from "express";
import { sendError } from "./httpErrors";

/** A handler, or a list of them (like json.ts's jsonBody). */
type Handler = express.RequestHandler | express.RequestHandler[];

/** The order methods are named in an `Allow` header. */
const METHOD_ORDER = ["GET", "HEAD", "POST", "PUT", "DELETE"];

export class Routes {
  /** Methods taken, by path as registered. */
  private readonly allowed = new Map<string, Set<string>>();

  constructor(private readonly app: express.Express) {}

  /** A GET route; Express answers HEAD with it too. */
  get(path: string, ...handlers: Handler[]): void {
    this.take(path, "GET", "HEAD");
    this.app.get(path, ...handlers);
  }

  post(path: string, ...handlers: Handler[]): void {
    this.take(path, "POST");
    this.app.post(path, ...handlers);
  }

  put(path: string, ...handlers: Handler[]): void {
    this.take(path, "PUT");
    this.app.put(path, ...handlers);
  }

  delete(path: string, ...handlers: Handler[]): void {
    this.take(path, "DELETE");
    this.app.delete(path, ...handlers);
  }

  /** Each path's `Allow` value, as registered so far. */
  allowHeaders(): Map<string, string> {
    const order = (m: string) => METHOD_ORDER.indexOf(m);
    return new Map([...this.allowed].map(([path, methods]) => [path, [...methods].sort((a, b) => order(a) - order(b)).join(", ")]));
  }

  /** Answers 405, with `Allow`, to any other method on a registered path: call it after the last route. */
  refuseOtherMethods(): void {
    for (const [path, allow] of this.allowHeaders()) {
      this.app.all(path, (req, res) => {
        res.setHeader("Allow", allow);
        sendError(res, "methodNotAllowed", `method ${req.method} not allowed on ${req.path}; use ${allow}`);
      });
    }
  }

  private take(path: string, ...methods: string[]): void {
    const taken = this.allowed.get(path) ?? new Set<string>();
    for (const method of methods) taken.add(method);
    this.allowed.set(path, taken);
  }
}
