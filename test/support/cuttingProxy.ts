/**
 * A TCP proxy on loopback that passes bytes through untouched, except one transfer it breaks off on
 * purpose: once `bytes` bytes of the first `method` request of a file (/files/...) have passed on its body
 * side (the request for a PUT, the answer for a GET), it stops forwarding, awaits `onCut` (the test acts on the bus meanwhile,
 * while new connections wait), then resets both sides. It records the head of every request it saw.
 */
import * as net from "node:net";

export interface CutOptions {
  method: "PUT" | "GET";
  /** Bytes of that side, head included, passed on before the cut. */
  bytes: number;
  onCut(): Promise<void>;
}

export interface CuttingProxy {
  url: string;
  /** Each request's head (request line and headers), in arrival order. */
  heads: string[];
  /** Whether the cut happened. */
  cut(): boolean;
  close(): Promise<void>;
}

export async function startCuttingProxy(target: string, options: CutOptions): Promise<CuttingProxy> {
  const { hostname, port } = new URL(target);
  const heads: string[] = [];
  const sockets = new Set<net.Socket>();
  let armed = true;
  let gate: Promise<void> = Promise.resolve();

  const server = net.createServer(async (client) => {
    sockets.add(client);
    client.on("close", () => sockets.delete(client));
    client.on("error", () => undefined);
    client.pause();
    await gate;
    const upstream = net.connect(Number(port), hostname);
    sockets.add(upstream);
    upstream.on("close", () => sockets.delete(upstream));
    upstream.on("error", () => !cutting && client.destroy());
    let head = "";
    let victim = false;
    let passed = 0;
    let cutting = false;

    /** Forwards `chunk` from `from` to `to`, or only its first part when this is the transfer to break. */
    const forward = (chunk: Buffer, to: net.Socket, bodySide: boolean) => {
      if (cutting) return;
      if (!victim || !bodySide) return void to.write(chunk);
      const room = options.bytes - passed;
      if (chunk.length < room) {
        passed += chunk.length;
        return void to.write(chunk);
      }
      cutting = true;
      to.write(chunk.subarray(0, room));
      client.pause();
      upstream.pause();
      gate = options.onCut().finally(() => {
        client.resetAndDestroy();
        upstream.resetAndDestroy();
      });
    };

    client.on("data", (chunk: Buffer) => {
      if (!head.includes("\r\n\r\n")) {
        head += chunk.toString("latin1");
        if (head.includes("\r\n\r\n")) {
          heads.push(head.slice(0, head.indexOf("\r\n\r\n")));
          if (armed && head.startsWith(`${options.method} /files/`)) {
            armed = false;
            victim = true;
          }
        }
      }
      forward(chunk, upstream, options.method === "PUT");
    });
    upstream.on("data", (chunk: Buffer) => forward(chunk, client, options.method === "GET"));
    client.on("end", () => !cutting && upstream.end());
    upstream.on("end", () => !cutting && client.end());
    client.resume();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    heads,
    cut: () => !armed,
    close: async () => {
      await gate;
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
