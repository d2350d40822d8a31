/**
 * `claude-bus hook` on its own: the entry of dist/hook.js, the bundle bin/claude-bus runs for the hook,
 * which Claude Code starts before every prompt and after every tool call. It loads only what the hook
 * needs, and for a tool call with nothing to do (toolHookGate.ts) not even that: the rest of the bundle
 * is initialized only when it is imported.
 */
import { hookEventOf, type ToolHookInput, toolHookIdle } from "./delivery/toolHookGate";
import { processIo } from "./io";

async function run(): Promise<number> {
  const io = processIo();
  const text = await io.readStdin();
  if (await toolHookIdle(hookEventOf<ToolHookInput>(text), io.env)) return 0;
  const [{ hook }, { parseCommand }] = await Promise.all([import("./commands/hook"), import("./args")]);
  return hook(parseCommand("hook", []), { ...io, readStdin: async () => text });
}

run().then(
  (code) => {
    process.exitCode = code;
  },
  () => {
    process.exitCode = 0; // never fail the prompt; the hook already said what it could
  },
);
