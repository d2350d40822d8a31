/** The claude-bus.service unit: a dedicated user, read-only system, only the data dir writable. */
import { DEPLOYED_OPTION_NAMES, serveArguments } from "../../contract/serviceOptions";
import type { HostConfig } from "../config";
import { BUNDLE_INSTALL_PATH, CREDENTIALS_FILE, DATA_DIR, SERVICE_USER } from "../paths";

/**
 * `serve`'s arguments: on loopback, with nginx in front (so the service believes its X-Real-IP), then
 * each option the host config sets to other than its default.
 */
function serveArgs(cfg: HostConfig): string {
  const options = Object.fromEntries(DEPLOYED_OPTION_NAMES.map((name) => [name, cfg[name]]));
  return [
    ...serveArguments({ host: "127.0.0.1", port: cfg.servicePort, data: DATA_DIR, behindProxy: true }, { always: true }),
    ...serveArguments(options),
  ].join(" ");
}

/** The sandbox the bus's units share, claude-bus.service and the backup's (each scored at most 2.0 by the tests). */
export const SANDBOX = `ProtectHome=yes
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
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX`;
/** The system calls those units may make. */
export const SYSCALL_FILTER = `SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallFilter=~@privileged @resources
SystemCallErrorNumber=EPERM`;

export function renderServiceUnit(cfg: HostConfig): string {
  return `# Managed by claude-bus provision: local edits are overwritten.
[Unit]
Description=claude-bus message service (${cfg.fqdn})
Documentation=https://github.com/example/claude-bus
After=network.target
# The data dir may be a mount (the data volume): never start on the root disk's empty dir below it.
RequiresMountsFor=${DATA_DIR}

[Service]
Type=simple
User=${SERVICE_USER}
Group=${SERVICE_USER}
# The service reads BUS_USER/BUS_PASS from this file itself, again on SIGHUP, so rotation needs no restart.
Environment=BUS_CREDENTIALS_FILE=${CREDENTIALS_FILE}
Environment=NODE_ENV=production
ExecStart=/usr/bin/node ${BUNDLE_INSTALL_PATH} ${serveArgs(cfg)}
ExecReload=/bin/kill -HUP $MAINPID
Restart=on-failure
RestartSec=2s
TimeoutStopSec=20s
UMask=0077

# An overload ends the bus (Restart= brings it back), never nginx or sshd beside it.
MemoryHigh=${Math.floor(cfg.serviceMemoryMiB * 0.8)}M
MemoryMax=${cfg.serviceMemoryMiB}M

# Hardening: systemd-analyze security scores this unit at most 2.0 (checked by the unit tests).
ProtectSystem=strict
ReadWritePaths=${DATA_DIR}
${SANDBOX}
IPAddressDeny=any
IPAddressAllow=localhost
${SYSCALL_FILTER}

[Install]
WantedBy=multi-user.target
`;
}
