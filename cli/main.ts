/**
 * The `claude-bus` command: one parser, one usage table, one exit-code table for every subcommand.
 * bin/claude-bus calls `main` with every command (cli/loaders.ts); nothing here runs on import.
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { parseCommand, type ParsedCommand } from "./args";
import { visible } from "./delivery/visible";
import { EXIT, exitCodeFor } from "./exitCodes";
import { type Io, UsageError } from "./io";
import { type CommandName, commandHelp, isCommandName, synopsis, usage } from "./usage";

export type Command<C extends CommandName> = (parsed: ParsedCommand<C>, io: Io) => Promise<number>;
/** The commands a program has, each loaded when run (the host's bundle has only some). */
export type CommandLoaders = { [C in CommandName]?: () => Promise<Command<C>> };

/** The package's version, from the package.json above this file (in the repo and in dist/). */
export function version(): string {
  for (let dir = __dirname; path.dirname(dir) !== dir; dir = path.dirname(dir)) {
    try {
      return JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8")).version;
    } catch {
      // not here: look further up
    }
  }
  return "unknown";
}

/** Runs one command line; `loaders` are the commands this program has (the host's bundle has only serve). */
export async function main(argv: string[], io: Io, loaders: CommandLoaders): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    io.err(usage());
    return EXIT.failure;
  }
  if (name === "help" || name === "--help" || name === "-h") {
    io.out(usage());
    return EXIT.ok;
  }
  if (name === "--version" || name === "-V") {
    io.out(`claude-bus ${version()}`);
    return EXIT.ok;
  }
  if (!isCommandName(name) || !loaders[name]) {
    io.err(`claude-bus: unknown command ${JSON.stringify(name)}\n\n${usage()}`);
    return EXIT.failure;
  }
  return run(name, rest, io, loaders);
}

async function run<C extends CommandName>(name: C, rest: string[], io: Io, loaders: CommandLoaders): Promise<number> {
  const load = loaders[name] as () => Promise<Command<C>>;
  try {
    const parsed = parseCommand(name, rest);
    if (parsed.values.help) {
      io.out(commandHelp(name));
      return EXIT.ok;
    }
    return await (await load())(parsed, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`claude-bus: ${err.message}\nusage: ${synopsis(name)}   (claude-bus ${name} --help lists the options)`);
      return EXIT.failure;
    }
    // an error may quote what a sender wrote (a file name) or a server said: never raw control characters
    io.err(`claude-bus ${name}: ${visible(err instanceof Error ? err.message : String(err))}`);
    return exitCodeFor(err);
  }
}
