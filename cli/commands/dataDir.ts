/**
 * `claude-bus restore FILE` and `claude-bus import FILE` on a data dir of this machine: what the host's
 * bundle runs too (restore/import --ssh run it there, with the bus stopped).
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { DEFAULT_DATA_DIR } from "../../contract/defaults";
import { importSeed, restoreBackup } from "../../service";
import { booleanOption, type ParsedCommand, stringOption } from "../args";
import { EXIT } from "../exitCodes";
import { type Io, UsageError } from "../io";

/** The one FILE argument, read whole. */
export function fileArgument(command: string, parsed: { positionals: string[] }): { file: string; bytes: Buffer } {
  if (parsed.positionals.length !== 1) throw new UsageError(`${command} takes one FILE`);
  const file = parsed.positionals[0];
  try {
    return { file, bytes: readFileSync(file) };
  } catch (error) {
    throw new UsageError(`${command}: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

const dataDirOf = (parsed: ParsedCommand<"restore" | "import">) => path.resolve(stringOption(parsed, "data") ?? DEFAULT_DATA_DIR);

export async function restoreHere(parsed: ParsedCommand<"restore">, io: Io): Promise<number> {
  const { bytes } = fileArgument("restore", parsed);
  const dataDir = dataDirOf(parsed);
  const count = await restoreBackup(bytes, dataDir, { force: booleanOption(parsed, "force") });
  io.out(`restored ${count} messages into ${dataDir}`);
  return EXIT.ok;
}

export async function importHere(parsed: ParsedCommand<"import">, io: Io): Promise<number> {
  const { file, bytes } = fileArgument("import", parsed);
  const dataDir = dataDirOf(parsed);
  const ids = await importSeed(bytes.toString("utf8"), file, dataDir);
  if (booleanOption(parsed, "json")) io.out(JSON.stringify(Object.fromEntries(ids)));
  else {
    for (const [oldId, newId] of ids) io.out(`${oldId} -> ${newId}`);
    io.err(`imported ${ids.length} messages into ${dataDir}`);
  }
  return EXIT.ok;
}
