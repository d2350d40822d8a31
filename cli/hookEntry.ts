/**
 * `claude-bus hook` on its own: the entry of dist/hook.js, the bundle bin/claude-bus runs for the hook,
 * which Claude Code starts before every prompt and after every tool call. It loads only what the hook
 * needs, and for a tool call with nothing to do (toolHookGate.ts) not even that: the rest of the bundle
 * is initialized only when it is imported.
 */
import { ToolHookInput, toolHookIdle } from "./delivery/toolHookGate";
import { processIo } from "./io";

async function run(): Promise<number> {
  const io = processIo();
  const text = await io.readStdin();
  if (await toolHookIdle(eventOf(text), io.env)) return 0;
  const [{ hook }, { parseCommand }] = await Promise.all([import("./commands/hook"), import("./args")]);
  return hook(parseCommand("hook", []), { ...io, readStdin: async () => text });
}

/** The event's name and session; anything unreadable is no event (the hook itself then reads it as empty). */
function eventOf(text: string): ToolHookInput {
  try {
    const value = JSON.parse(text) as unknown;
    return typeof value === "object" && value !== null ? (value as ToolHookInput) : {};
  } catch {
    return {};
  }
}

run().then(
  (code) => {
    process.exitCode = code;
  },
  () => {
    process.exitCode = 0; // never fail the prompt; the hook already said what it could
  },
);
