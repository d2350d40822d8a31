/**
 * Files through the bus: a 200 MiB upload (POST /files: hashed, fsynced, renamed) and its download,
 * with curl, against a bare node:http server that writes the same upload to a file with one fsync and
 * sends it back; the bus's memory while it does; and the same through nginx (the rendered site, TLS),
 * which is how clients reach it.
 */
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { MIB } from "../contract/defaults";
import type { BenchContext } from "./context";
import { nginxFront } from "./nginxFront";
import { memory } from "./servers";
import { fmt } from "./table";

const FILE_MIB = 200;

/** curl's transfer of one request: its status and bytes per second (upload or download). */
function curl(args: string[]): { status: number; perSecond: number } {
  const r = spawnSync("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code} %{speed_upload} %{speed_download}", ...args], { encoding: "utf8" });
  const [status, up, down] = r.stdout.split(" ").map(Number);
  return { status, perSecond: Math.max(up, down) };
}

const mibs = (perSecond: number) => `${fmt(perSecond / MIB)} MiB/s`;

/** A node:http server that stores a POST's body in a file (one fsync) and sends that file back to a GET. */
function startBare(file: string): Promise<{ url: string; stop(): Promise<void> }> {
  const script = `const http = require("http"), fs = require("fs"), file = ${JSON.stringify(file)};
    http.createServer((q, s) => {
      if (q.method === "POST") {
        const fd = fs.openSync(file, "w"), out = fs.createWriteStream(null, { fd, autoClose: false });
        q.pipe(out).on("finish", () => { fs.fsyncSync(fd); fs.closeSync(fd); s.statusCode = 201; s.end("{}"); });
      } else {
        s.setHeader("Content-Length", fs.statSync(file).size);
        fs.createReadStream(file).pipe(s);
      }
    }).listen(0, "127.0.0.1", function () { console.log("http://127.0.0.1:" + this.address().port); });`;
  const child = spawn(process.execPath, ["-e", script], { stdio: ["ignore", "pipe", "inherit"] });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  return new Promise((resolve) => {
    child.stdout!.once("data", (d: Buffer) =>
      resolve({
        url: d.toString().trim(),
        stop: async () => {
          child.kill("SIGTERM");
          await exited;
        },
      }),
    );
  });
}

/** A file of FILE_MIB MiB whose content `seed` makes its own; resolves with its path and sha256. */
function writeSource(dir: string, seed: number): { file: string; sha: string; upload: string[] } {
  const file = path.join(dir, `source-${seed}.bin`);
  const fd = fs.openSync(file, "w");
  const chunk = Buffer.alloc(MIB);
  for (let i = 0; i < FILE_MIB; i++) fs.writeSync(fd, chunk.fill((i + seed) % 251));
  fs.closeSync(fd);
  const sha = spawnSync("sha256sum", [file], { encoding: "utf8" }).stdout.split(" ")[0];
  return { file, sha, upload: ["--data-binary", `@${file}`, "-H", "Content-Type: application/octet-stream"] };
}

export async function fileTransfers(ctx: BenchContext): Promise<void> {
  const dir = path.join(ctx.root, "files");
  fs.mkdirSync(dir);
  try {
    const { sha, upload } = writeSource(dir, 0);
    const bare = await startBare(path.join(dir, "bare.bin"));
    const bareUp = curl([...upload, `${bare.url}/`]);
    const bareDown = curl([`${bare.url}/`]);
    await bare.stop();
    ctx.report(
      `bare node:http, a ${FILE_MIB} MiB upload to a file (fsync) and its download, curl`,
      `${mibs(bareUp.perSecond)} up, ${mibs(bareDown.perSecond)} down`,
    );

    const bus = await ctx.startBus(path.join(dir, "bus"), ["--max-file-mib", String(FILE_MIB)]);
    try {
      const idle = memory(bus.pid).rss;
      const auth = ["-H", `Authorization: ${ctx.auth}`];
      const up = curl([...auth, ...upload, `${bus.url}/files?name=source.bin`]);
      const down = curl([...auth, `${bus.url}/files/${sha}`]);
      if (up.status !== 201 || down.status !== 200) throw new Error(`bus file transfer failed: upload ${up.status}, download ${down.status}`);
      ctx.report(
        `bus POST /files, ${FILE_MIB} MiB (sha256, fsync, rename), curl`,
        `${mibs(up.perSecond)} = ${fmt((up.perSecond / bareUp.perSecond) * 100)}% of bare`,
      );
      ctx.report(`bus GET /files/<sha256>, ${FILE_MIB} MiB, curl`, `${mibs(down.perSecond)} = ${fmt((down.perSecond / bareDown.perSecond) * 100)}% of bare`);
      ctx.report(`bus RSS during that upload and download`, `${fmt(memory(bus.pid).peak)} MiB peak (${fmt(idle)} MiB before)`);

      const front = await nginxFront(path.join(dir, "nginx"), Number(new URL(bus.url).port), FILE_MIB);
      if (!front) return ctx.report("the same through nginx", "not measured: nginx is not installed");
      try {
        // Other bytes, so that the bus stores them rather than finding them stored.
        const other = writeSource(dir, 1);
        const again = curl([...front.curlOptions, ...auth, ...other.upload, `${front.url}/files?name=source.bin`]);
        const back = curl([...front.curlOptions, ...auth, `${front.url}/files/${other.sha}`]);
        if (again.status !== 201 || back.status !== 200) throw new Error(`file transfer through nginx failed: upload ${again.status}, download ${back.status}`);
        ctx.report(`the same through nginx (TLS, the rendered site), curl`, `${mibs(again.perSecond)} up, ${mibs(back.perSecond)} down`);
      } finally {
        await front.stop();
      }
    } finally {
      await bus.stop();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
