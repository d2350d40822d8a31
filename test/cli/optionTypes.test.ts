/**
 * A command reads only the options its usage entry declares: a misspelt option, one of another command, or a
 * boolean read as a string is a type error (`npm run typecheck` fails if an @ts-expect-error below stops being one).
 */
import { booleanOption, parseCommand, stringOption } from "../../cli/args";
import { connectionFlags } from "../../cli/config";
import { UsageError } from "../../cli/io";

describe("typed command options", () => {
  it("reads a declared option by its name, typed as the table says", () => {
    const parsed = parseCommand("bootstrap", ["--invite", "CODE", "--check", "--url", "https://bus.example"]);
    const invite: string | undefined = stringOption(parsed, "invite");
    const check: boolean = booleanOption(parsed, "check");
    expect([invite, check, parsed.values["from-stack"]]).toEqual(["CODE", true, undefined]);
    expect(connectionFlags(parsed).url).toBe("https://bus.example");
    const post = parseCommand("post", ["--tag", "a", "--tag", "b"]);
    const tags: string[] | undefined = post.values.tag;
    expect(tags).toEqual(["a", "b"]);
  });

  it("refuses at run time what the type check refuses at build time", () => {
    expect(() => parseCommand("bootstrap", ["--invte", "CODE"])).toThrow(new UsageError("bootstrap: unknown option --invte"));
    expect(() => parseCommand("bootstrap", ["--ttl", "1h"])).toThrow(new UsageError("bootstrap: unknown option --ttl"));
    const parsed = parseCommand("bootstrap", []);
    // @ts-expect-error a misspelt option
    expect(stringOption(parsed, "invte")).toBeUndefined();
    // @ts-expect-error an option of another command (invite's)
    expect(stringOption(parsed, "ttl")).toBeUndefined();
    // @ts-expect-error a boolean option read as a string
    expect(stringOption(parsed, "check")).toBeUndefined();
    // @ts-expect-error a string option read as a boolean
    expect(booleanOption(parsed, "invite")).toBe(false);
    // @ts-expect-error a misspelt option read from the values
    expect(parsed.values.invte).toBeUndefined();
    // @ts-expect-error backups talks to the bucket, not the bus: it has no connection options
    expect(() => connectionFlags(parseCommand("backups", []))).not.toThrow();
  });
});
