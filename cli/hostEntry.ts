/**
 * The entry of the host bundle, claude-bus.js (built by provision/bundle.ts): the CLI with serve, restore
 * and import on this host's data dir (which `claude-bus restore|import --ssh` run here), and backup (the
 * daily `backup --to-s3` of claude-bus-backup.service). The unit runs `claude-bus.js --host H --port P
 * --data D`: without a command name, it is serve.
 */
// It lives in cli/ because the bundle is the host's `claude-bus` command; provision/ names it only as a path.
import { backup } from "./commands/backup";
import { importHere, restoreHere } from "./commands/dataDir";
import { serve } from "./commands/serve";
import { processIo } from "./io";
import { type CommandLoaders, main } from "./main";

const commands: CommandLoaders = { serve: async () => serve, restore: async () => restoreHere, import: async () => importHere, backup: async () => backup };
const argv = process.argv.slice(2);
main(Object.hasOwn(commands, argv[0] ?? "") ? argv : ["serve", ...argv], processIo(), commands).then((code) => {
  process.exitCode = code;
});
