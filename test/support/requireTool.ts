/** A test that needs a program says which package provides it, instead of failing on `Received: null`. */
import { spawnSync } from "node:child_process";

/** Debian packages of the tools the tests run (.ci/run installs them). */
const PACKAGES: Record<string, string> = {
  shellcheck: "shellcheck",
  nginx: "nginx-light",
  logrotate: "logrotate",
  "systemd-analyze": "systemd",
  "systemd-tmpfiles": "systemd",
  openssl: "openssl",
  curl: "curl",
  jq: "jq",
  python3: "python3",
  ssh: "openssh-client",
  tmux: "tmux",
  git: "git",
  mkfifo: "coreutils",
  chromium: "chromium",
};

/** The tool's name, once it is known to be on PATH; throws naming the package otherwise. */
export function requireTool(tool: string): string {
  const found = spawnSync("sh", ["-c", 'command -v "$1"', "sh", tool], { encoding: "utf8" });
  if (found.status !== 0) {
    throw new Error(`${tool} is not installed: apt-get install ${PACKAGES[tool] ?? tool} (.ci/run installs everything the tests use)`);
  }
  return tool;
}
