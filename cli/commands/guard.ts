/**
 * `claude-bus guard install | check`: a git pre-commit hook that refuses to commit a path another machine
 * has claimed on the bus (`repo:<path>`, a file, or a directory and everything under it), naming the holder,
 * the claim and its note (made visible: they are another machine's words). Ways around it, on purpose:
 * `git commit --no-verify`, or CLAUDE_BUS_GUARD=off in the environment. A bus that cannot be reached does
 * not block a commit: the check says so and lets it through.
 */
import { execFile } from "node:child_process";
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import { type Claim, createBusClient } from "../../client/index";
import { type ParsedCommand, booleanOption, stringOption } from "../args";
import { connectionFlags, resolveConfig } from "../config";
import { visible } from "../delivery/visible";
import { EXIT } from "../exitCodes";
import { type Io, UsageError } from "../io";
import { claimLine } from "./claims";

const run = promisify(execFile);
/** A claim on a repository path: `repo:` and the path from the repository's top, `/` between directories. */
export const REPO_PREFIX = "repo:";
/** What marks the hook as the guard's own, so installing again replaces it and nothing else. */
const MARKER = "# claude-bus guard";
/** The environment variable that turns the check off for one commit. */
export const GUARD_OFF = "CLAUDE_BUS_GUARD";

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export async function guard(parsed: ParsedCommand<"guard">, io: Io): Promise<number> {
  const [action, ...rest] = parsed.positionals;
  if (rest.length > 0 || (action !== "install" && action !== "check")) throw new UsageError("guard takes one of: install, check");
  const repo = path.resolve(stringOption(parsed, "repo") ?? ".");
  return action === "install" ? install(repo, booleanOption(parsed, "force"), io) : check(parsed, repo, io);
}

async function git(repo: string, args: string[]): Promise<string> {
  try {
    return (await run("git", ["-C", repo, ...args], { maxBuffer: 64 * 1024 * 1024 })).stdout;
  } catch (error) {
    throw new Error(`git ${args[0]} in ${repo} failed: ${((error as { stderr?: string }).stderr ?? (error as Error).message).trim()}`);
  }
}

/** Writes the pre-commit hook (where git looks for hooks: core.hooksPath is honoured), running this very CLI. */
async function install(repo: string, force: boolean, io: Io): Promise<number> {
  const hooks = path.resolve(repo, (await git(repo, ["rev-parse", "--git-path", "hooks"])).trim());
  const file = path.join(hooks, "pre-commit");
  const existing = await fs.readFile(file, "utf8").catch(() => undefined);
  if (existing !== undefined && !existing.includes(MARKER) && !force) {
    throw new Error(`${file} exists and is not the guard's: add the line \`claude-bus guard check || exit 1\` to it, or replace it with --force`);
  }
  const script = [
    "#!/bin/sh",
    `${MARKER}: refuses to commit paths another machine has claimed on the bus (claude-bus guard --help).`,
    `# Commit anyway: git commit --no-verify, or ${GUARD_OFF}=off git commit ...`,
    `exec ${shellQuote(process.execPath)} -- ${shellQuote(io.cliPath)} guard check`,
    "",
  ].join("\n");
  await fs.mkdir(hooks, { recursive: true });
  await fs.writeFile(file, script, { mode: 0o755 });
  await fs.chmod(file, 0o755);
  io.out(
    visible(
      `installed ${file}: commits of paths claimed by another machine (repo:PATH) are refused; git commit --no-verify or ${GUARD_OFF}=off commits anyway`,
    ),
  );
  return EXIT.ok;
}

/** Whether claim resource `repo:P` covers `file`: P itself, or everything under P as a directory (`repo:` alone: the whole repository). */
export function covers(resource: string, file: string): boolean {
  if (!resource.startsWith(REPO_PREFIX)) return false;
  const claimed = resource.slice(REPO_PREFIX.length).replace(/^\.?\//, "");
  if (claimed === "") return true;
  return file === claimed.replace(/\/$/, "") || file.startsWith(claimed.endsWith("/") ? claimed : `${claimed}/`);
}

async function check(parsed: ParsedCommand<"guard">, repo: string, io: Io): Promise<number> {
  if (io.env[GUARD_OFF] === "off") return EXIT.ok;
  const staged = (await git(repo, ["diff", "--cached", "--name-only", "--no-renames", "-z"])).split("\0").filter(Boolean);
  if (staged.length === 0) return EXIT.ok;
  let claims: Claim[];
  let me: string;
  try {
    const cfg = await resolveConfig(connectionFlags(parsed), io);
    me = cfg.me;
    claims = await createBusClient(cfg).claims({ prefix: REPO_PREFIX });
  } catch (error) {
    io.err(visible(`claude-bus guard: claims not checked (${(error as Error).message}); committing anyway`));
    return EXIT.ok;
  }
  const others = claims.filter((c) => c.holder !== me);
  const refused = staged.flatMap((file) => others.filter((c) => covers(c.resource, file)).map((c) => ({ file, claim: c })));
  if (refused.length === 0) return EXIT.ok;
  for (const { file, claim } of refused) io.err(`claude-bus guard: ${visible(file)} is claimed: ${claimLine(claim)}`);
  io.err(
    `claude-bus guard: commit refused. Ask the holder on the bus, wait for the claim to end, or commit anyway: git commit --no-verify (or ${GUARD_OFF}=off git commit ...)`,
  );
  return EXIT.failure;
}
