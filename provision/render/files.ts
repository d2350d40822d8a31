/** Small host files: logrotate, tmpfiles.d, the drop user's authorized_keys, certbot hook and CA drop-in. */
import type { HostConfig } from "../config";
import { ACCESS_LOG, ACME_CA_FILE, ERROR_LOG, SHARED_DIR } from "../paths";

export function renderLogrotate(): string {
  return `# Managed by claude-bus provision.
${ACCESS_LOG} ${ERROR_LOG} {
	daily
	rotate 14
	missingok
	notifempty
	compress
	delaycompress
	create 0640 www-data adm
	sharedscripts
	postrotate
		invoke-rc.d nginx rotate >/dev/null 2>&1 || true
	endscript
}
`;
}

/**
 * Creates the drop dir at boot and lets systemd-tmpfiles-clean.timer age its files out: after
 * sharedDir.maxAgeDays, or else the same days as the files attached to messages (fileMaxAgeDays).
 */
export function renderTmpfiles(cfg: HostConfig): string {
  const age = `${cfg.sharedDir.maxAgeDays ?? cfg.fileMaxAgeDays}d`;
  return `# Managed by claude-bus provision: the shared drop dir (setgid, group-writable).
d ${SHARED_DIR} 2770 root ${cfg.sharedDir.group} ${age}
`;
}

/** root's authorized_keys: the deploy keys, one per line; empty text when none are configured (the step then leaves the file). */
export function renderRootAuthorizedKeys(cfg: HostConfig): string {
  if (cfg.rootSshKeys.length === 0) return "";
  return `# Managed by claude-bus provision: rootSshKeys of the host config (the deploy keys).\n${cfg.rootSshKeys.map((k) => `${k}\n`).join("")}`;
}

/** apt's daily list update and unattended upgrade (the two switches `dpkg-reconfigure unattended-upgrades` sets). */
export function renderAptPeriodic(): string {
  return `// Managed by claude-bus provision.
APT::Periodic::Update-Package-Lists "1";
APT::Periodic::Unattended-Upgrade "1";
`;
}

/**
 * Security updates only: Debian's 50unattended-upgrades also takes point-release updates, so its origin
 * list is cleared (#clear) and replaced. A reboot an update asks for (/run/reboot-required) happens at
 * autoReboot, host time, or never.
 */
export function renderUnattendedUpgrades(cfg: HostConfig): string {
  const reboot =
    cfg.autoReboot === "never"
      ? `Unattended-Upgrade::Automatic-Reboot "false";\n`
      : `Unattended-Upgrade::Automatic-Reboot "true";\nUnattended-Upgrade::Automatic-Reboot-WithUsers "true";\nUnattended-Upgrade::Automatic-Reboot-Time "${cfg.autoReboot}";\n`;
  return `// Managed by claude-bus provision: security updates only.
#clear Unattended-Upgrade::Origins-Pattern;
Unattended-Upgrade::Origins-Pattern {
        "origin=Debian,codename=\${distro_codename}-security,label=Debian-Security";
};
${reboot}`;
}

/** `restrict` leaves scp/sftp/ssh commands working but turns off forwarding, pty and rc files. */
/** A drop-dir key may run nothing but sshd's own SFTP server, and forward nothing (`restrict`). */
export const DROP_KEY_OPTIONS = 'restrict,command="internal-sftp"';

export function renderAuthorizedKeys(cfg: HostConfig): string {
  const header = "# Managed by claude-bus provision: clientSshKeys of the host config (file transfer only: SFTP, which scp uses).\n";
  return header + cfg.clientSshKeys.map((k) => `${DROP_KEY_OPTIONS} ${k}\n`).join("");
}

/** A unit drop-in: the unit starts only once `dir` is mounted (a nofail mount orders no unit by itself). */
export function renderRequiresMount(dir: string): string {
  return `# Managed by claude-bus provision: ${dir} is mounted from the data volume.\n[Unit]\nRequiresMountsFor=${dir}\n`;
}

export function renderCertbotDeployHook(): string {
  return `#!/bin/sh
# Managed by claude-bus provision: renewed certificates are picked up without downtime.
exec systemctl reload nginx
`;
}

/** Lets Debian's certbot.timer renew against an ACME server whose TLS cert is signed by a private CA. */
export function renderCertbotCaDropin(): string {
  return `# Managed by claude-bus provision.
[Service]
Environment=REQUESTS_CA_BUNDLE=${ACME_CA_FILE}
`;
}
