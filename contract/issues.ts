/** The one way a zod problem becomes words: `path: what is wrong`, or `path is required: what it is`. */
import type { z } from "zod";

export interface IssueWords {
  /** What to call the whole value when the problem is at its root ("request body", "(config)"). */
  root: string;
  /** What an unexpected key is called ("field" in a request body, "parameter" in a query, "key" in config). */
  unknown?: string;
  /** Between the path and what is wrong: ": " (default), or " " where the message reads on ("BUS_URL must be ..."). */
  between?: string;
}

/** `a.b[2]`: dots between keys, brackets around list positions. */
function pathText(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === "number" ? `[${p}]` : `${i > 0 ? "." : ""}${String(p)}`)).join("");
}

/** One issue in words. A missing value says so and what belongs there; an unknown key names itself. */
export function describeIssue(issue: z.core.$ZodIssue, words: IssueWords): string {
  const where = pathText(issue.path) || words.root;
  if (issue.code === "unrecognized_keys") {
    const prefix = issue.path.length > 0 ? `${where}.` : "";
    return issue.keys.map((key) => `${prefix}${key}${words.between ?? ": "}unknown ${words.unknown ?? "key"}`).join("; ");
  }
  if (issue.message.startsWith("is required")) return `${where} ${issue.message}`;
  // zod's own text for a missing value; final issues do not carry the input itself.
  if (issue.code === "invalid_type" && issue.message.endsWith("received undefined")) return `${where} is required`;
  return `${where}${words.between ?? ": "}${issue.message}`;
}

/** Every issue of an error, in order. */
export function describeIssues(error: z.ZodError, words: IssueWords): string[] {
  return error.issues.map((issue) => describeIssue(issue, words));
}
