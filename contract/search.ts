/** Full-text search over the history (docs/API.md "Searching"): GET /messages?q=WORDS and its answer. */
import { z } from "zod";
import { MAX_SEARCH_CHARS, MAX_SEARCH_WORDS } from "./defaults";
import { MessageId, MessageSchema, MessagesQuerySchema } from "./message";

const WORDS_RULE = `must hold 1 to ${MAX_SEARCH_WORDS} words, at most ${MAX_SEARCH_CHARS} characters`;

/** The words of a query: each must occur, case-insensitive. */
export const searchWords = (q: string): string[] => q.toLowerCase().split(/\s+/).filter(Boolean);

/** GET /messages?q=...: the words, where to go on from (`before`), the page size, and the filters GET /messages has. */
export const SearchQuerySchema = MessagesQuerySchema.pick({ to: true, from: true, tag: true, thread: true, limit: true }).extend({
  q: z
    .string()
    .max(MAX_SEARCH_CHARS, WORDS_RULE)
    .refine((q) => searchWords(q).length >= 1 && searchWords(q).length <= MAX_SEARCH_WORDS, WORDS_RULE),
  /** Only messages older than this id: the `before` of the previous answer. */
  before: MessageId.optional(),
});

/**
 * The answer: matches, newest first; `more` when the scan stopped before the oldest message (at its bound,
 * or a full page), and `before`, the id to ask again with (null when nothing is left).
 */
export const SearchPageSchema = z.object({ messages: z.array(MessageSchema), more: z.boolean(), before: MessageId.nullable() });
export type SearchPage = z.infer<typeof SearchPageSchema>;
