/**
 * The ceilings the bus is read against, run as `node bareServer.js node|express`: the least a node:http
 * server and an Express 5 app can do to answer `{"ok":true}`. Prints its URL once it listens.
 */
import express from "express";
import * as http from "node:http";
import type { AddressInfo } from "node:net";

const BODY = '{"ok":true}\n';

function bareNode(): http.Server {
  return http.createServer((req, res) => {
    req.resume();
    res.setHeader("Content-Type", "application/json");
    res.end(BODY);
  });
}

function bareExpress(): http.Server {
  const app = express();
  app.get("/", (_req, res) => {
    res.type("application/json").send(BODY);
  });
  return http.createServer(app);
}

const kind = process.argv[2];
const server = kind === "express" ? bareExpress() : kind === "node" ? bareNode() : null;
if (!server) throw new Error(`usage: node bareServer.js node|express (got ${kind})`);
server.listen(0, "127.0.0.1", () => console.log(`http://127.0.0.1:${(server.address() as AddressInfo).port}`));
