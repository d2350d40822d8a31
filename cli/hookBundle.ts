/**
 * Builds dist/hook.js (run by `npm run build`): the hook and what it imports in one file, so the process
 * Claude Code starts before every prompt reads one file instead of resolving ~150 modules. zod's
 * translations (~260 KiB of the bundle, never used: the messages are our own) are left out.
 */
import * as path from "node:path";
import { build, type Plugin } from "esbuild";

const REPO = path.resolve(__dirname, "../..");

/** zod re-exports every locale as `z.locales`; the English one it uses is imported on its own. */
const withoutZodLocales: Plugin = {
  name: "without-zod-locales",
  setup(b) {
    b.onResolve({ filter: /\/locales\/index\.js$/ }, (args) =>
      args.importer.includes(`${path.sep}zod${path.sep}`) ? { path: args.path, namespace: "no-locales" } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: "no-locales" }, () => ({ contents: "export {};", loader: "js" }));
  },
};

export async function buildHookBundle(outfile = path.join(REPO, "dist", "hook.js")): Promise<void> {
  await build({
    entryPoints: [path.join(REPO, "cli", "hookEntry.ts")],
    outfile,
    bundle: true,
    platform: "node",
    target: "node18",
    format: "cjs",
    // zod's ES modules, so the plugin above can leave a module out
    mainFields: ["module", "main"],
    minify: true,
    legalComments: "none",
    plugins: [withoutZodLocales],
    logLevel: "error",
  });
}

if (require.main === module) {
  buildHookBundle().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
