/**
 * The ordered host steps, each a bash file in provision/steps/ (run as root) with a generated header of
 * the values it uses, plus the hash that says when it must run again: a step's hash changes exactly
 * when its script does. Every step compares before it writes and restarts or reloads only on change,
 * so a second run prints no `changed:` line. The secrets arrive on stdin only: the credentials env text
 * (`stdin: "credentials"`) and, when backups are configured, the backup bucket's env text
 * (`stdin: "backupTarget"`).
 */
import { createHash } from "node:crypto";
import * as path from "node:path";
import { REQUIRED_BACKUP_TARGET_KEYS } from "../contract/backupTarget";
import { HOST_PASSWORD_REGEX, HOST_PASSWORD_RULE } from "../contract/password";
import { type Header, fileText, stepScript } from "./compose";
import type { HostConfig } from "./config";
import { busUrlOf } from "./credentials";
import {
  ACME_CA_FILE,
  ACME_WEBROOT,
  APP_DIR,
  BACKUP_SERVICE_NAME,
  BACKUP_TARGET_FILE,
  BACKUP_TIMER_PATH,
  BACKUP_UNIT_PATH,
  APT_PERIODIC_FILE,
  BUNDLE_INSTALL_PATH,
  CERTBOT_CA_DROPIN,
  CERTBOT_DEPLOY_HOOK,
  CONFIG_DIR,
  CREDENTIALS_FILE,
  DATA_DIR,
  DROP_GID,
  DROP_UID,
  LEGACY_HTPASSWD_FILE,
  INSTALL_DIR,
  FSTAB,
  LOGROTATE_FILE,
  MANAGED_SITE_MARKER,
  NGINX_DEFAULT_SITE,
  NOLOGIN_SHELL,
  ROOT_AUTHORIZED_KEYS,
  SERVICE_NAME,
  SERVICE_UID,
  SERVICE_USER,
  SHARED_DIR,
  TMPFILES_FILE,
  UNATTENDED_UPGRADES_FILE,
  UNIT_PATH,
  VOLUME_DIRS,
  VOLUME_IDENTITY_DIRS,
  VOLUME_LABEL,
  HOST_KEYS_SUBDIR,
  LETSENCRYPT_DIR,
  LETSENCRYPT_MOUNT_DROPINS,
  SSH_DIR,
  VOLUME_MOUNT,
  acmeBootstrapPath,
  certDir,
  nginxEnabledPath,
  nginxSitePath,
  renewalConfPath,
} from "./paths";
import {
  renderAptPeriodic,
  renderAuthorizedKeys,
  renderCertbotCaDropin,
  renderCertbotDeployHook,
  renderLogrotate,
  renderRequiresMount,
  renderRootAuthorizedKeys,
  renderTmpfiles,
  renderUnattendedUpgrades,
} from "./render/files";
import { renderBackupService, renderBackupTimer } from "./render/backup";
import { HTTP2_DIRECTIVE_SINCE, renderAcmeBootstrapSite, renderNginxSite } from "./render/nginx";
import { renderServiceUnit } from "./render/systemd";

/**
 * A secret a step reads on stdin. "credentials": credentialsEnv(cfg, password) (provision/credentials.ts);
 * "backupTarget": the backup bucket's env file text (contract/backupTarget.ts).
 */
export type StepInput = "credentials" | "backupTarget";

export interface HostStep {
  name: string;
  description: string;
  script: string;
  hash: string;
  stdin?: StepInput;
}

/** A step before composition: provision/steps/<name>.sh and the header of values it reads. */
export interface StepPlan {
  name: string;
  description: string;
  header: Header;
  stdin?: StepInput;
  /** Steps whose change this one must run again after (it checks what they did). */
  checks?: string[];
}

/**
 * Where the bundle file is copied before the steps run; the "service" step installs it from here after
 * checking its sha256. Directly in /var/tmp, so an uploader that cannot create directories works too.
 */
export const BUNDLE_UPLOAD_PATH = "/var/tmp/claude-bus-bundle.js";

/**
 * Debian packages the host needs (python3-certbot-nginx is not among them: certificates use --webroot):
 * jq reads the DNS-over-HTTPS answer, e2fsprogs formats the data volume.
 */
export const HOST_PACKAGES = ["nodejs", "nginx", "certbot", "curl", "ca-certificates", "openssl", "jq", "e2fsprogs", "unattended-upgrades"];

/** What lib.sh itself reads: its handlers restart and reload the bus's unit. */
const LIB_HEADER: Header = { SERVICE: SERVICE_NAME };

/** What read_credentials checks the text on stdin against; the password rule is the contract's. */
const credentialsCheck = (cfg: HostConfig): Header => ({
  BUS_USER: cfg.busUser,
  BUS_URL: busUrlOf(cfg),
  PASSWORD_REGEX: HOST_PASSWORD_REGEX,
  PASSWORD_RULE: HOST_PASSWORD_RULE,
});

/** A file's text as installed: a PEM given without its final newline gets one. */
const asTextFile = (text: string) => fileText(text.endsWith("\n") ? text : `${text}\n`);

const cloudInit = (): StepPlan => ({
  name: "cloud-init",
  description: "wait until cloud-init has finished (returns at once on hosts without it)",
  header: {},
});

const sshKeys = (cfg: HostConfig): StepPlan => ({
  name: "ssh-keys",
  description: `root's ${ROOT_AUTHORIZED_KEYS}: the ${cfg.rootSshKeys.length} configured deploy key(s)`,
  header: { ROOT_KEYS_PATH: ROOT_AUTHORIZED_KEYS, ROOT_KEYS: fileText(renderRootAuthorizedKeys(cfg)) },
});

const packages = (): StepPlan => ({
  name: "packages",
  description: `install ${HOST_PACKAGES.join(", ")} when missing; require Node.js 18+`,
  header: { PACKAGES: HOST_PACKAGES },
});

const updates = (cfg: HostConfig): StepPlan => ({
  name: "updates",
  description: `unattended-upgrades: security updates only, reboot when one needs it: ${cfg.autoReboot}`,
  header: {
    PERIODIC_PATH: APT_PERIODIC_FILE,
    PERIODIC: fileText(renderAptPeriodic()),
    POLICY_PATH: UNATTENDED_UPGRADES_FILE,
    POLICY: fileText(renderUnattendedUpgrades(cfg)),
  },
});

/**
 * The span at the start of a volume that must read back as zeros before the volume step formats it, in
 * MiB: every file system's superblock and every partition table's header lies within it.
 */
const VOLUME_BLANK_MIB = 16;

/** What each dir on the volume is: the bus's data (moved onto it) or the host's identity (kept there). */
const volumeKinds = [...Object.keys(VOLUME_DIRS).map(() => "data"), ...Object.keys(VOLUME_IDENTITY_DIRS).map(() => "identity")];

const volume = (device: string): StepPlan => ({
  name: "volume",
  description: `the data volume ${device} at ${VOLUME_MOUNT}, holding ${[...Object.values(VOLUME_DIRS), ...Object.values(VOLUME_IDENTITY_DIRS)].join(", ")} and the SSH host keys`,
  header: {
    VOLUME_DEVICE: device,
    VOLUME_MOUNT,
    VOLUME_LABEL,
    VOLUME_BLANK_MIB,
    VOLUME_SUBDIRS: [...Object.keys(VOLUME_DIRS), ...Object.keys(VOLUME_IDENTITY_DIRS)],
    VOLUME_TARGETS: [...Object.values(VOLUME_DIRS), ...Object.values(VOLUME_IDENTITY_DIRS)],
    VOLUME_KINDS: volumeKinds,
    FSTAB,
    LETSENCRYPT_MOUNT_DROPINS,
    LETSENCRYPT_MOUNT_DROPIN: fileText(renderRequiresMount(LETSENCRYPT_DIR)),
    SSH_DIR,
    HOST_KEYS_SUBDIR,
  },
});

const accounts = (): StepPlan => ({
  name: "accounts",
  description: `system user ${SERVICE_USER} and the service's directories`,
  header: { SERVICE_USER, SERVICE_UID, NOLOGIN_SHELL, INSTALL_DIR, APP_DIR, DATA_DIR, CONFIG_DIR, ACME_WEBROOT },
});

const credentials = (cfg: HostConfig): StepPlan => ({
  name: "credentials",
  description: `the service's ${CREDENTIALS_FILE} (0600) from the credentials on stdin, re-read by the service`,
  header: { ...credentialsCheck(cfg), CREDENTIALS_FILE, SERVICE_USER },
  stdin: "credentials",
});

const service = (cfg: HostConfig, bundleSha256: string): StepPlan => ({
  name: "service",
  description: `bundle ${bundleSha256.slice(0, 12)} at ${BUNDLE_INSTALL_PATH} and ${UNIT_PATH}; restart only on change`,
  header: {
    BUNDLE_SHA256: bundleSha256,
    BUNDLE_UPLOAD_PATH,
    BUNDLE_PATH: BUNDLE_INSTALL_PATH,
    APP_DIR,
    UNIT_PATH,
    UNIT: fileText(renderServiceUnit(cfg)),
    SERVICE_PORT: cfg.servicePort,
  },
});

const dropDir = (cfg: HostConfig): StepPlan => ({
  name: "drop-dir",
  description: `${SHARED_DIR} (setgid 2770, group ${cfg.sharedDir.group}) and SSH login ${cfg.sharedDir.dropUser} for the clients' keys`,
  header: {
    DROP_GROUP: cfg.sharedDir.group,
    DROP_GID,
    DROP_USER: cfg.sharedDir.dropUser,
    DROP_UID,
    NOLOGIN_SHELL,
    SHARED_DIR,
    TMPFILES_RULE_PATH: TMPFILES_FILE,
    TMPFILES_RULE: fileText(renderTmpfiles(cfg)),
    AUTHORIZED_KEYS: fileText(renderAuthorizedKeys(cfg)),
  },
});

const certificate = (cfg: HostConfig): StepPlan => ({
  name: "certificate",
  description: `certificate for ${cfg.fqdn} from ${cfg.acmeServer} (certbot --webroot; renewed by certbot.timer)`,
  header: {
    FQDN: cfg.fqdn,
    ACME_SERVER: cfg.acmeServer,
    ACME_EMAIL: cfg.acmeEmail,
    ACME_WEBROOT,
    CERT_DIR: certDir(cfg.fqdn),
    RENEWAL_CONF: renewalConfPath(cfg.fqdn),
    ACME_CA: cfg.acmeCaBundle ? asTextFile(cfg.acmeCaBundle) : fileText(""),
    ACME_CA_PATH: ACME_CA_FILE,
    CERTBOT_CA_DROPIN_PATH: CERTBOT_CA_DROPIN,
    CERTBOT_CA_DROPIN: fileText(renderCertbotCaDropin()),
    CERTBOT_DEPLOY_HOOK_PATH: CERTBOT_DEPLOY_HOOK,
    CERTBOT_DEPLOY_HOOK: fileText(renderCertbotDeployHook()),
    SITE_ENABLED: nginxEnabledPath(cfg.fqdn),
    ACME_BOOTSTRAP_PATH: acmeBootstrapPath(cfg.fqdn),
    ACME_BOOTSTRAP: fileText(renderAcmeBootstrapSite(cfg)),
    PUBLIC_IPV4: cfg.publicIpv4 ?? "",
    PUBLIC_IPV6: cfg.publicIpv6 ?? "",
    DOH_URL: cfg.dohUrl,
    SITES_AVAILABLE: path.dirname(nginxSitePath(cfg.fqdn)),
    SITES_ENABLED_DIR: path.dirname(nginxEnabledPath(cfg.fqdn)),
    RENEWAL_DIR: path.dirname(renewalConfPath(cfg.fqdn)),
    MANAGED_SITE_MARKER,
  },
});

const nginx = (cfg: HostConfig): StepPlan => ({
  name: "nginx",
  description: `nginx site ${nginxSitePath(cfg.fqdn)} (TLS, rate limit, client address) and logrotate; nginx -t before reload`,
  header: {
    LEGACY_HTPASSWD_FILE,
    SITE_PATH: nginxSitePath(cfg.fqdn),
    SITE: fileText(renderNginxSite(cfg, "directive")),
    SITE_LEGACY_HTTP2: fileText(renderNginxSite(cfg, "listen")),
    HTTP2_DIRECTIVE_SINCE,
    SITE_ENABLED: nginxEnabledPath(cfg.fqdn),
    NGINX_DEFAULT_SITE,
    LOGROTATE_PATH: LOGROTATE_FILE,
    LOGROTATE: fileText(renderLogrotate()),
  },
});

const health = (cfg: HostConfig): StepPlan => ({
  name: "health",
  description: `GET ${busUrlOf(cfg)}/health through nginx over TLS with the bus credential`,
  header: { FQDN: cfg.fqdn, CHAIN_PEM: `${certDir(cfg.fqdn)}/chain.pem`, ...credentialsCheck(cfg) },
  stdin: "credentials",
  checks: ["service", "nginx"],
});

/**
 * The host key a step's output reports in its line `host key: TYPE BASE64` (the volume step's last line:
 * it puts the SSH host keys kept on the data volume back); the connections after it are pinned to that key.
 */
export const hostKeyIn = (output: string): string | undefined => /^host key: (\S+ \S+)$/m.exec(output)?.[1];

const backups = (cfg: HostConfig & { backups: NonNullable<HostConfig["backups"]> }): StepPlan => ({
  name: "backups",
  description: `daily backup at ${String(cfg.backups.hourUtc).padStart(2, "0")}:00 UTC to the off-host bucket on stdin, keeping the newest ${cfg.backups.keep}`,
  header: {
    TARGET_KEYS: REQUIRED_BACKUP_TARGET_KEYS,
    BACKUP_TARGET_FILE,
    SERVICE_USER,
    BACKUP_UNIT_PATH,
    BACKUP_UNIT: fileText(renderBackupService(cfg)),
    BACKUP_TIMER_PATH,
    BACKUP_TIMER: fileText(renderBackupTimer(cfg)),
    BACKUP_TIMER_NAME: `${BACKUP_SERVICE_NAME}.timer`,
  },
  stdin: "backupTarget",
});

/** Every step's plan, in order. The certificate step needs DNS to point at the host (infra orders it). */
export function hostStepPlans(cfg: HostConfig, bundle: { sha256: string }): StepPlan[] {
  if (!/^[0-9a-f]{64}$/.test(bundle.sha256)) throw new Error(`bundle.sha256 must be 64 hex digits, got ${JSON.stringify(bundle.sha256)}`);
  return [
    cloudInit(),
    sshKeys(cfg),
    packages(),
    updates(cfg),
    ...(cfg.volume ? [volume(cfg.volume.device)] : []),
    accounts(),
    credentials(cfg),
    service(cfg, bundle.sha256),
    dropDir(cfg),
    certificate(cfg),
    nginx(cfg),
    health(cfg),
    ...(cfg.backups ? [backups({ ...cfg, backups: cfg.backups })] : []),
  ];
}

/** A plan's script (lib.sh's own values first in its header) and the hash of that script. */
export function composeStep(plan: StepPlan): HostStep {
  const script = stepScript(plan.name, { ...LIB_HEADER, ...plan.header });
  const hash = createHash("sha256").update(script).digest("hex");
  const { name, description, stdin } = plan;
  return stdin ? { name, description, script, hash, stdin } : { name, description, script, hash };
}

/**
 * Every host step in order, ready to run. A step that checks others (health) has their hashes in its
 * own, so it runs again whenever they do.
 */
export function hostSteps(cfg: HostConfig, bundle: { sha256: string }): HostStep[] {
  const plans = hostStepPlans(cfg, bundle);
  const steps = plans.map(composeStep);
  const hashOf = (name: string) => steps.find((s) => s.name === name)!.hash;
  return steps.map((step, i) => {
    const checked = plans[i].checks ?? [];
    if (checked.length === 0) return step;
    const hash = createHash("sha256")
      .update([step.hash, ...checked.map(hashOf)].join("\n"))
      .digest("hex");
    return { ...step, hash };
  });
}

/** The script `claude-bus provision` copies the bundle with (on its stdin) to BUNDLE_UPLOAD_PATH. */
export function bundleUploadScript(): string {
  return stepScript("upload-bundle", { ...LIB_HEADER, BUNDLE_UPLOAD_PATH });
}

/**
 * `restore` or `import` of a file (on stdin) into the host's data dir, by the service's own bundle as the
 * service user, with the bus stopped meanwhile. `args` go after `--data DIR` (e.g. --force).
 */
export function dataCommandScript(cfg: HostConfig, command: "restore" | "import", args: string[]): string {
  return stepScript("data-command", {
    ...LIB_HEADER,
    COMMAND: command,
    COMMAND_ARGS: args,
    BUNDLE_INSTALL_PATH,
    DATA_DIR,
    SERVICE_USER,
    SERVICE_PORT: cfg.servicePort,
  });
}

/**
 * What lets go of the data volume before it is detached (Pulumi runs it as the delete of a command that
 * depends on the attachment): the bus stopped, the volume's file systems written out and unmounted.
 */
export function releaseScript(cfg: HostConfig): string {
  if (!cfg.volume) throw new Error("releaseScript: the host config names no data volume");
  return stepScript("release", { ...LIB_HEADER, VOLUME_DEVICE: cfg.volume.device, DROP_USER: cfg.sharedDir.dropUser });
}

/**
 * A password change: the same credentials and health steps `pulumi up` runs again when the password
 * changes, so both ways of rotating do exactly the same on the host.
 */
export function rotationSteps(cfg: HostConfig): HostStep[] {
  return [credentials(cfg), health(cfg)].map(composeStep);
}
