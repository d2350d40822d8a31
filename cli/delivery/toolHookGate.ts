/**
 * The PostToolUse hook's first question, which Claude Code makes the model wait for after every tool
 * call: is there anything for it to do? Not while a live deliverer runs for the session (it delivers
 * mid-task itself), nor on a muted machine. Answered from two small files, before the rest of the hook
 * (the client, zod, the frame) is loaded: cli/hookEntry.ts asks it first.
 */
import { liveMuted } from "./liveSwitch";
import { isSessionId, SessionStore, sessionsDir } from "./sessionState";

/** A hook's event, read from its stdin text; anything unreadable is no event (the hook then reads it as empty). */
export function hookEventOf<Event extends object>(text: string): Partial<Event> {
  try {
    const value = JSON.parse(text) as unknown;
    return typeof value === "object" && value !== null ? (value as Partial<Event>) : {};
  } catch {
    return {};
  }
}

export interface ToolHookInput {
  session_id?: unknown;
  hook_event_name?: unknown;
}

/** True when the event is PostToolUse and the hook has nothing to do for it. */
export async function toolHookIdle(input: ToolHookInput, env: NodeJS.ProcessEnv, platform: NodeJS.Platform = process.platform): Promise<boolean> {
  if (input.hook_event_name !== "PostToolUse") return false;
  if (!isSessionId(input.session_id)) return true; // no session to keep a cursor for: the prompt hook delivers
  if (await liveMuted(env)) return true;
  return (await new SessionStore(sessionsDir(), platform).liveMarker(input.session_id, env.CLAUDE_CODE_MESSAGING_SOCKET)) !== undefined;
}
