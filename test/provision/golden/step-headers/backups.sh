readonly -a TARGET_KEYS=('BACKUP_S3_ENDPOINT' 'BACKUP_S3_BUCKET' 'BACKUP_S3_ACCESS_KEY_ID' 'BACKUP_S3_SECRET_ACCESS_KEY')
readonly BACKUP_TARGET_FILE='/etc/claude-bus/backup-s3.env'
readonly SERVICE_USER='claude-bus'
readonly BACKUP_UNIT_PATH='/etc/systemd/system/claude-bus-backup.service'
IFS= read -r -d '' BACKUP_UNIT <<'CLAUDE_BUS_EOF' || true
# Managed by claude-bus provision: local edits are overwritten.
[Unit]
Description=claude-bus backup to the off-host bucket (claude-bus.example.com)
Documentation=https://github.com/example/claude-bus
Wants=network-online.target
After=network-online.target claude-bus.service

[Service]
Type=oneshot
# The service's user reads both 0600 files; the data and drop dirs are hidden: the backup comes from GET /backup.
User=claude-bus
Group=claude-bus
InaccessiblePaths=-/opt/claude-bus/data -/opt/claude-bus-files
Environment=NODE_ENV=production
# node --: Node 20 would take the command's --env-file for its own option and load the file into the environment.
ExecStart=/usr/bin/node -- /opt/claude-bus/app/claude-bus.js backup --to-s3 --keep 30 --url http://127.0.0.1:8787 --env-file /etc/claude-bus/credentials.env --s3-env /etc/claude-bus/backup-s3.env
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
CLAUDE_BUS_EOF
readonly BACKUP_UNIT
readonly BACKUP_TIMER_PATH='/etc/systemd/system/claude-bus-backup.timer'
IFS= read -r -d '' BACKUP_TIMER <<'CLAUDE_BUS_EOF' || true
# Managed by claude-bus provision: local edits are overwritten.
[Unit]
Description=Daily claude-bus backup to the off-host bucket (claude-bus.example.com)

[Timer]
Unit=claude-bus-backup.service
OnCalendar=*-*-* 04:00:00 UTC
RandomizedDelaySec=30min
Persistent=true

[Install]
WantedBy=timers.target
CLAUDE_BUS_EOF
readonly BACKUP_TIMER
readonly BACKUP_TIMER_NAME='claude-bus-backup.timer'
