/** Fixed names on the host (the README's "Host pieces" table); the fqdn-dependent ones are functions of it. */
export const SERVICE_NAME = "claude-bus";
export const SERVICE_USER = "claude-bus";
export const INSTALL_DIR = "/opt/claude-bus";
export const APP_DIR = `${INSTALL_DIR}/app`;
export const BUNDLE_INSTALL_PATH = `${APP_DIR}/claude-bus.js`;
export const DATA_DIR = `${INSTALL_DIR}/data`;
export const UNIT_PATH = "/etc/systemd/system/claude-bus.service";
export const CONFIG_DIR = "/etc/claude-bus";
/** dotenv file with BUS_USER/BUS_PASS, 0600, owned by the service user, re-read by the service on SIGHUP. */
export const CREDENTIALS_FILE = `${CONFIG_DIR}/credentials.env`;
/** The daily off-host backup: a oneshot service, its timer, and the bucket's env file (0600, the service user's). */
export const BACKUP_SERVICE_NAME = "claude-bus-backup";
export const BACKUP_UNIT_PATH = `/etc/systemd/system/${BACKUP_SERVICE_NAME}.service`;
export const BACKUP_TIMER_PATH = `/etc/systemd/system/${BACKUP_SERVICE_NAME}.timer`;
export const BACKUP_TARGET_FILE = `${CONFIG_DIR}/backup-s3.env`;
export const ACME_CA_FILE = `${CONFIG_DIR}/acme-ca.pem`;
/** nginx checked the password against this file before the service authenticated alone: removed on upgrade. */
export const LEGACY_HTPASSWD_FILE = "/etc/nginx/.htpasswd-claude-bus";
export const ACCESS_LOG = "/var/log/claude-bus-access.log";
export const ERROR_LOG = "/var/log/claude-bus-error.log";
export const LOGROTATE_FILE = "/etc/logrotate.d/claude-bus";
export const ACME_WEBROOT = "/var/www/claude-bus-acme";
export const SHARED_DIR = "/opt/claude-bus-files";
export const TMPFILES_FILE = "/etc/tmpfiles.d/claude-bus-files.conf";
export const CERTBOT_DEPLOY_HOOK = "/etc/letsencrypt/renewal-hooks/deploy/claude-bus-reload-nginx";
export const CERTBOT_CA_DROPIN = "/etc/systemd/system/certbot.service.d/claude-bus-acme-ca.conf";
/** Where the data volume is mounted; DATA_DIR and SHARED_DIR are bind mounts of its subdirectories. */
export const VOLUME_MOUNT = "/mnt/claude-bus-volume";
/** Each dir that lives on the volume, by its subdirectory there. */
export const VOLUME_DIRS = { data: DATA_DIR, files: SHARED_DIR } as const;
export const VOLUME_LABEL = "claude-bus";
export const FSTAB = "/etc/fstab";
export const ROOT_AUTHORIZED_KEYS = "/root/.ssh/authorized_keys";
/** apt's periodic switches (the name dpkg-reconfigure unattended-upgrades writes) and our policy after Debian's 50unattended-upgrades. */
export const APT_PERIODIC_FILE = "/etc/apt/apt.conf.d/20auto-upgrades";
export const UNATTENDED_UPGRADES_FILE = "/etc/apt/apt.conf.d/52claude-bus-unattended-upgrades";
/** The first line of every nginx site this project writes: how a site left by an earlier domain is recognised. */
export const MANAGED_SITE_MARKER = "# Managed by claude-bus provision";

export const nginxSitePath = (fqdn: string) => `/etc/nginx/sites-available/${fqdn}`;
export const nginxEnabledPath = (fqdn: string) => `/etc/nginx/sites-enabled/${fqdn}`;
/** The port-80-only site that answers the first ACME challenge, present only while the certificate step runs. */
export const acmeBootstrapPath = (fqdn: string) => `/etc/nginx/sites-enabled/claude-bus-acme-${fqdn}`;
export const certDir = (fqdn: string) => `/etc/letsencrypt/live/${fqdn}`;
export const renewalConfPath = (fqdn: string) => `/etc/letsencrypt/renewal/${fqdn}.conf`;
