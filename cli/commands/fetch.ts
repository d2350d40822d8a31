/** `claude-bus fetch ID`: saves every file attached to message ID, each checked against its sha256. */
import * as path from "node:path";
import { createBusClient, saveAttachments } from "../../client/index";
import { MESSAGE_ID_PATTERN } from "../../contract/message";
import { booleanOption, type ParsedCommand, stringOption } from "../args";
import { connectionFlags, resolveConfig } from "../config";
import { describeAttachment } from "../delivery/attachments";
import { visible } from "../delivery/visible";
import { EXIT } from "../exitCodes";
import { type Io, UsageError } from "../io";
import { type ProgressBar, progressBar } from "../progressBar";

export async function fetch(parsed: ParsedCommand<"fetch">, io: Io): Promise<number> {
  const [id, extra] = parsed.positionals;
  if (id === undefined || extra !== undefined) throw new UsageError("fetch takes exactly one message ID");
  if (!MESSAGE_ID_PATTERN.test(id)) throw new UsageError(`fetch: ${JSON.stringify(id)} is not a message id (a positive decimal integer)`);
  const dir = path.resolve(stringOption(parsed, "out") ?? ".");
  const cfg = await resolveConfig(connectionFlags(parsed), io);
  let bar: ProgressBar | undefined;
  try {
    const saved = await saveAttachments(createBusClient(cfg), id, dir, {
      force: booleanOption(parsed, "force"),
      allowConfigNames: booleanOption(parsed, "allow-config-names"),
      onProgress: (attachment) => {
        bar?.done();
        bar = progressBar(io, `fetching ${visible(attachment.name)}`);
        return bar.update;
      },
    });
    for (const { attachment, file } of saved) await io.out(visible(`saved ${describeAttachment(attachment)} to ${file} (sha256 checked)`));
  } finally {
    bar?.done();
  }
  return EXIT.ok;
}
