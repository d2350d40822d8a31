/** Command-line parsing on node:util parseArgs, with every failure turned into a UsageError. */
import { parseArgs, ParseArgsConfig } from "node:util";
import { ConfigFlags } from "./config";
import { UsageError } from "./io";

type Options = NonNullable<ParseArgsConfig["options"]>;
type Parsed<O extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: O; allowPositionals: true; strict: true }>>;

/** Flags every bus-talking command accepts (there is no password flag: secrets never go in argv). */
export const CONNECTION_OPTIONS = {
  url: { type: "string" },
  user: { type: "string" },
  me: { type: "string" },
  "env-file": { type: "string" },
} as const satisfies Options;

export function parseCommand<O extends Options>(command: string, argv: string[], options: O): Parsed<O> {
  if (argv.some((arg) => arg === "--pass" || arg.startsWith("--pass=") || arg === "--password" || arg.startsWith("--password="))) {
    throw new UsageError("there is no --pass flag: a password in the command line is visible to every user; set BUS_PASS or use the env file");
  }
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(`${command}: ${(err as Error).message}`);
  }
}

export function connectionFlags(values: { url?: string; user?: string; me?: string; "env-file"?: string }): ConfigFlags {
  return { url: values.url, user: values.user, me: values.me, envFile: values["env-file"] };
}
