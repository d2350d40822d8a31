/** Where a command would be found on PATH, as a shell (or Windows, with PATHEXT) would find it. */
import { accessSync, constants, statSync } from "node:fs";
import * as path from "node:path";

export function findExecutable(name: string, env: NodeJS.ProcessEnv, platform: NodeJS.Platform = process.platform): string | undefined {
  const dirs = pathDirs(env, platform);
  // Windows runs `claude-bus` as claude-bus.cmd (npm's shim) or .exe; elsewhere the name is the file
  const suffixes = platform === "win32" ? ["", ...(env.PATHEXT ?? ".COM;.EXE;.BAT;.CMD").split(";").map((e) => e.toLowerCase())] : [""];
  for (const dir of dirs) {
    for (const suffix of suffixes) {
      const candidate = path.join(dir, name + suffix);
      try {
        if (!statSync(candidate).isFile()) continue;
        if (platform !== "win32") accessSync(candidate, constants.X_OK);
        return candidate;
      } catch {
        // not here
      }
    }
  }
  return undefined;
}

/**
 * The PATH a new shell would have: npm and npx (`npm_command` in the environment) put every
 * `node_modules/.bin` above the working directory, and npx its own cache, in front of the user's PATH.
 * Claude Code, started later from a shell, sees none of them.
 */
export function shellEnv(env: NodeJS.ProcessEnv, platform: NodeJS.Platform = process.platform): NodeJS.ProcessEnv {
  if (env.npm_command === undefined) return env;
  const delimiter = platform === "win32" ? path.win32.delimiter : path.posix.delimiter;
  const injected = (dir: string) => /[\\/]node_modules[\\/]\.bin[\\/]?$|[\\/]node-gyp-bin[\\/]?$/.test(dir);
  const kept = pathDirs(env, platform).filter((dir) => !injected(dir));
  return { ...env, PATH: kept.join(delimiter), Path: undefined };
}

function pathDirs(env: NodeJS.ProcessEnv, platform: NodeJS.Platform): string[] {
  const delimiter = platform === "win32" ? path.win32.delimiter : path.posix.delimiter;
  return (env.PATH ?? env.Path ?? "").split(delimiter).filter(Boolean);
}
