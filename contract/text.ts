/** Text the bus stores: any Unicode string that has a UTF-8 form. */
import { z } from "zod";

// With the `u` flag this matches only unpaired surrogates: text that has no UTF-8 form.
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;
export const unicodeText = z.string().refine((s) => !LONE_SURROGATE.test(s), "is not valid Unicode text (lone surrogate)");
