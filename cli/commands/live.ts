/**
 * `claude-bus live [on|off]`: turns this machine's live delivery (messages pushed into a running Claude
 * Code session between tool calls, and into an idle one) on or off, or says whether it is on. Sessions
 * already running follow the switch at their next delivery; start and prompt delivery are unchanged.
 */
import type { ParsedCommand } from "../args";
import { liveMuted, liveOffFile, setLive } from "../delivery/liveSwitch";
import { EXIT } from "../exitCodes";
import { type Io, UsageError } from "../io";

export async function live(parsed: ParsedCommand<"live">, io: Io): Promise<number> {
  const [choice, ...rest] = parsed.positionals;
  if (rest.length > 0 || (choice !== undefined && choice !== "on" && choice !== "off"))
    throw new UsageError("live takes on, off, or nothing (to say which it is)");
  if (choice) await setLive(choice === "on");
  const muted = await liveMuted(io.env);
  const overridden = io.env.BUS_LIVE === "on" || io.env.BUS_LIVE === "off" ? ` (BUS_LIVE=${io.env.BUS_LIVE} in the environment decides)` : "";
  io.out(
    muted
      ? `live delivery: off${overridden}; sessions hear the bus at session start and at each prompt (${liveOffFile()})`
      : `live delivery: on${overridden}; messages reach running sessions between tool calls and wake idle ones`,
  );
  return EXIT.ok;
}
