/**
 * How a message's attached files are mentioned wherever a message is shown (the hooks, the MCP tools,
 * watch and the plugin's monitor, inbox): each name and size, and the command that saves them.
 */
import type { Attachment, Message } from "../../client/index";
import { formatBytes } from "../../contract/byteSize";

/** `"build.zip" (34 MiB)`: the name quoted, as its sender gave it. */
export const describeAttachment = (a: Attachment): string => `${JSON.stringify(a.name)} (${formatBytes(a.size)})`;

/** `2 files attached: "a.zip" (34 MiB), "b.txt" (12 B); save them with: claude-bus fetch 42`, or undefined without files. */
export function attachmentNote(m: Message): string | undefined {
  const files = m.attachments ?? [];
  if (files.length === 0) return undefined;
  const count = files.length === 1 ? "1 file attached" : `${files.length} files attached`;
  return `${count}: ${files.map(describeAttachment).join(", ")}; save ${files.length === 1 ? "it" : "them"} with: claude-bus fetch ${m.id}`;
}

/** A one-line rendering of `m` with its attachment note appended in parentheses, when it has files. */
export function withAttachmentNote(line: string, m: Message): string {
  const note = attachmentNote(m);
  return note ? `${line} (${note})` : line;
}
