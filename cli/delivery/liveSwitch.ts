/**
 * Whether this machine takes live delivery (messages pushed into a running session between tool calls
 * and into an idle one). Off, sessions still hear the bus at session start and at every prompt. The
 * switch is a file, `~/.claude-bus/live-off` (`claude-bus live off|on`), read at every delivery, so it
 * takes effect in running sessions too; BUS_LIVE=off or on in the environment overrides it.
 */
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export function liveOffFile(home = os.homedir()): string {
  return path.join(home, ".claude-bus", "live-off");
}

/** BUS_LIVE=off|on decides; else the file: present means muted. */
export async function liveMuted(env: NodeJS.ProcessEnv, home = os.homedir()): Promise<boolean> {
  if (env.BUS_LIVE === "off") return true;
  if (env.BUS_LIVE === "on") return false;
  return fs.stat(liveOffFile(home)).then(
    () => true,
    () => false,
  );
}

export async function setLive(on: boolean, home = os.homedir()): Promise<void> {
  const file = liveOffFile(home);
  if (on) return fs.rm(file, { force: true });
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  await fs.writeFile(file, "live delivery is off on this machine: `claude-bus live on` turns it back on\n", { mode: 0o600 });
}
