/** Phone notifications through ntfy (docs/API.md "Notifications"): one setting per name. */
import { z } from "zod";
import { NOTIFY_TOKEN_MAX_CHARS, NOTIFY_URL_MAX_CHARS } from "./defaults";

/** "ping": only that a message came; "first-line": its sender and the first line of its body. */
export const NOTIFY_MODES = ["ping", "first-line"] as const;
export type NotifyMode = (typeof NOTIFY_MODES)[number];

const TopicUrl = z
  .string({ error: (i) => (i.input === undefined ? "is required: the ntfy topic's URL, https://ntfy.sh/<topic>" : "must be a string") })
  .max(NOTIFY_URL_MAX_CHARS, `must be at most ${NOTIFY_URL_MAX_CHARS} characters`)
  .refine((text) => URL.canParse(text), "must be a URL")
  .refine((text) => !URL.canParse(text) || ["http:", "https:"].includes(new URL(text).protocol), "must be an http or https URL")
  .refine((text) => !URL.canParse(text) || (new URL(text).username === "" && new URL(text).password === ""), 'must not hold a user or password: send the access token as "token"');

/** PUT /settings/notify. `token` absent keeps the one set before; null removes it. */
export const NotifySettingsBodySchema = z.strictObject({
  url: TopicUrl,
  token: z
    .string({ error: "must be a string, or null to remove it" })
    .min(1, "must not be empty (null removes it)")
    .max(NOTIFY_TOKEN_MAX_CHARS, `must be at most ${NOTIFY_TOKEN_MAX_CHARS} characters`)
    .regex(/^[\x21-\x7e]+$/, "must be visible ASCII characters (an ntfy access token: tk_...)")
    .nullable()
    .optional(),
  mode: z.enum(NOTIFY_MODES, { error: 'must be "ping" or "first-line"' }),
});

/** The setting as the API shows it: never the token, only whether one is set. */
export const NotifySettingsSchema = z.object({ url: z.string(), mode: z.enum(NOTIFY_MODES), token_set: z.boolean() });
export type NotifySettingsView = z.infer<typeof NotifySettingsSchema>;
