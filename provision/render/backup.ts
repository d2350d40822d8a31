/**
 * The daily off-host backup: claude-bus-backup.service runs the service's own bundle as
 * `claude-bus backup --to-s3` against the bus on loopback, and claude-bus-backup.timer starts it once a
 * day. It runs as the service's user, so it reads the two 0600 files that hold the secrets (the bus's
 * credentials file and the bucket's) by their paths: neither secret is in an argument, an Environment=
 * line or `systemctl show`. The data dir it never needs (it asks the bus for GET /backup) is hidden from it.
 * (LoadCredential= would hand the files over without that user, but it needs a credentials file system
 * that systemd in the throwaway test host cannot mount, so the unit that runs there is this one.)
 */
import type { HostConfig } from "../config";
import { SANDBOX, SYSCALL_FILTER } from "./systemd";
import { BACKUP_SERVICE_NAME, BACKUP_TARGET_FILE, BUNDLE_INSTALL_PATH, CREDENTIALS_FILE, DATA_DIR, SERVICE_NAME, SERVICE_USER, SHARED_DIR } from "../paths";

type WithBackups = HostConfig & { backups: NonNullable<HostConfig["backups"]> };

export function renderBackupService(cfg: WithBackups): string {
  return `# Managed by claude-bus provision: local edits are overwritten.
[Unit]
Description=claude-bus backup to the off-host bucket (${cfg.fqdn})
Documentation=https://github.com/example/claude-bus
Wants=network-online.target
After=network-online.target ${SERVICE_NAME}.service

[Service]
Type=oneshot
# The service's user reads both 0600 files; the data and drop dirs are hidden: the backup comes from GET /backup.
User=${SERVICE_USER}
Group=${SERVICE_USER}
InaccessiblePaths=-${DATA_DIR} -${SHARED_DIR}
Environment=NODE_ENV=production
# node --: Node 20 would take the command's --env-file for its own option and load the file into the environment.
ExecStart=/usr/bin/node -- ${BUNDLE_INSTALL_PATH} backup --to-s3 --keep ${cfg.backups.keep} --url http://127.0.0.1:${cfg.servicePort} --env-file ${CREDENTIALS_FILE} --s3-env ${BACKUP_TARGET_FILE}
TimeoutStartSec=1h
UMask=0077
MemoryMax=256M

# Hardening as claude-bus.service, except that the bucket is on the internet (no IPAddressDeny).
ProtectSystem=strict
${SANDBOX}
${SYSCALL_FILTER}
`;
}

/** Once a day at hourUtc (spread over half an hour), and at boot when the host was off at that time. */
export function renderBackupTimer(cfg: WithBackups): string {
  const hour = String(cfg.backups.hourUtc).padStart(2, "0");
  return `# Managed by claude-bus provision: local edits are overwritten.
[Unit]
Description=Daily claude-bus backup to the off-host bucket (${cfg.fqdn})

[Timer]
Unit=${BACKUP_SERVICE_NAME}.service
OnCalendar=*-*-* ${hour}:00:00 UTC
RandomizedDelaySec=30min
Persistent=true

[Install]
WantedBy=timers.target
`;
}
