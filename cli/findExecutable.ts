/** Where a command would be found on PATH, as a shell (or Windows, with PATHEXT) would find it. */
import { accessSync, constants, statSync } from "node:fs";
import * as path from "node:path";

export function findExecutable(name: string, env: NodeJS.ProcessEnv, platform: NodeJS.Platform = process.platform): string | undefined {
  const delimiter = platform === "win32" ? path.win32.delimiter : path.posix.delimiter;
  const dirs = (env.PATH ?? env.Path ?? "").split(delimiter).filter(Boolean);
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
