/** `claude-bus restore FILE` and `claude-bus import FILE` as a user runs them, on a data dir of this machine. */
import * as fs from "node:fs";
import * as path from "node:path";
import * as zlib from "node:zlib";
import { tarEnd, tarHeader, tarPadding } from "../../service/dataDir/tar";
import { startBus } from "../support/bus";
import { allMessages } from "../support/http";
import { cliPerFile, runCli, tempDir } from "./harness";

let cli: string;
cliPerFile((bundled) => (cli = bundled));

const backupOf = (files: Record<string, string>) =>
  zlib.gzipSync(
    Buffer.concat([
      ...Object.entries(files).flatMap(([name, text]) => [tarHeader(name, Buffer.byteLength(text)), Buffer.from(text), tarPadding(Buffer.byteLength(text))]),
      tarEnd(),
    ]),
  );

it("restore puts a backup into the data dir and says how many messages it holds; again without --force is refused", async () => {
  const home = tempDir("home");
  const file = path.join(home, "backup.tar.gz");
  const line = JSON.stringify({ id: "1", ts: "2026-01-01T00:00:00.000Z", from: "a", to: "any", body: "kept", tags: [], read_by: ["a"], thread: "1" });
  fs.writeFileSync(file, backupOf({ "bus.jsonl": `${line}\n`, "acks.jsonl": "" }));
  const data = path.join(home, "data");
  const first = await runCli(cli, ["restore", file, "--data", data], { home });
  expect([first.code, first.stdout]).toEqual([0, `restored 1 messages into ${data}\n`]);
  const again = await runCli(cli, ["restore", file, "--data", data], { home });
  expect(again.code).toBe(1);
  expect(again.stderr).toContain("already holds a store (bus.jsonl): restore into an empty data dir, or add --force to replace it");
  expect((await runCli(cli, ["restore", file, "--data", data, "--force"], { home })).code).toBe(0);
  const bus = await startBus({ dataDir: data });
  try {
    expect((await allMessages(bus.url)).map((m) => m.body)).toEqual(["kept"]);
  } finally {
    await bus.close();
  }
});

it("import prints each old id with its new one (--json: as an object), and refuses a missing file clearly", async () => {
  const home = tempDir("home");
  const file = path.join(home, "bus.jsonl");
  fs.writeFileSync(
    file,
    [
      { id: "x9", ts: "2026-05-25T17:00:00Z", from: "ccwhitebee", body: "one" },
      { id: "y8", ts: "2026-05-25T17:01:00Z", from: "ccwhitebee", body: "two" },
    ]
      .map((m) => JSON.stringify(m))
      .join("\n"),
  );
  const plain = await runCli(cli, ["import", file, "--data", path.join(home, "a")], { home });
  expect([plain.code, plain.stdout]).toEqual([0, "x9 -> 1\ny8 -> 2\n"]);
  expect(plain.stderr).toContain("imported 2 messages into");
  const json = await runCli(cli, ["import", file, "--data", path.join(home, "b"), "--json"], { home });
  expect(JSON.parse(json.stdout)).toEqual({ x9: "1", y8: "2" });
  const missing = await runCli(cli, ["import", path.join(home, "nope.jsonl")], { home });
  expect([missing.code, missing.stderr]).toEqual([1, expect.stringContaining(`import: cannot read ${path.join(home, "nope.jsonl")}: ENOENT`)]);
});
