/** Who is who on the bus: machine names (senders, recipients, readers) and the HTTP Basic-auth user. */
import { z } from "zod";

/** Letters, digits, '.', '_', '-' and '@', 1 to 64 of them: safe in a URL query, a file name and a log line. */
export const NAME_PATTERN = /^[A-Za-z0-9._@-]{1,64}$/;
const NAME_RULE = "1-64 characters: letters, digits, '.', '_', '-' or '@'";

/** A machine's name on the bus (`from`, `to`, `reader`, `unread_by`); `hostname -s` by default. */
export const MachineName = z.string().regex(NAME_PATTERN, `must be ${NAME_RULE}`);

/** The Basic-auth user: a machine name too, so it never holds the ':' that ends the user in Basic auth. */
export const BusUser = z.string().regex(NAME_PATTERN, `must not contain ':' or whitespace: ${NAME_RULE}`);

/** Who uploaded a file, for the team credential: never a machine's name, which holds no '~'. */
export const TEAM_UPLOADER = "~team";
/** Who uploaded a file: a machine's name, or TEAM_UPLOADER. */
export const UPLOADER_PATTERN = new RegExp(`^(?:${TEAM_UPLOADER}|${NAME_PATTERN.source.slice(1, -1)})$`);
