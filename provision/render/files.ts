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

/** Creates the drop dir at boot and, when maxAgeDays is set, lets systemd-tmpfiles-clean.timer age files out. */
export function renderTmpfiles(cfg: HostConfig): string {
  const age = cfg.sharedDir.maxAgeDays ? `${cfg.sharedDir.maxAgeDays}d` : "-";
  return `# Managed by claude-bus provision: the shared drop dir (setgid, group-writable).
d ${SHARED_DIR} 2770 root ${cfg.sharedDir.group} ${age}
`;
}

/** `restrict` leaves scp/sftp/ssh commands working but turns off forwarding, pty and rc files. */
export function renderAuthorizedKeys(cfg: HostConfig): string {
  const header = "# Managed by claude-bus provision: clientSshKeys of the host config.\n";
  return header + cfg.clientSshKeys.map((k) => `restrict ${k}\n`).join("");
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
