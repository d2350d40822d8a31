/** The web app's sign-in (docs/API.md "Browser sessions"): requests and answers of the /session routes. */
import { z } from "zod";
import { BusUser } from "./names";

/** Longest secret a sign-in may carry, in characters (a team password is at most 128). */
export const MAX_SECRET_CHARS = 256;

/** POST /session: a name (a member's, or the team credential's user) and its secret. */
export const SignInBodySchema = z.strictObject({
  name: z.string({ error: (i) => (i.input === undefined ? "is required: the name to sign in as" : "must be a string") }).pipe(BusUser),
  secret: z
    .string({ error: (i) => (i.input === undefined ? "is required: the name's own secret (or the team password)" : "must be a string") })
    .min(1, "must not be empty")
    .max(MAX_SECRET_CHARS, `must be at most ${MAX_SECRET_CHARS} characters`),
});

/** Who a session acts as: a machine's or a person's credential, or the team credential; until when. */
export const SessionSchema = z.object({
  name: z.string(),
  kind: z.enum(["machine", "person", "team"]),
  admin: z.boolean(),
  expires: z.string(),
});
export type SessionInfo = z.infer<typeof SessionSchema>;

/** POST /session/enroll's answer: the session, plus the person's new secret, shown once. */
export const SessionEnrolledSchema = SessionSchema.extend({ pass: z.string() });
