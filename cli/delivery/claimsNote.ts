/**
 * What the session-start hook says about claims: the live claims other machines hold, briefly, in the one
 * frame (frame.ts), so an agent knows before it starts what not to touch. Resources, holders and notes are
 * other machines' words: escaped like every sender string.
 */
import type { Claim } from "../../client/index";
import { escapeText, frameLines } from "./frame";

/** Characters the claims note may add to a session's start (the messages have their own budget). */
export const CLAIMS_BUDGET = 1_500;
/** The longest note shown of a claim; the rest is cut. */
const NOTE_CHARS = 80;

/** One claim as an agent reads it. */
export function claimEntry(c: Claim): string {
  const note = c.note === undefined ? "" : `: ${c.note.length > NOTE_CHARS ? `${c.note.slice(0, NOTE_CHARS)}...` : c.note}`;
  return escapeText(`${c.resource} held by ${c.holder} (token ${c.token}) until ${c.expires}${note}`);
}

/** The claims others hold (not `me`), framed within `budget`; undefined when there are none. */
export function renderClaims(claims: Claim[], me: string, budget = CLAIMS_BUDGET): { context: string; systemMessage: string } | undefined {
  const others = claims.filter((c) => c.holder !== me);
  if (others.length === 0) return undefined;
  const intro =
    "Live claims other machines hold: leave these resources alone (a repo:PATH claim names files) unless the user says otherwise. Claim your own with the bus claim tool.";
  return {
    context: frameLines("claude-bus-claims", intro, others.map(claimEntry), budget),
    systemMessage: `${others.length} live claim${others.length === 1 ? "" : "s"} by other machines (claude-bus claims)`,
  };
}
