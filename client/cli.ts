/**
 * The `claude-bus` command (bin/claude-bus requires this file, so it runs on load).
 * Subcommands are loaded on demand: `inbox` at session start should not pay for express or Pulumi.
 */
import * as fs from "node:fs";
import { EXIT, exitCodeFor, Io, processIo, UsageError } from "./io";

export const USAGE = `usage: claude-bus <command> [options]

Talking to the bus (credential from ~/.secrets/claude-bus.env, then BUS_URL/BUS_USER/BUS_PASS, then flags):
  health                              check the bus answers with this credential
  post [--to NAME] [--tag T ...] [BODY]
                                      post a message (BODY or stdin; --to defaults to "any")
  inbox [--no-ack] [--json]           print unread messages to me as "[ts] from: body" and ack them
  ack ID                              mark message ID read by me

Setting up and maintaining:
  bootstrap [--from-stack] [--check]  set up this machine: credentials file, health, session-start
                                      poll + Claude Code hook, SSH key, hello broadcast
                                      (--from-stack reads \`pulumi stack output --json --show-secrets\` on stdin)
  rotate [--stack S] [--cwd DIR] [--pulumi BIN] [--timeout SECONDS]
                                      new password through the Pulumi stack, verified, env file updated
  rotate --ssh --target [USER@]HOST --config host.json [--port N] [--identity FILE] [--known-hosts FILE]
                                      the same over SSH (provision's rotation step), no Pulumi needed
  serve [--host 127.0.0.1] [--port 8787] [--data DIR]
                                      run the bus service (data in ./data by default)
  provision ...                       run the host steps over SSH (claude-bus provision --help)

Options of the bus commands: --url URL, --user USER, --me NAME (default: hostname -s, or BUS_ME),
  --env-file FILE (default ~/.secrets/claude-bus.env, or BUS_ENV_FILE), --json.
There is no password flag: the password comes from the env file or BUS_PASS, never the command line.

Exit codes: 0 ok, 1 usage or other error, 2 credential rejected (401), 3 bus unreachable.`;

type Command = (argv: string[], io: Io) => Promise<number>;

/** The running script's real path, for the poll script bootstrap installs (npm links it as a symlink). */
function cliPath(): string {
  return fs.realpathSync(process.argv[1]);
}

const COMMANDS: Record<string, Command> = {
  health: async (argv, io) => (await import("./messaging")).healthCommand(argv, io),
  post: async (argv, io) => (await import("./messaging")).postCommand(argv, io),
  inbox: async (argv, io) => (await import("./messaging")).inboxCommand(argv, io),
  ack: async (argv, io) => (await import("./messaging")).ackCommand(argv, io),
  bootstrap: async (argv, io) => (await import("./bootstrap")).bootstrapCommand(argv, { io, cliPath: cliPath() }),
  rotate: async (argv, io) => (await import("./rotate")).rotateCommand(argv, io),
  serve: async (argv, io) => {
    await (await import("../service/main")).serveCommand(argv, io.env);
    return Number(process.exitCode ?? EXIT.ok); // serveCommand sets it when the shutdown failed
  },
  provision: async (argv, io) => (await import("../provision/ssh")).provisionCommand(argv, io.env),
};

export async function runCli(argv: string[], io: Io): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "help" || name === "--help" || name === "-h") {
    (name === undefined ? io.err : io.out)(USAGE);
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  const command = COMMANDS[name];
  if (!command) {
    io.err(`claude-bus: unknown command ${JSON.stringify(name)}\n\n${USAGE}`);
    return EXIT.usage;
  }
  if (name !== "provision" && (rest.includes("--help") || rest.includes("-h"))) {
    io.out(USAGE);
    return EXIT.ok;
  }
  try {
    return await command(rest, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`claude-bus: ${err.message}\n(see claude-bus --help)`);
      return EXIT.usage;
    }
    io.err(`claude-bus ${name}: ${err instanceof Error ? err.message : String(err)}`);
    return exitCodeFor(err);
  }
}

runCli(process.argv.slice(2), processIo()).then((code) => {
  process.exitCode = code;
});
