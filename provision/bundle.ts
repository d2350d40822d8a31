/** The service as one self-contained CommonJS file for the host's Node 18: no npm install on the server. */
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

/** The repository root: the nearest directory above this file holding service/main.ts. */
function repoRoot(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, "service", "main.ts"))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`service/main.ts not found above ${__dirname}: the bundle is built from the repository's sources`);
  }
}

export async function buildServiceBundle(outDir?: string): Promise<{ file: string; sha256: string }> {
  // Loaded lazily: esbuild is a build tool, only needed when a bundle is actually made.
  const esbuild = await import("esbuild");
  const dir = outDir ?? fs.mkdtempSync(path.join(os.tmpdir(), "claude-bus-bundle-"));
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, "claude-bus.js");
  await esbuild.build({
    entryPoints: [path.join(repoRoot(), "service", "main.ts")],
    outfile: file,
    bundle: true,
    platform: "node",
    target: "node18",
    format: "cjs",
    legalComments: "none",
    logLevel: "silent",
  });
  const sha256 = createHash("sha256").update(fs.readFileSync(file)).digest("hex");
  return { file, sha256 };
}
