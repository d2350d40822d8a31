/** Every command of `claude-bus`, loaded on demand: the session-start poll does not pay for express or Pulumi. */
import type { CommandLoaders } from "./main";

export const LOADERS: CommandLoaders = {
  health: async () => (await import("./commands/messaging")).health,
  post: async () => (await import("./commands/messaging")).post,
  inbox: async () => (await import("./commands/messaging")).inbox,
  ack: async () => (await import("./commands/messaging")).ack,
  claim: async () => (await import("./commands/claims")).claim,
  release: async () => (await import("./commands/claims")).release,
  claims: async () => (await import("./commands/claims")).claims,
  guard: async () => (await import("./commands/guard")).guard,
  fetch: async () => (await import("./commands/fetch")).fetch,
  watch: async () => (await import("./commands/watch")).watch,
  hook: async () => (await import("./commands/hook")).hook,
  mcp: async () => (await import("./commands/mcp")).mcp,
  bootstrap: async () => (await import("./commands/bootstrap")).bootstrap,
  invite: async () => (await import("./commands/membership")).invite,
  revoke: async () => (await import("./commands/membership")).revoke,
  machines: async () => (await import("./commands/membership")).machines,
  backup: async () => (await import("./commands/backup")).backup,
  backups: async () => (await import("./commands/backup")).backups,
  rotate: async () => (await import("./commands/rotate")).rotate,
  serve: async () => (await import("./commands/serve")).serve,
  restore: async () => (await import("./commands/restoreOrImport")).restore,
  import: async () => (await import("./commands/restoreOrImport")).importCommand,
  provision: async () => (await import("./commands/provision")).provision,
};
