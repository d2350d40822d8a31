/** jest globalSetup: the pinned Claude Code CLI in its cache before any worker starts (seconds when cached). */
import { installClaudeCode } from "./claudeCode";

export default async function globalSetup(): Promise<void> {
  await installClaudeCode();
}
