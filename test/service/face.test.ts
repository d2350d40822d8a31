/** The arrows of docs/ARCHITECTURE.md, read from the sources: service/ has one face, and looks only down. */
import * as fs from "node:fs";
import * as path from "node:path";

const REPO = path.join(__dirname, "../..");
const SOURCE_ROOTS = ["contract", "service", "client", "cli", "provision", "infra"];

function sources(dir: string): string[] {
  return fs.readdirSync(path.join(REPO, dir), { withFileTypes: true }).flatMap((entry) => {
    const rel = path.join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === "node_modules" ? [] : sources(rel);
    return entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts") ? [rel] : [];
  });
}

/** Every repository module a file imports (static, dynamic and type-only), as a path from the root without .ts. */
function importsOf(file: string): string[] {
  const text = fs.readFileSync(path.join(REPO, file), "utf8");
  const specs = [...text.matchAll(/(?:from|import)\s*\(?\s*"(\.{1,2}\/[^"]+)"/g)].map((m) => m[1]);
  return specs.map((spec) => path.normalize(path.join(path.dirname(file), spec)).replace(/\/index$/, ""));
}

const roomOf = (module: string) => module.split(path.sep)[0];
const edges = SOURCE_ROOTS.flatMap(sources).flatMap((file) => importsOf(file).map((to) => ({ from: file, to })));

describe("the service's face", () => {
  it("is the only module of service/ that the rest of the repository imports", () => {
    const around = edges.filter((e) => roomOf(e.from) !== "service" && roomOf(e.to) === "service" && e.to !== "service");
    expect(around).toEqual([]);
  });

  it("is used: serve and the data-dir commands reach the service through it", () => {
    const users = edges.filter((e) => e.to === "service").map((e) => e.from);
    expect(users).toEqual(expect.arrayContaining([path.join("cli", "commands", "serve.ts"), path.join("cli", "commands", "dataDir.ts")]));
  });

  it("service/ imports nothing of ours but contract/ and itself", () => {
    const up = edges.filter((e) => roomOf(e.from) === "service" && !["service", "contract"].includes(roomOf(e.to)));
    expect(up).toEqual([]);
  });
});
