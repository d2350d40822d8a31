/** The one argument parser: node:util parseArgs over the usage table, every failure a UsageError in our words. */
import { parseArgs } from "node:util";
import { UsageError } from "./io";
import { COMMANDS } from "./usage";

export type OptionValues = Record<string, string | boolean | string[] | undefined>;

export interface ParsedCommand {
  values: OptionValues;
  positionals: string[];
}

const PASSWORD_FLAG = /^--pass(word)?(=|$)/;

export function parseCommand(command: string, argv: string[]): ParsedCommand {
  if (argv.some((arg) => PASSWORD_FLAG.test(arg))) {
    throw new UsageError("there is no --pass flag: a password in the command line is visible to every user; set BUS_PASS or use the env file");
  }
  const options = Object.fromEntries(
    Object.entries(COMMANDS[command].options).map(([name, spec]) => [name, { type: spec.type, multiple: spec.multiple ?? false }]),
  );
  try {
    const { values, positionals } = parseArgs({ args: argv, options: { ...options, help: { type: "boolean", short: "h" } }, allowPositionals: true, strict: true });
    return { values: values as OptionValues, positionals };
  } catch (err) {
    throw new UsageError(`${command}: ${ourWords(err as NodeJS.ErrnoException)}`);
  }
}

/** parseArgs's messages, said the same way for every command. */
function ourWords(err: NodeJS.ErrnoException): string {
  const option = /'(-[^' ]+)/.exec(err.message)?.[1];
  switch (err.code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      return `unknown option ${option}`;
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
      return /argument missing/.test(err.message) ? `${option} needs a value` : `${option} takes no value`;
    default:
      return err.message;
  }
}

/** A string option's value (undefined when absent). */
export const stringOption = (parsed: ParsedCommand, name: string) => parsed.values[name] as string | undefined;
export const booleanOption = (parsed: ParsedCommand, name: string) => parsed.values[name] === true;

export function noPositionals(command: string, parsed: ParsedCommand): void {
  const [first] = parsed.positionals;
  if (first !== undefined) throw new UsageError(`${command} takes no arguments (got ${JSON.stringify(first)})`);
}
