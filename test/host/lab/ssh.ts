/**
 * Real SSH into the throwaway host: sshd on a spare loopback port, root login by a key pair made for this
 * run only, and host keys of its own, as a new droplet makes at first boot (the cached image's would be
 * the same on every host). The harness hands out an ssh_config file so every ssh/scp call names just the
 * host alias.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { PrebootFile } from "./boot";
import { run, runOk, type RunResult, waitFor } from "./run";

export const SSH_HOST_ALIAS = "claude-bus-lab";

export interface LabSsh {
  port: number;
  /** OpenSSH client config naming the host alias (HostName, Port, User, IdentityFile, known_hosts). */
  configFile: string;
  identityFile: string;
  knownHostsFile: string;
  /** ssh/scp options equivalent to the config file, for tools that take options instead of -F. */
  options: string[];
  /** Runs a command on the host over SSH (stdin fed from `input`). */
  ssh(command: string, input?: string): Promise<RunResult>;
}

/** Generates the run's key pair in `dir` and returns the files that configure the host's sshd. */
export async function sshFiles(dir: string, port: number): Promise<{ files: PrebootFile[]; ssh: LabSsh }> {
  const identityFile = join(dir, "id_ed25519");
  await runOk("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "claude-bus-lab", "-f", identityFile]);
  const knownHostsFile = join(dir, "known_hosts");
  writeFileSync(knownHostsFile, "");
  const options = [
    "-o",
    "HostName=127.0.0.1",
    "-o",
    `Port=${port}`,
    "-o",
    "User=root",
    "-o",
    `IdentityFile=${identityFile}`,
    "-o",
    "IdentitiesOnly=yes",
    "-o",
    `UserKnownHostsFile=${knownHostsFile}`,
    "-o",
    "StrictHostKeyChecking=accept-new",
    "-o",
    "BatchMode=yes",
    "-o",
    "ConnectTimeout=10",
    "-o",
    "LogLevel=ERROR",
  ];
  const configFile = join(dir, "ssh_config");
  const lines = [];
  for (let i = 0; i < options.length; i += 2) lines.push(`  ${options[i + 1].replace("=", " ")}`);
  writeFileSync(configFile, `Host ${SSH_HOST_ALIAS}\n${lines.join("\n")}\n`);
  const ssh: LabSsh = {
    port,
    configFile,
    identityFile,
    knownHostsFile,
    options,
    ssh: (command, input) => run("ssh", ["-F", configFile, SSH_HOST_ALIAS, command], { input }),
  };
  mkdirSync(join(dir, "host", "etc", "ssh"), { recursive: true });
  await runOk("ssh-keygen", ["-A", "-f", join(dir, "host")]);
  const hostKeys: PrebootFile[] = readdirSync(join(dir, "host", "etc", "ssh")).map((name) => ({
    path: `/etc/ssh/${name}`,
    content: readFileSync(join(dir, "host", "etc", "ssh", name)),
    mode: name.endsWith(".pub") ? 0o644 : 0o600,
  }));
  const files: PrebootFile[] = [
    ...hostKeys,
    {
      path: "/etc/ssh/sshd_config.d/claude-bus-lab.conf",
      // Loopback only: the host shares this machine's network, so never bind a public port 22.
      content: `Port ${port}\nListenAddress 127.0.0.1\nPermitRootLogin prohibit-password\nPasswordAuthentication no\n`,
    },
    { path: "/root/.ssh/authorized_keys", content: readFileSync(`${identityFile}.pub`), mode: 0o600 },
  ];
  return { files, ssh };
}

/** Waits until sshd accepts our key. */
export async function waitForSsh(ssh: LabSsh): Promise<void> {
  await waitFor("sshd in the host", async () => ((await ssh.ssh("true")).code === 0 ? true : undefined), 60000, 250);
}
