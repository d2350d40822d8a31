/** The throwaway host shares this machine's network: every port it will bind must be free first. */
import { readFileSync } from "node:fs";

/** Local ports in LISTEN state (TCP) or bound (UDP), read from /proc/net: no probing binds needed. */
function boundPorts(): { tcp: Set<number>; udp: Set<number> } {
  const read = (files: string[], listenOnly: boolean) => {
    const ports = new Set<number>();
    for (const f of files) {
      let text = "";
      try {
        text = readFileSync(f, "utf8");
      } catch {
        continue;
      }
      for (const line of text.split("\n").slice(1)) {
        const cols = line.trim().split(/\s+/);
        if (cols.length < 4) continue;
        if (listenOnly && cols[3] !== "0A") continue;
        ports.add(parseInt(cols[1].split(":")[1], 16));
      }
    }
    return ports;
  };
  return { tcp: read(["/proc/net/tcp", "/proc/net/tcp6"], true), udp: read(["/proc/net/udp", "/proc/net/udp6"], false) };
}

/** Throws a message naming every busy port and who needs it. */
export function assertPortsFree(tcp: Record<number, string>, udp: Record<number, string> = {}): void {
  const bound = boundPorts();
  const busy = [
    ...Object.entries(tcp)
      .filter(([p]) => bound.tcp.has(Number(p)))
      .map(([p, who]) => `tcp ${p} (${who})`),
    ...Object.entries(udp)
      .filter(([p]) => bound.udp.has(Number(p)))
      .map(([p, who]) => `udp ${p} (${who})`),
  ];
  if (busy.length) {
    throw new Error(
      `the throwaway host shares this machine's network and needs these ports, which are in use: ${busy.join(", ")}. ` +
        "Stop whatever listens there (ss -ltnup shows it) and run again.",
    );
  }
}
