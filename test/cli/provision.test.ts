/** `claude-bus provision` through the CLI's one parser: usage errors, config errors, the password's two doors, exit codes. */
import * as fs from "node:fs";
import * as path from "node:path";
import { EXIT } from "../../cli/exitCodes";
import type { Io } from "../../cli/io";
import { LOADERS } from "../../cli/loaders";
import { main } from "../../cli/main";
import { MINIMAL } from "../provision/fixtures";
import { freePort } from "../support/ports";
import { tempDir } from "../support/tempDir";
import { buildCli, runCli } from "./harness";

const PASS = "Stdin0Only0Password000000000";

describe("claude-bus provision", () => {
  let dir: string;
  let stderr: string;
  beforeEach(() => {
    dir = tempDir("provision");
    stderr = "";
  });
  const provision = (argv: string[], env: NodeJS.ProcessEnv) => {
    const io: Io = {
      out: () => undefined,
      err: (line) => (stderr += `${line}\n`),
      readStdin: async () => "",
      stdinIsTTY: true,
      env,
      platform: "linux",
      cliPath: "/opt/claude-bus/bin/claude-bus",
    };
    return main(["provision", ...argv], io, LOADERS);
  };
  const configFile = (content: unknown) => {
    const file = path.join(dir, "host.json");
    fs.writeFileSync(file, typeof content === "string" ? content : JSON.stringify(content));
    return file;
  };

  it.each([
    [[], /--target is required/],
    [["--target", "root@h"], /--config is required/],
    [["--target", "root@h", "--config", "x", "--verbose", "1"], /unknown option --verbose/],
    [["--target", "root@h", "--config", "x", "--port", "abc"], /--port must be a number/],
    [["--target", "root@h", "--config"], /--config needs a value/],
  ])("answers usage errors for %j with exit 1", async (argv, message) => {
    expect(await provision(argv as string[], { BUS_PASS: PASS })).toBe(EXIT.failure);
    expect(stderr).toMatch(message);
    expect(stderr).toContain("usage: claude-bus provision --target");
  });

  it("names the config file and the bad key", async () => {
    const file = configFile({ ...MINIMAL, servicePort: 22 });
    expect(await provision(["--target", "root@h", "--config", file], { BUS_PASS: PASS })).toBe(EXIT.failure);
    expect(stderr).toContain(`--config ${file}: invalid host config: servicePort:`);
    const broken = configFile("{not json");
    expect(await provision(["--target", "root@h", "--config", broken], { BUS_PASS: PASS })).toBe(EXIT.failure);
    expect(stderr).toMatch(/--config .*host\.json: .*JSON/);
  });

  it("refuses an unsafe password without printing it", async () => {
    const file = configFile(MINIMAL);
    expect(await provision(["--target", "root@h", "--config", file], { BUS_PASS: "short pass" })).toBe(EXIT.failure);
    expect(stderr).toContain("bus password: must be 28-128 characters");
    expect(stderr).not.toContain("short pass");
  });

  it("with backups in the config, needs the backup bucket's env file before it connects; without, refuses one", async () => {
    const withBackups = configFile({ ...MINIMAL, backups: { keep: 7 } });
    const missing = path.join(dir, "missing.env");
    expect(await provision(["--target", "root@h", "--config", withBackups, "--s3-env", missing], { BUS_PASS: PASS })).toBe(EXIT.failure);
    expect(stderr).toContain(`${missing} not found (given by --s3-env)`);
    const without = configFile(MINIMAL);
    expect(await provision(["--target", "root@h", "--config", without, "--s3-env", missing], { BUS_PASS: PASS })).toBe(EXIT.failure);
    expect(stderr).toContain("provision: --s3-env, but the host config sets no backups");
  });

  it("reports an unreachable host with exit 3 (real ssh to a closed loopback port)", async () => {
    const bundle = path.join(dir, "bundle.js");
    fs.writeFileSync(bundle, "console.log('bus')\n");
    const port = await freePort();
    const argv = [
      "--target",
      "root@127.0.0.1",
      "--port",
      String(port),
      "--config",
      configFile(MINIMAL),
      "--bundle",
      bundle,
      "--known-hosts",
      path.join(dir, "kh"),
    ];
    expect(await provision(argv, { BUS_PASS: PASS, PATH: process.env.PATH })).toBe(EXIT.unreachable);
    expect(stderr).toMatch(/upload-bundle: ssh could not reach the host[\s\S]*Connection refused/);
    expect(stderr).not.toContain(PASS);
  });

  it("reads the password from stdin when BUS_PASS is unset", async () => {
    const cli = await buildCli();
    const bundle = path.join(dir, "bundle.js");
    fs.writeFileSync(bundle, "console.log('bus')\n");
    const argv = [
      "provision",
      "--target",
      "root@127.0.0.1",
      "--port",
      "1",
      "--config",
      configFile(MINIMAL),
      "--bundle",
      bundle,
      "--known-hosts",
      path.join(dir, "kh"),
    ];
    const withPassword = await runCli(cli, argv, { home: dir, stdin: `${PASS}\n` });
    expect(withPassword.stderr).toContain("ssh could not reach the host");
    expect(withPassword.code).toBe(EXIT.unreachable);
    const without = await runCli(cli, argv, { home: dir, stdin: "" });
    expect(without.stderr).toContain("bus password: must be 28-128 characters");
    expect(without.code).toBe(EXIT.failure);
  });
});
