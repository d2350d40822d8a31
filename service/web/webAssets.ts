/**
 * The web app's files (web/, built by provision/webApp.ts). The host's single-file bundle carries them
 * inside it (provision/bundle.ts defines CLAUDE_BUS_WEB_ASSETS); run from the repository, they are read
 * from dist/webapp/, which `npm run build` writes (from service/web/ and from dist/service/web/).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { WEB_DIST_DIR, WEB_INDEX, type WebAssets } from "../../contract/webApp";

declare const CLAUDE_BUS_WEB_ASSETS: WebAssets | undefined;

/** From the sources (service/) and from the compiled tree (dist/service/): where the built app lies. */
const BUILT_DIRS = [path.join(__dirname, "..", "..", "dist", WEB_DIST_DIR), path.join(__dirname, "..", "..", WEB_DIST_DIR)];

/** The app's files, or null when this tree has none built (the routes then say how to build them). */
export function loadWebAssets(): WebAssets | null {
  if (typeof CLAUDE_BUS_WEB_ASSETS !== "undefined") return CLAUDE_BUS_WEB_ASSETS;
  const dir = BUILT_DIRS.find((d) => fs.existsSync(path.join(d, WEB_INDEX)));
  if (!dir) return null;
  return Object.fromEntries(fs.readdirSync(dir).map((name) => [name, fs.readFileSync(path.join(dir, name), "utf8")]));
}
