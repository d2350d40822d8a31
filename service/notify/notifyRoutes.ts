/**
 * GET, PUT and DELETE /settings/notify: the ntfy setting of the credential's own name (the team
 * credential's is its user's). The token goes in and never comes out: answers say only `token_set`.
 */
import type { Request, Response } from "express";
import { NotifySettingsBodySchema } from "../../contract/notify";
import type { Identity } from "../members/access";
import { identityOf } from "../members/authenticate";
import { HttpError } from "../http/httpErrors";
import { jsonBody, parse, sendJson } from "../http/json";
import type { Routes } from "../http/routes";
import type { Log } from "../log";
import { NotifySettings, viewOf } from "./notifySettings";

export const NOTIFY_PATH = "/settings/notify";

const ownName = (identity: Identity) => (identity.kind === "machine" ? identity.name : identity.user);

export function addNotifyRoutes(routes: Routes, settings: NotifySettings, log: Log): void {
  routes.get(NOTIFY_PATH, (_req: Request, res: Response) => {
    const name = ownName(identityOf(res));
    const setting = settings.get(name);
    if (!setting) throw new HttpError("notFound", `"${name}" has no notifications set`);
    sendJson(res, 200, viewOf(setting));
  });

  routes.put(NOTIFY_PATH, jsonBody, async (req: Request, res: Response) => {
    const name = ownName(identityOf(res));
    const input = parse(NotifySettingsBodySchema, req.body, { root: "request body", unknown: "field" });
    // Absent: the token set before stays (changing the mode needs no token again); null removes it.
    const token = input.token === undefined ? settings.get(name)?.token : input.token ?? undefined;
    const setting = { url: input.url, mode: input.mode, ...(token !== undefined && { token }) };
    await settings.change(name, setting);
    log({ msg: "notifications set", name, host: new URL(input.url).host, mode: input.mode });
    sendJson(res, 200, viewOf(setting));
  });

  routes.delete(NOTIFY_PATH, async (_req: Request, res: Response) => {
    const name = ownName(identityOf(res));
    const had = settings.get(name) !== undefined;
    if (had) await settings.change(name, null);
    if (had) log({ msg: "notifications removed", name });
    sendJson(res, 200, { ok: true, removed: had });
  });
}
