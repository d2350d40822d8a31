/** `claude-bus restore FILE`: here (dataDir.ts), or on a host over SSH with its bus stopped meanwhile. */
import { booleanOption, ParsedCommand } from "../args";
import { EXIT } from "../exitCodes";
import { Io } from "../io";
import { fileArgument, importHere, restoreHere } from "./dataDir";

export async function restore(parsed: ParsedCommand, io: Io): Promise<number> {
  return booleanOption(parsed, "ssh") ? overSsh("restore", parsed, io) : restoreHere(parsed, io);
}

export async function importCommand(parsed: ParsedCommand, io: Io): Promise<number> {
  return booleanOption(parsed, "ssh") ? overSsh("import", parsed, io) : importHere(parsed, io);
}

async function overSsh(command: "restore" | "import", parsed: ParsedCommand, io: Io): Promise<number> {
  const { bytes } = fileArgument(command, parsed);
  const { sshHost } = await import("../sshHost");
  const { dataCommandOverSsh } = await import("../../provision/ssh/runner");
  const { target, cfg } = sshHost(command, parsed);
  const args = [...(booleanOption(parsed, "force") ? ["--force"] : []), ...(booleanOption(parsed, "json") ? ["--json"] : [])];
  const output = await dataCommandOverSsh(target, cfg, command, bytes, args, io.err);
  for (const line of output.split("\n")) if (line && !line.startsWith("changed: ")) io.out(line);
  return EXIT.ok;
}
