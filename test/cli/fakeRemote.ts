/**
 * Stand-ins for the two things a rotation drives that cannot run here: the Pulumi engine (`pulumi`)
 * and a remote host (`ssh`). Each is a real executable put first in PATH. It records its argv and
 * stdin, and "deploys" a password the way the real ones end up doing it: it rewrites the credentials
 * file the test bus (`claude-bus serve`) reads and sends that process SIGHUP, which reloads it. Like the
 * host's credentials step, it first accepts old and new together, then (a moment later, after the
 * command returned) only the new one, so the CLI's verification has to wait for the switch. Its settings
 * are in fake.json beside it, not the environment: the CLI gives ssh only the environment ssh needs.
 * The fake `pulumi` takes only the arguments the real CLI takes for the commands a rotation runs (an
 * unknown flag, a stray argument, `up` without `--yes` when non-interactive, or a `--target` that is not
 * a resource of the stack fail as the real one fails), and a targeted `up` deploys the password only when
 * it targets the credentials step, as the real engine would.
 */
import { promises as fs } from "node:fs";
import * as path from "node:path";

export type FakeMode = "apply" | "noop" | "fail" | "passphrase";

export interface FakeRemote {
  binDir: string;
  /** JSON lines: { tool, argv, stdin, cwd } per invocation. */
  logFile: string;
  env: Record<string, string>;
  calls(): Promise<Array<{ tool: string; argv: string[]; stdin: string; cwd: string }>>;
  /** Resolves when the delayed second half of an "apply" (old password dropped) is done. */
  settled(): Promise<void>;
}

const SCRIPT = String.raw`
const fs = require("fs");
const path = require("path");
const { spawn } = require("child_process");
const env = JSON.parse(fs.readFileSync(path.join(path.dirname(process.argv[1]), "fake.json"), "utf8"));
const tool = path.basename(process.argv[1]);

function deploy(pass, previous) {
  const user = /^BUS_USER=(.*)$/m.exec(fs.readFileSync(env.FAKE_CREDENTIALS_FILE, "utf8"))[1];
  const text = "BUS_USER=" + user + "\nBUS_PASS=" + pass + "\n" + (previous ? "BUS_PASS_PREVIOUS=" + previous + "\n" : "");
  fs.writeFileSync(env.FAKE_CREDENTIALS_FILE + ".tmp", text);
  fs.renameSync(env.FAKE_CREDENTIALS_FILE + ".tmp", env.FAKE_CREDENTIALS_FILE);
  process.kill(Number(env.FAKE_BUS_PID), "SIGHUP");
}

// The flags of the real CLI's commands a rotation runs (pulumi preview/up/config set --help), by whether
// they take a value; how many plain arguments each takes.
const COMMANDS = {
  preview: { bool: ["--json", "--non-interactive", "--diff", "--expect-no-changes", "--target-dependents"], value: ["--stack", "-s", "--target", "-t", "--cwd", "-C"], args: [0, 0] },
  up: { bool: ["--yes", "-y", "--non-interactive", "--skip-preview", "-f", "--target-dependents", "--json", "--diff"], value: ["--stack", "-s", "--target", "-t", "--cwd", "-C"], args: [0, 1] },
  "config set": { bool: ["--secret", "--plaintext", "--path"], value: ["--stack", "-s", "--config-file", "--cwd", "-C"], args: [1, 2] },
};

/** argv as the real CLI reads it: { command, flags: { name: [values] }, args }, or exits as it does. */
function parsePulumi(argv) {
  const name = argv[0] === "config" ? "config " + argv[1] : argv[0];
  const spec = COMMANDS[name];
  if (!spec) usage("unknown command " + JSON.stringify(name) + " for \"pulumi\"");
  const flags = {};
  const args = [];
  for (let i = name.split(" ").length; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith("-")) { args.push(arg); continue; }
    const [flag, inline] = arg.split(/=(.*)/s);
    if (spec.bool.includes(flag)) (flags[flag] = flags[flag] || []).push(inline === undefined ? "true" : inline);
    else if (spec.value.includes(flag)) {
      const value = inline !== undefined ? inline : argv[++i];
      if (value === undefined) usage("flag needs an argument: " + flag);
      (flags[flag] = flags[flag] || []).push(value);
    } else usage("unknown flag: " + flag);
  }
  if (args.length < spec.args[0] || args.length > spec.args[1]) usage("accepts between " + spec.args.join(" and ") + " arg(s), received " + args.length);
  return { command: name, flags, args };
}
function usage(message) {
  process.stderr.write("error: " + message + "\n");
  process.exit(255);
}

if (process.argv[2] === "__drop_previous") {
  // How long the fake host keeps accepting both passwords, as a real host does for a while. Nothing
  // waits on this timer: the CLI waits on the bus's answers (up to --timeout, 120 s) and settled() on
  // the marker below, so a slow machine cannot fail a correct CLI. The length matters only to catch a
  // CLI that skips waiting for old → 401: that one finishes its few loopback requests well inside this
  // second and leaves the old password working, which rotate.test.ts sees. Replacing the timer with a
  // condition ("the CLI asked with the old password and got 200") needs to see the CLI's requests at
  // the bus, which this fake cannot.
  setTimeout(() => {
    deploy(process.argv[3]);
    fs.writeFileSync(env.FAKE_LOG + ".settled", "");
  }, 1000);
  return;
}

let stdin = "";
process.stdin.on("data", (d) => (stdin += d));
process.stdin.on("end", () => {
  const argv = process.argv.slice(2);
  fs.appendFileSync(env.FAKE_LOG, JSON.stringify({ tool, argv, stdin, cwd: process.cwd() }) + "\n");
  if (env.FAKE_MODE === "fail") {
    process.stderr.write(tool + ": error: the fake engine was told to fail\n");
    process.exit(1);
  }
  if (env.FAKE_MODE === "passphrase") {
    // What the Pulumi CLI says for a passphrase-encrypted stack when neither variable is set.
    process.stderr.write("error: getting secrets manager: passphrase must be set with PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE environment variables\n");
    process.exit(255);
  }
  const call = tool === "pulumi" ? parsePulumi(argv) : undefined;
  if (call && call.command === "preview") {
    process.stdout.write(JSON.stringify({ steps: env.FAKE_PREVIEW }, null, 2) + "\n");
    return;
  }
  let newPass;
  if (call && call.command === "config set") {
    fs.writeFileSync(env.FAKE_LOG + ".stack-config", stdin);
    return;
  }
  if (call && call.command === "up") {
    const flag = (names) => names.flatMap((n) => call.flags[n] || []);
    if (flag(["--non-interactive"]).length && !flag(["--yes", "-y", "--skip-preview", "-f"]).length) {
      usage("--yes or --skip-preview must be passed in to proceed when running in non-interactive mode");
    }
    const targets = flag(["--target", "-t"]);
    const known = env.FAKE_PREVIEW.map((step) => step.urn);
    for (const urn of targets) if (!known.includes(urn)) usage("no resource named " + JSON.stringify(urn) + " in the stack");
    // A targeted up leaves every other resource as it was: the host changes only through the credentials step.
    if (targets.length && !targets.some((urn) => urn.endsWith("::claude-bus-credentials"))) return;
    newPass = fs.readFileSync(env.FAKE_LOG + ".stack-config", "utf8");
  }
  // The host steps get the credentials env file on stdin; the health step after the credentials step
  // finds the new password already in place.
  if (tool === "ssh") newPass = (/^BUS_PASS=(.*)$/m.exec(stdin) || [])[1];
  if (newPass === undefined) {
    process.stderr.write(tool + ": unexpected call " + JSON.stringify(argv) + "\n");
    process.exit(2);
  }
  if (env.FAKE_MODE === "noop") return;
  const old = /^BUS_PASS=(.*)$/m.exec(fs.readFileSync(env.FAKE_CREDENTIALS_FILE, "utf8"))[1];
  if (old === newPass) return;
  deploy(newPass, old);
  spawn(process.execPath, [process.argv[1], "__drop_previous", newPass], { detached: true, stdio: "ignore" }).unref();
  process.stdout.write(tool + ": applied\n");
});
`;

/** A preview step as `pulumi preview --json` prints it, for the fake's stack (dev). */
export const previewStep = (op: string, type: string, name: string) => ({
  op,
  urn: `urn:pulumi:dev::claude-bus::${type === "pulumi:pulumi:Stack" ? type : `claude-bus:index:Bus$${type}`}::${name}`,
});

/** A stack with nothing pending: what `pulumi preview` shows before a rotation (its Bus as the parent). */
export const NOTHING_PENDING = [
  previewStep("same", "pulumi:pulumi:Stack", "claude-bus-dev"),
  { op: "same", urn: "urn:pulumi:dev::claude-bus::claude-bus:index:Bus::claude-bus" },
  previewStep("same", "digitalocean:index/droplet:Droplet", "claude-bus-droplet"),
  previewStep("same", "random:index/randomPassword:RandomPassword", "claude-bus-password"),
  previewStep("same", "command:remote:Command", "claude-bus-nginx"),
  previewStep("same", "command:remote:Command", "claude-bus-credentials"),
  previewStep("same", "command:remote:Command", "claude-bus-health"),
];

export async function installFakeRemote(
  dir: string,
  opts: { credentialsFile: string; busPid: number; mode: FakeMode; preview?: ReturnType<typeof previewStep>[] },
): Promise<FakeRemote> {
  const binDir = path.join(dir, "bin");
  await fs.mkdir(binDir, { recursive: true });
  for (const tool of ["pulumi", "ssh"]) {
    await fs.writeFile(path.join(binDir, tool), `#!${process.execPath}\n${SCRIPT}`, { mode: 0o755 });
  }
  const logFile = path.join(dir, "calls.jsonl");
  await fs.writeFile(logFile, "");
  const settings = {
    FAKE_LOG: logFile,
    FAKE_MODE: opts.mode,
    FAKE_CREDENTIALS_FILE: opts.credentialsFile,
    FAKE_BUS_PID: String(opts.busPid),
    FAKE_PREVIEW: opts.preview ?? NOTHING_PENDING,
  };
  await fs.writeFile(path.join(binDir, "fake.json"), JSON.stringify(settings));
  return {
    binDir,
    logFile,
    env: { PATH: `${binDir}:${process.env.PATH}` },
    async calls() {
      const text = await fs.readFile(logFile, "utf8");
      return text.trim()
        ? text
            .trim()
            .split("\n")
            .map((line) => JSON.parse(line))
        : [];
    },
    async settled() {
      for (let i = 0; i < 100; i++) {
        if (
          await fs.access(`${logFile}.settled`).then(
            () => true,
            () => false,
          )
        )
          return;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      throw new Error("the fake remote never dropped the previous password");
    },
  };
}
