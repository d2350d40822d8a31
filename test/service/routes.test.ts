/** The 405 answer comes from what route modules register, not from a list kept beside them. */
import express from "express";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { Routes } from "../../service/http/routes";
import { sendJson } from "../../service/http/json";
import { request } from "../support/http";

describe("Routes", () => {
  let server: http.Server;
  let url: string;
  beforeAll(async () => {
    const app = express();
    const routes = new Routes(app);
    // As two route modules would: one path shared between them, registered in no particular order.
    routes.put("/things/:id", (_req, res) => sendJson(res, 200, { put: true }));
    routes.post("/things", (_req, res) => sendJson(res, 201, { posted: true }));
    routes.get("/things/:id", (_req, res) => sendJson(res, 200, { got: true }));
    routes.delete("/things/:id", (_req, res) => sendJson(res, 200, { deleted: true }));
    routes.refuseOtherMethods();
    server = http.createServer(app);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("names each path's registered methods, in one order, HEAD with GET", () => {
    const routes = new Routes(express());
    routes.post("/a", () => undefined);
    routes.get("/a", () => undefined);
    routes.put("/b", () => undefined);
    expect(Object.fromEntries(routes.allowHeaders())).toEqual({ "/a": "GET, HEAD, POST", "/b": "PUT" });
  });

  it("answers a method no module registered on a path with 405 and that path's Allow", async () => {
    for (const [method, path, allow] of [
      ["POST", "/things/1", "GET, HEAD, PUT, DELETE"],
      ["PATCH", "/things/1", "GET, HEAD, PUT, DELETE"],
      ["GET", "/things", "POST"],
    ]) {
      const r = await request(url, path, { method });
      expect({ method, path, status: r.status, allow: r.headers.allow }).toEqual({ method, path, status: 405, allow });
      expect(r.json).toEqual({ error: `method ${method} not allowed on ${path}; use ${allow}` });
    }
  });

  it("lets registered methods through to their handlers", async () => {
    expect((await request(url, "/things/1", { method: "DELETE" })).json).toEqual({ deleted: true });
    expect((await request(url, "/things", { method: "POST" })).status).toBe(201);
    expect((await request(url, "/things/1", { method: "HEAD" })).status).toBe(200);
  });
});
