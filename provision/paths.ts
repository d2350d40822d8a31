/** Fixed names on the host (the README's "Host pieces" table); the fqdn-dependent ones are functions of it. */
export const SERVICE_NAME = "claude-bus";
export const SERVICE_USER = "claude-bus";
/**
 * Fixed numeric ids: the service user and group (SERVICE_USER), the drop dir's group and the drop user
 * (sharedDir.group, sharedDir.dropUser). Files on the data volume belong to them by number, so every host
 * (a droplet replaced from any image) must give the same numbers. In the system range, far from both ends
 * where ids are handed out (adduser counts up from 100; useradd and systemd-sysusers down from 999).
 * A host made before these ids keeps its numbers: the steps give the volume's files to the users by name.
 */
export const SERVICE_UID = 850;
export const DROP_GID = 851;
export const DROP_UID = 852;
/** The login shell of the service and drop users: neither may run a command. */
export const NOLOGIN_SHELL = "/usr/sbin/nologin";
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
/** certbot's directory: account, certificates, renewal configs. With a volume, a bind mount from it. */
export const LETSENCRYPT_DIR = "/etc/letsencrypt";
export const CERTBOT_DEPLOY_HOOK = `${LETSENCRYPT_DIR}/renewal-hooks/deploy/claude-bus-reload-nginx`;
export const CERTBOT_CA_DROPIN = "/etc/systemd/system/certbot.service.d/claude-bus-acme-ca.conf";
/** Where the data volume is mounted; DATA_DIR and SHARED_DIR are bind mounts of its subdirectories. */
export const VOLUME_MOUNT = "/mnt/claude-bus-volume";
/** Each dir that lives on the volume, by its subdirectory there: the first host's files are moved onto it. */
export const VOLUME_DIRS = { data: DATA_DIR, files: SHARED_DIR } as const;
/**
 * What makes the host itself, kept on the volume so a replaced droplet is the same host to its clients:
 * dirs bind-mounted from the volume like VOLUME_DIRS (the first host's files are copied there; a later
 * host's own stay hidden under the mount), and the SSH host keys, copied to and from HOST_KEYS_SUBDIR.
 */
export const VOLUME_IDENTITY_DIRS = { letsencrypt: LETSENCRYPT_DIR } as const;
export const HOST_KEYS_SUBDIR = "ssh-host-keys";
export const SSH_DIR = "/etc/ssh";
/** Drop-ins that keep nginx and certbot from starting before the volume's LETSENCRYPT_DIR is mounted. */
export const LETSENCRYPT_MOUNT_DROPINS = ["nginx", "certbot"].map((unit) => `/etc/systemd/system/${unit}.service.d/claude-bus-volume.conf`);
export const VOLUME_LABEL = "claude-bus";
export const FSTAB = "/etc/fstab";
export const ROOT_AUTHORIZED_KEYS = "/root/.ssh/authorized_keys";
/** apt's periodic switches (the name dpkg-reconfigure unattended-upgrades writes) and our policy after Debian's 50unattended-upgrades. */
export const APT_PERIODIC_FILE = "/etc/apt/apt.conf.d/20auto-upgrades";
export const UNATTENDED_UPGRADES_FILE = "/etc/apt/apt.conf.d/52claude-bus-unattended-upgrades";
/** The first line of every nginx site this project writes: how a site left by an earlier domain is recognised. */
export const MANAGED_SITE_MARKER = "# Managed by claude-bus provision";

/** Debian's default site, enabled by the nginx package: removed, so no other name gets nginx's welcome page. */
export const NGINX_DEFAULT_SITE = "/etc/nginx/sites-enabled/default";

export const nginxSitePath = (fqdn: string) => `/etc/nginx/sites-available/${fqdn}`;
export const nginxEnabledPath = (fqdn: string) => `/etc/nginx/sites-enabled/${fqdn}`;
/** The port-80-only site that answers the first ACME challenge, present only while the certificate step runs. */
export const acmeBootstrapPath = (fqdn: string) => `/etc/nginx/sites-enabled/claude-bus-acme-${fqdn}`;
export const certDir = (fqdn: string) => `${LETSENCRYPT_DIR}/live/${fqdn}`;
export const renewalConfPath = (fqdn: string) => `${LETSENCRYPT_DIR}/renewal/${fqdn}.conf`;
