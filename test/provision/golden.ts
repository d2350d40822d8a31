/**
 * Golden files: the rendered host files and step scripts for GOLDEN_CFG (fixtures.ts), compared byte for
 * byte, so a template change shows as a whole-file diff in review. After an intended change, rewrite
 * them with `UPDATE_GOLDEN=1 npx jest test/provision` and commit the diff.
 */
import * as fs from "node:fs";
import * as path from "node:path";

const GOLDEN_DIR = path.join(__dirname, "golden");

export function expectGolden(name: string, actual: string): void {
  const file = path.join(GOLDEN_DIR, name);
  if (process.env.UPDATE_GOLDEN === "1") {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, actual);
  }
  if (!fs.existsSync(file)) throw new Error(`no golden file ${path.relative(process.cwd(), file)}: run UPDATE_GOLDEN=1 npx jest test/provision`);
  expect(actual).toBe(fs.readFileSync(file, "utf8"));
}
