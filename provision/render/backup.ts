/**
 * The daily off-host backup: claude-bus-backup.service runs the service's own bundle as
 * `claude-bus backup --to-s3` against the bus on loopback, and claude-bus-backup.timer starts it once a
 * day. Both secrets (the bus's credentials file and the bucket's) reach the run only through
 * LoadCredential=: systemd reads them as root and hands them to this run alone, in its credentials
 * directory (%d), so neither is in an argument, an Environment= line or `systemctl show`.
 */
import type { HostConfig } from "../config";
import { BACKUP_SERVICE_NAME, BACKUP_TARGET_FILE, BUNDLE_INSTALL_PATH, CREDENTIALS_FILE, SERVICE_NAME } from "../paths";

/** The names the two files have in the run's credentials directory. */
const BUS_CREDENTIAL = "bus.env";
const BUCKET_CREDENTIAL = "backup-s3.env";

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
# A user of its own for each run: it cannot read the data dir, only ask the bus for GET /backup.
DynamicUser=yes
LoadCredential=${BUS_CREDENTIAL}:${CREDENTIALS_FILE}
LoadCredential=${BUCKET_CREDENTIAL}:${BACKUP_TARGET_FILE}
Environment=NODE_ENV=production
# node --: Node 20 would take the command's --env-file for its own option and load the file into the environment.
ExecStart=/usr/bin/node -- ${BUNDLE_INSTALL_PATH} backup --to-s3 --keep ${cfg.backups.keep} --url http://127.0.0.1:${cfg.servicePort} --env-file %d/${BUS_CREDENTIAL} --s3-env %d/${BUCKET_CREDENTIAL}
TimeoutStartSec=1h
UMask=0077
MemoryMax=256M

# Hardening as claude-bus.service, except that the bucket is on the internet (no IPAddressDeny).
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
PrivateUsers=yes
PrivateIPC=yes
PrivateMounts=yes
NoNewPrivileges=yes
CapabilityBoundingSet=
AmbientCapabilities=
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
ProtectProc=invisible
ProcSubset=pid
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
RemoveIPC=yes
KeyringMode=private
DevicePolicy=closed
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallFilter=~@privileged @resources
SystemCallErrorNumber=EPERM
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
