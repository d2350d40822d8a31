/** The SSH target and host config that `provision` and `rotate --ssh` take: --target, --config, --port, --identity, --known-hosts. */
import type { HostConfig } from "../provision/config";
import { loadHostConfigFile } from "../provision/hostConfigFile";
import { parseTarget, type SshTarget } from "../provision/ssh/transport";
import { type OptionValues, type Parsed, stringOption } from "./args";
import type { SSH_TARGET } from "./usage";
import { UsageError } from "./io";

export function sshHost(command: string, parsed: Parsed<OptionValues<typeof SSH_TARGET>>): { target: SshTarget; cfg: HostConfig } {
  const targetSpec = stringOption(parsed, "target");
  const configFile = stringOption(parsed, "config");
  if (!targetSpec) throw new UsageError(`${command}: --target is required`);
  if (!configFile) throw new UsageError(`${command}: --config is required`);
  const portText = stringOption(parsed, "port");
  if (portText !== undefined && !/^\d{1,5}$/.test(portText)) throw new UsageError(`${command}: --port must be a number`);
  try {
    const target = parseTarget(targetSpec, {
      port: portText === undefined ? undefined : Number(portText),
      identityFile: stringOption(parsed, "identity"),
      knownHostsFile: stringOption(parsed, "known-hosts"),
    });
    return { target, cfg: loadHostConfigFile(configFile) };
  } catch (err) {
    throw new UsageError(`${command}: ${(err as Error).message}`);
  }
}
