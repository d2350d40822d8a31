/**
 * Builds the web inbox (web/) into the files the service serves: the page, one minified script and one
 * stylesheet, each named by its content's hash (so the service may let browsers cache them for good).
 * `npm run build` writes them to dist/webapp/ for a bus run from the repository; provision/bundle.ts
 * carries them inside the host's single file.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { WEB_DIST_DIR, WEB_INDEX, type WebAssets } from "../contract/webApp";

/** The repository root: the nearest directory above this file holding web/index.html. */
function repoRoot(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, "web", WEB_INDEX))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`web/${WEB_INDEX} not found above ${__dirname}: the web app is built from the repository's sources`);
  }
}

/** Browsers the app is written for: what supports crypto.subtle, <dialog> and ES2020. */
const BROWSERS = ["chrome100", "firefox100", "safari15.4"];

const hashed = (base: string, ext: string, text: string) => `${base}-${createHash("sha256").update(text).digest("hex").slice(0, 12)}.${ext}`;

export async function buildWebApp(): Promise<WebAssets> {
  // Loaded lazily: esbuild is a build tool, only needed when the app is actually built.
  const esbuild = await import("esbuild");
  const web = path.join(repoRoot(), "web");
  const script = await esbuild.build({
    entryPoints: [path.join(web, "src", "main.ts")],
    bundle: true,
    write: false,
    minify: true,
    format: "iife",
    target: BROWSERS,
    legalComments: "none",
    logLevel: "silent",
  });
  const style = await esbuild.transform(fs.readFileSync(path.join(web, "app.css"), "utf8"), { loader: "css", minify: true, target: BROWSERS });
  const js = script.outputFiles[0]!.text;
  const jsName = hashed("app", "js", js);
  const cssName = hashed("app", "css", style.code);
  const page = fs.readFileSync(path.join(web, WEB_INDEX), "utf8").replace("app.js", `/app/${jsName}`).replace("app.css", `/app/${cssName}`);
  return { [WEB_INDEX]: page, [jsName]: js, [cssName]: style.code };
}

/** Writes the built app into `dir`, replacing what an earlier build left there. */
export async function writeWebApp(dir = path.join(repoRoot(), "dist", WEB_DIST_DIR)): Promise<void> {
  const assets = await buildWebApp();
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(assets)) fs.writeFileSync(path.join(dir, name), text);
}

if (require.main === module) {
  writeWebApp().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
