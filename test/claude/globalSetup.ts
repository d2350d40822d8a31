/** jest globalSetup: the pinned Claude Code CLI, the oldest claimed and the newest, in their cache before any worker starts (seconds when cached). */
import { CLAUDE_CODE_NEWEST, CLAUDE_CODE_OLDEST, CLAUDE_CODE_VERSION, installClaudeCode } from "./claudeCode";

export default async function globalSetup(): Promise<void> {
  await installClaudeCode(CLAUDE_CODE_VERSION);
  await installClaudeCode(CLAUDE_CODE_OLDEST);
  await installClaudeCode(CLAUDE_CODE_NEWEST);
}
