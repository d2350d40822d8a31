/**
 * The service as one self-contained CommonJS file for the host's Node 18: `claude-bus serve` and the few
 * commands run on the host (below), so the host needs no npm install. Built from the repository root whatever the cwd, so its bytes
 * (and the sha256 that decides whether the host restarts the service) never depend on where it was built.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { buildWebApp } from "./webApp";

/** The bundle's entry (what it runs, and why it lives in cli/, is said there). */
const ENTRY = path.join("cli", "hostEntry.ts");

/** The repository root: the nearest directory above this file holding the entry. */
function repoRoot(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, ENTRY))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`${ENTRY} not found above ${__dirname}: the bundle is built from the repository's sources`);
  }
}

export async function buildServiceBundle(outDir?: string): Promise<{ file: string; sha256: string }> {
  // Loaded lazily: esbuild is a build tool, only needed when a bundle is actually made.
  const esbuild = await import("esbuild");
  const root = repoRoot();
  const dir = outDir ?? fs.mkdtempSync(path.join(os.tmpdir(), "claude-bus-bundle-"));
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, "claude-bus.js");
  // The web inbox inside the bundle (service/web/webAssets.ts reads it): the host needs no other file.
  const web = await buildWebApp();
  await esbuild.build({
    entryPoints: [path.join(root, ENTRY)],
    absWorkingDir: root,
    outfile: file,
    bundle: true,
    platform: "node",
    target: "node18",
    format: "cjs",
    legalComments: "none",
    logLevel: "silent",
    define: { CLAUDE_BUS_WEB_ASSETS: JSON.stringify(web) },
  });
  const sha256 = createHash("sha256").update(fs.readFileSync(file)).digest("hex");
  return { file, sha256 };
}
