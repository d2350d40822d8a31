/** The env file we write must mean the same to `source` (the seed's bash) as to our parser. */
import { execFile } from "node:child_process";
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import { parseEnvFile, renderEnvFile } from "../../contract/envFile";
import { tempDir } from "../support/tempDir";

describe("renderEnvFile", () => {
  it.each([
    { BUS_USER: "claude", BUS_PASS: "Abcdefghijklmnopqrstuvwxyz12", BUS_URL: "https://claude-bus.example.com" },
    { BUS_USER: "claude", BUS_PASS: "amp&semi;colon$HOME`x`\\", BUS_URL: "http://127.0.0.1:8787/bus", BUS_ME: "box@lab" },
  ])("round-trips through our parser and through sh's `.` (%#)", async (values) => {
    const text = renderEnvFile(values);
    expect(parseEnvFile(text, "rendered")).toEqual(values);
    const dir = await tempDir("envfile");
    try {
      const file = path.join(dir, "claude-bus.env");
      await fs.writeFile(file, text);
      const { stdout } = await promisify(execFile)("/bin/sh", ["-c", `. "$1"; printf '%s\\n' "$BUS_USER" "$BUS_PASS" "$BUS_URL"`, "sh", file], {
        env: { PATH: "/usr/bin:/bin", HOME: dir },
      });
      expect(stdout).toBe(`${values.BUS_USER}\n${values.BUS_PASS}\n${values.BUS_URL}\n`);
    } finally {
      await fs.rm(dir, { recursive: true });
    }
  });

  it("refuses a value that cannot be single-quoted", () => {
    expect(() => renderEnvFile({ BUS_USER: "claude", BUS_PASS: "it's", BUS_URL: "https://x.example.com" })).toThrow(/single quote/);
  });
});
