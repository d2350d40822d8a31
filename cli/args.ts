/**
 * The one argument parser: node:util parseArgs over the usage table, every failure a UsageError in our words.
 * A command's options are typed from its entry in that table: reading one it does not declare does not compile.
 */
import { parseArgs } from "node:util";
import { UsageError } from "./io";
import { COMMANDS, type CommandName, type OptionSpec } from "./usage";

/** What parseArgs gives for one option: a boolean, the strings of a repeatable option, or a string. */
type ValueOf<S extends OptionSpec> = S extends { type: "boolean" } ? boolean : S extends { multiple: true } ? string[] : string;

/** The values of a set of options (a command's, or a group such as CONNECTION), each absent when not given. */
export type OptionValues<Options extends Readonly<Record<string, OptionSpec>>> = { -readonly [K in keyof Options]?: ValueOf<Options[K]> };

export interface Parsed<Values> {
  values: Values;
  positionals: string[];
}

/** A command line of command C: the options its usage entry declares, and nothing else. */
export type ParsedCommand<C extends CommandName> = Parsed<OptionValues<(typeof COMMANDS)[C]["options"]> & { help?: boolean }>;

/** The options of a set whose value is a T. */
type NamesOf<Values, T> = { [K in keyof Values]-?: NonNullable<Values[K]> extends T ? K : never }[keyof Values] & string;

const PASSWORD_FLAG = /^--pass(word)?(=|$)/;

export function parseCommand<C extends CommandName>(command: C, argv: string[]): ParsedCommand<C> {
  if (argv.some((arg) => PASSWORD_FLAG.test(arg))) {
    throw new UsageError("there is no --pass flag: a password in the command line is visible to every user; set BUS_PASS or use the env file");
  }
  const options = Object.fromEntries(
    Object.entries(COMMANDS[command].options as Record<string, OptionSpec>).map(([name, spec]) => [
      name,
      { type: spec.type, multiple: spec.multiple ?? false },
    ]),
  );
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: { ...options, help: { type: "boolean", short: "h" } },
      allowPositionals: true,
      strict: true,
    });
    return { values: values as ParsedCommand<C>["values"], positionals };
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

/** A string option's value (undefined when absent); `name` must be a string option of the command. */
export const stringOption = <Values>(parsed: Parsed<Values>, name: NamesOf<Values, string>) => parsed.values[name] as string | undefined;
/** Whether a boolean option of the command was given. */
export const booleanOption = <Values>(parsed: Parsed<Values>, name: NamesOf<Values, boolean>) => parsed.values[name] === true;

export function noPositionals(command: string, parsed: { positionals: string[] }): void {
  const [first] = parsed.positionals;
  if (first !== undefined) throw new UsageError(`${command} takes no arguments (got ${JSON.stringify(first)})`);
}
