/** Temp dirs for a test file, removed after it (root-level afterAll: after the file's own hooks, which may unmount). */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const created: string[] = [];
afterAll(() => {
  for (const dir of created.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

export function tempDir(prefix = "test"): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `claude-bus-${prefix}-`));
  created.push(dir);
  return dir;
}
