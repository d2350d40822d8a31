/** Mount-table checks: nothing is ever deleted while something is still mounted below it. */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

/** Mount points (as this process sees them) at or below `dir`. */
export function mountsUnder(dir: string): string[] {
  const prefix = dir.replace(/\/+$/, "");
  return readFileSync("/proc/self/mounts", "utf8")
    .split("\n")
    .map((line) => line.split(" ")[1])
    .filter((m): m is string => !!m)
    .map((m) => m.replace(/\\040/g, " "))
    .filter((m) => m === prefix || m.startsWith(`${prefix}/`));
}

/** Deletes a directory tree, refusing if anything is mounted inside it, never crossing file systems. */
export function removeTree(dir: string): void {
  const mounted = mountsUnder(dir);
  if (mounted.length) throw new Error(`refusing to delete ${dir}: still mounted there: ${mounted.join(", ")}`);
  execFileSync("rm", ["-rf", "--one-file-system", "--", dir], { stdio: "ignore" });
}
