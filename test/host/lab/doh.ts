/**
 * A DNS-over-HTTPS stand-in (the JSON API that Cloudflare's and Google's resolvers answer) on this
 * machine's loopback, which the throwaway host shares: it answers A and AAAA queries from a table the test
 * sets (an A of 127.0.0.1 and no AAAA for any other name), and records what it was asked. No query ever leaves this machine.
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { onTeardown } from "./teardown";

export interface DohStandIn {
  /** The resolver URL for the host config's dohUrl. */
  url: string;
  /** The A records `name` gets from now on, and its AAAA records (the addresses with a colon; none unless given). */
  answer(name: string, ...addresses: string[]): void;
  /** The names asked for, in order. */
  asked: string[];
}

export async function startDohStandIn(): Promise<DohStandIn> {
  const table = new Map<string, string[]>();
  const RECORD_TYPES: Record<string, { number: number; family: (address: string) => boolean }> = {
    A: { number: 1, family: (a) => !a.includes(":") },
    AAAA: { number: 28, family: (a) => a.includes(":") },
  };
  const asked: string[] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const name = (url.searchParams.get("name") ?? "").replace(/\.$/, "");
    asked.push(name);
    const type = RECORD_TYPES[url.searchParams.get("type") ?? ""];
    const ok = url.pathname === "/dns-query" && type !== undefined && req.headers.accept === "application/dns-json";
    if (!ok) {
      res.writeHead(400).end();
      return;
    }
    const addresses = (table.get(name) ?? ["127.0.0.1"]).filter(type.family);
    const body = {
      Status: 0,
      Question: [{ name: `${name}.`, type: type.number }],
      Answer: addresses.map((data) => ({ name: `${name}.`, type: type.number, TTL: 300, data })),
    };
    res.writeHead(200, { "content-type": "application/dns-json" }).end(JSON.stringify(body));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  server.unref();
  onTeardown("DNS-over-HTTPS stand-in", () => server.close());
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/dns-query`, answer: (name, ...addresses) => table.set(name, addresses), asked };
}
