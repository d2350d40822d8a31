readonly BUNDLE_SHA256='abababababababababababababababababababababababababababababababab'
readonly BUNDLE_UPLOAD_PATH='/var/tmp/claude-bus-bundle.js'
readonly BUNDLE_PATH='/opt/claude-bus/app/claude-bus.js'
readonly APP_DIR='/opt/claude-bus/app'
readonly UNIT_PATH='/etc/systemd/system/claude-bus.service'
IFS= read -r -d '' UNIT <<'CLAUDE_BUS_EOF' || true
# Managed by claude-bus provision: local edits are overwritten.
[Unit]
Description=claude-bus message service (claude-bus.example.com)
Documentation=https://github.com/example/claude-bus
After=network.target
# The data dir may be a mount (the data volume): never start on the root disk's empty dir below it.
RequiresMountsFor=/opt/claude-bus/data

[Service]
Type=simple
User=claude-bus
Group=claude-bus
# The service reads BUS_USER/BUS_PASS from this file itself, again on SIGHUP, so rotation needs no restart.
Environment=BUS_CREDENTIALS_FILE=/etc/claude-bus/credentials.env
Environment=NODE_ENV=production
ExecStart=/usr/bin/node /opt/claude-bus/app/claude-bus.js --host 127.0.0.1 --port 8787 --data /opt/claude-bus/data --behind-proxy
ExecReload=/bin/kill -HUP $MAINPID
Restart=on-failure
RestartSec=2s
TimeoutStopSec=20s
UMask=0077

# An overload ends the bus (Restart= brings it back), never nginx or sshd beside it.
MemoryHigh=409M
MemoryMax=512M

# Hardening: systemd-analyze security scores this unit at most 2.0 (checked by the unit tests).
ProtectSystem=strict
ReadWritePaths=/opt/claude-bus/data
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
IPAddressDeny=any
IPAddressAllow=localhost
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallFilter=~@privileged @resources
SystemCallErrorNumber=EPERM

[Install]
WantedBy=multi-user.target
CLAUDE_BUS_EOF
readonly UNIT
readonly SERVICE_PORT=8787
