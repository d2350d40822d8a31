/**
 * The service as one self-contained CommonJS file for the host's Node 18: `claude-bus serve` and the few
 * commands run on the host (below), so the host needs no npm install. Built from the repository root whatever the cwd, so its bytes
 * (and the sha256 that decides whether the host restarts the service) never depend on where it was built.
 */
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { buildWebApp } from "./webApp";

/** The repository root: the nearest directory above this file holding cli/commands/serve.ts. */
function repoRoot(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, "cli", "commands", "serve.ts"))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`cli/commands/serve.ts not found above ${__dirname}: the bundle is built from the repository's sources`);
  }
}

/**
 * The bundle's entry: the CLI with serve, restore and import on this host's data dir (which
 * `claude-bus restore|import --ssh` run here), and backup (the daily `backup --to-s3` of
 * claude-bus-backup.service). The unit runs `claude-bus.js --host H --port P --data D`: without a
 * command name, it is serve.
 */
const ENTRY = `
const { main } = require("./cli/main");
const { processIo } = require("./cli/io");
const { serve } = require("./cli/commands/serve");
const { restoreHere, importHere } = require("./cli/commands/dataDir");
const { backup } = require("./cli/commands/backup");
const commands = { serve: async () => serve, restore: async () => restoreHere, import: async () => importHere, backup: async () => backup };
const argv = process.argv.slice(2);
main(Object.hasOwn(commands, argv[0] ?? "") ? argv : ["serve", ...argv], processIo(), commands).then((code) => {
  process.exitCode = code;
});
`;

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
    stdin: { contents: ENTRY, resolveDir: root, sourcefile: "host-entry.js", loader: "js" },
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
