/**
 * The web app's files (web/, built by provision/webApp.ts). The host's single-file bundle carries them
 * inside it (provision/bundle.ts defines CLAUDE_BUS_WEB_ASSETS); run from the repository, they are read
 * from dist/webapp/, which `npm run build` writes.
 */
import * as fs from "fs";
import * as path from "path";

/** A file of the app by its name under /app/ (the page itself is "index.html"). */
export type WebAssets = Record<string, string>;

/** The page every asset is linked from. */
export const WEB_INDEX = "index.html";

/** The directory `npm run build` writes the app to, below the repository's dist/. */
export const WEB_DIST_DIR = "webapp";

declare const CLAUDE_BUS_WEB_ASSETS: WebAssets | undefined;

/** From the sources (service/) and from the compiled tree (dist/service/): where the built app lies. */
const BUILT_DIRS = [path.join(__dirname, "..", "dist", WEB_DIST_DIR), path.join(__dirname, "..", WEB_DIST_DIR)];

/** The app's files, or null when this tree has none built (the routes then say how to build them). */
export function loadWebAssets(): WebAssets | null {
  if (typeof CLAUDE_BUS_WEB_ASSETS !== "undefined") return CLAUDE_BUS_WEB_ASSETS;
  const dir = BUILT_DIRS.find((d) => fs.existsSync(path.join(d, WEB_INDEX)));
  if (!dir) return null;
  return Object.fromEntries(fs.readdirSync(dir).map((name) => [name, fs.readFileSync(path.join(dir, name), "utf8")]));
}
