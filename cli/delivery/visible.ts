/**
 * Text another machine wrote, made visible wherever it is shown (a terminal, an agent's context): control
 * characters (C0, DEL, C1: ESC, CR, BEL, OSC and CSI sequences) and characters that show nothing (zero-width
 * and bidi format characters, tag characters, line separators, fillers, unassigned code points) become
 * escapes one can see: `\x1b`, `\r`, `\u{200b}`. So a body can neither drive a terminal (move the cursor,
 * rewrite a line, set the title, write the clipboard with OSC 52) nor hide text in plain sight.
 */

/**
 * Cc controls, Cf format characters, line and paragraph separators, unassigned code points, and the rest of
 * Unicode's default-ignorable characters (fillers, the combining grapheme joiner, variation selectors, which
 * can carry hidden bytes), except the two that pick an emoji's text or colour form.
 */
const HIDDEN = /(?![\uFE0E\uFE0F])[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cn}\p{Default_Ignorable_Code_Point}]/gu;
const NAMED: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

function escapeOne(ch: string): string {
  const code = ch.codePointAt(0)!;
  return NAMED[ch] ?? (code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u{${code.toString(16)}}`);
}

/**
 * `text` with every hidden or control character as a visible escape. With `lines`, a line break (LF or
 * CRLF) and a tab stay as they are (a multi-line body); without, they are escaped too (one line).
 */
export function visible(text: string, { lines = false } = {}): string {
  const source = lines ? text.replace(/\r\n/g, "\n") : text;
  return source.replace(HIDDEN, (ch) => (lines && (ch === "\n" || ch === "\t") ? ch : escapeOne(ch)));
}
