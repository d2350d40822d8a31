/** jest globalSetup: the pinned Claude Code CLI, the oldest claimed and the newest, in their cache before any worker starts (seconds when cached). */
import { CLAUDE_CODE_NEWEST, CLAUDE_CODE_OLDEST, installClaudeCode } from "./claudeCode";

export default async function globalSetup(): Promise<void> {
  await Promise.all([CLAUDE_CODE_OLDEST, CLAUDE_CODE_NEWEST].map((version) => installClaudeCode(version)));
}
