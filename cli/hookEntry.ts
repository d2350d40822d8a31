/**
 * `claude-bus hook` on its own: the entry of dist/hook.js, the bundle bin/claude-bus runs for the hook,
 * which Claude Code starts before every prompt. It loads only what the hook needs.
 */
import { parseCommand } from "./args";
import { hook } from "./commands/hook";
import { processIo } from "./io";

hook(parseCommand("hook", []), processIo()).then(
  (code) => {
    process.exitCode = code;
  },
  () => {
    process.exitCode = 0; // never fail the prompt; the hook already said what it could
  },
);
