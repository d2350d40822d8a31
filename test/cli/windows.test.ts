/**
 * The client's branches for native Windows, run here with the platform injected (no Windows machine runs
 * these tests): no POSIX modes to check or set, no directory to fsync, no `hostname -s`, executables
 * found through PATHEXT with `;` between PATH entries.
 */
import * as fsModule from "node:fs";
import { promises as fs } from "node:fs";
import os = require("node:os");
import * as path from "node:path";
import { moveDurably, writeFileDurably } from "../../contract/durableFile";
import { modeProblems } from "../../cli/commands/bootstrap";
import { ConfigError, machineName } from "../../cli/config";
import { readEnvFile, writeEnvFile } from "../../cli/envFileStore";
import { installPlugin } from "../../cli/claudePlugin";
import { findExecutable } from "../../cli/findExecutable";
import { tempDir } from "../support/tempDir";

const ENV = "BUS_USER=claude\nBUS_PASS=WindowsPassw0rdWindowsPassw0\nBUS_URL=https://claude-bus.example.com\n";

describe("on win32", () => {
  it("an atomic write renames without opening the directory to fsync it (Windows cannot); elsewhere it does", async () => {
    const dir = tempDir("atomic");
    const open = jest.spyOn(fs, "open");
    try {
      await writeFileDurably(path.join(dir, "a.json"), "{}\n", { mode: 0o600, platform: "win32" });
      expect(open.mock.calls.map(([p]) => p)).toEqual([expect.stringMatching(/\.a\.json\.\d+\.\d+\.tmp$/)]);
      open.mockClear();
      await fs.writeFile(path.join(dir, "b.tmp"), "x");
      await moveDurably(path.join(dir, "b.tmp"), path.join(dir, "b"), "linux");
      expect(open.mock.calls.map(([p]) => p)).toEqual([dir]);
    } finally {
      open.mockRestore();
    }
    expect(await fs.readFile(path.join(dir, "a.json"), "utf8")).toBe("{}\n");
  });

  it("file modes are neither checked (they would read ✗ forever) nor warned about nor set", async () => {
    const dir = path.join(tempDir("modes"), ".secrets");
    await fs.mkdir(dir, { mode: 0o755 });
    await fs.chmod(dir, 0o755);
    const file = path.join(dir, "claude-bus.env");
    await fs.writeFile(file, ENV, { mode: 0o644 });
    await fs.chmod(file, 0o644);
    expect(await modeProblems(file, "win32")).toEqual([]);
    expect(await modeProblems(file, "linux")).toEqual([`${dir} has mode 0755, wants 0700`, `${file} has mode 0644, wants 0600`]);
    const warnings: string[] = [];
    await readEnvFile(file, (w) => warnings.push(w), "win32");
    expect(warnings).toEqual([]);
    await readEnvFile(file, (w) => warnings.push(w), "linux");
    expect(warnings).toEqual([expect.stringContaining("chmod 600")]);
    await writeEnvFile(file, ENV, "win32");
    expect(fsModule.statSync(dir).mode & 0o777).toBe(0o755);
    await writeEnvFile(file, ENV, "linux");
    expect(fsModule.statSync(dir).mode & 0o777).toBe(0o700);
  });

  it("the machine name defaults to the computer name, cut at its first dot, and a bad one says where it came from", () => {
    expect(machineName({}, {}, undefined, "win32", "DESKTOP-7QK2.corp.example")).toBe("DESKTOP-7QK2");
    expect(() => machineName({}, {}, undefined, "win32", "Büro PC")).toThrow(ConfigError);
    expect(() => machineName({}, {}, undefined, "win32", "Büro PC")).toThrow(/from the computer name \(set BUS_ME or --me to override\)/);
    expect(() => machineName({}, {}, undefined, "linux", "bad host")).toThrow(/from hostname -s /);
    expect(machineName({ me: "given" }, {}, undefined, "win32", "DESKTOP-7QK2")).toBe("given");
  });

  it("finds claude-bus.cmd (npm's shim) through PATHEXT, with ';' between PATH entries", async () => {
    const a = tempDir("path-a");
    const b = tempDir("path-b");
    await fs.writeFile(path.join(b, "claude-bus.cmd"), "@echo off\r\n");
    const env = { Path: `${a};${b}`, PATHEXT: ".COM;.EXE;.BAT;.CMD" };
    expect(findExecutable("claude-bus", env, "win32")).toBe(path.join(b, "claude-bus.cmd"));
    expect(findExecutable("claude", env, "win32")).toBeUndefined();
    // on POSIX the file itself must be there and executable
    expect(findExecutable("claude-bus", { PATH: `${a}:${b}` }, "linux")).toBeUndefined();
    await fs.writeFile(path.join(a, "claude-bus"), "#!/bin/sh\n", { mode: 0o755 });
    expect(findExecutable("claude-bus", { PATH: `${a}:${b}` }, "linux")).toBe(path.join(a, "claude-bus"));
  });
});

describe("installing the plugin through npm's claude.cmd", () => {
  it("quotes each argument for the shell it needs (a clone path with a space survives), without BUS_PASS in its environment", async () => {
    const home = tempDir("home");
    const homedir = jest.spyOn(os, "homedir").mockReturnValue(home);
    try {
      const bin = tempDir("bin");
      const calls = path.join(home, "calls.txt");
      // a stand-in run through the shell as claude.cmd would be: one line per call, its arguments and BUS_PASS
      const fake = path.join(bin, "claude.cmd");
      await fs.writeFile(fake, `#!/bin/sh\nprintf '%s|' "$@" "pass=\${BUS_PASS:-none}" >> '${calls}'\necho >> '${calls}'\n`, { mode: 0o755 });
      const root = path.join(tempDir("clone"), "my claude bus");
      await installPlugin(root, fake, { PATH: process.env.PATH, BUS_PASS: "SecretPassw0rdSecretPassw0rd" });
      expect((await fs.readFile(calls, "utf8")).split("\n").filter(Boolean)).toEqual([
        `plugin|marketplace|add|${root}|pass=none|`,
        "plugin|install|agent-bus@agent-bus|pass=none|",
      ]);
    } finally {
      homedir.mockRestore();
    }
  });
});
