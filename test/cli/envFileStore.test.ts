/** The credentials file on disk: private when written, a warning when others can read it (not on Windows). */
import * as fs from "node:fs";
import * as path from "node:path";
import { readEnvFile, writeEnvFile } from "../../cli/envFileStore";
import { tempDir } from "../support/tempDir";

const TEXT = "BUS_USER=claude\nBUS_PASS=EnvFileStorePassw0rdEnvFile\nBUS_URL=https://claude-bus.example.com\n";
const mode = (file: string) => fs.statSync(file).mode & 0o777;

it("writing the file tightens a loose ~/.secrets to 0700, and the file is 0600", async () => {
  const secrets = path.join(tempDir("home"), ".secrets");
  fs.mkdirSync(secrets, { mode: 0o755 });
  fs.chmodSync(secrets, 0o755);
  const file = path.join(secrets, "claude-bus.env");
  await writeEnvFile(file, TEXT);
  expect([mode(secrets), mode(file), fs.readFileSync(file, "utf8")]).toEqual([0o700, 0o600, TEXT]);
});

it.each([
  ["0640", 0o640],
  ["0604", 0o604],
  ["0644", 0o644],
])("reading a file of mode %s warns and says chmod 600; 0600 is quiet", async (shown, loose) => {
  const file = path.join(tempDir("env"), "claude-bus.env");
  fs.writeFileSync(file, TEXT, { mode: 0o600 });
  const warnings: string[] = [];
  await readEnvFile(file, (line) => warnings.push(line), "linux");
  expect(warnings).toEqual([]);
  fs.chmodSync(file, loose);
  const values = await readEnvFile(file, (line) => warnings.push(line), "linux");
  expect(values?.BUS_USER).toBe("claude");
  expect(warnings).toEqual([`warning: ${file} holds the bus password and others can read it (mode ${shown}): chmod 600 ${file}`]);
});

it("Windows has no such modes: no warning there", async () => {
  const file = path.join(tempDir("env"), "claude-bus.env");
  fs.writeFileSync(file, TEXT, { mode: 0o644 });
  fs.chmodSync(file, 0o644);
  const warnings: string[] = [];
  await readEnvFile(file, (line) => warnings.push(line), "win32");
  expect(warnings).toEqual([]);
});
