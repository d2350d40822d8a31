/**
 * The ordered host steps: each a self-contained bash script (run as root) plus the hash that says when
 * it must run again. Every step compares before it writes and restarts or reloads only on change, so a
 * second run prints no `changed:` line. Secrets arrive on stdin only (`stdin: "busPassword"`).
 */
import { createHash } from "crypto";
import type { HostConfig } from "./config";
import {
  ACME_CA_FILE,
  ACME_WEBROOT,
  APP_DIR,
  BUNDLE_INSTALL_PATH,
  CERTBOT_CA_DROPIN,
  CERTBOT_DEPLOY_HOOK,
  CONFIG_DIR,
  CREDENTIALS_FILE,
  DATA_DIR,
  HTPASSWD_FILE,
  LOGROTATE_FILE,
  SERVICE_NAME,
  SERVICE_USER,
  SHARED_DIR,
  TMPFILES_FILE,
  UNIT_PATH,
  certDir,
  nginxEnabledPath,
  nginxSitePath,
} from "./paths";
import { renderAcmeBootstrapSite, renderNginxSite } from "./render/nginx";
import { renderServiceUnit } from "./render/systemd";
import {
  renderAuthorizedKeys,
  renderCertbotCaDropin,
  renderCertbotDeployHook,
  renderLogrotate,
  renderTmpfiles,
} from "./render/files";
import { Helper, bashScript, heredoc, shq } from "./shell";

export interface HostStep {
  name: string;
  description: string;
  script: string;
  hash: string;
  stdin?: "busPassword";
}

/**
 * Where the bundle file is copied before the steps run; the "service" step installs it from here after
 * checking its sha256. Directly in /var/tmp, so an uploader that cannot create directories works too.
 */
export const BUNDLE_UPLOAD_PATH = "/var/tmp/claude-bus-bundle.js";

/** Debian packages the host needs (python3-certbot-nginx is not among them: certificates use --webroot). */
export const HOST_PACKAGES = ["nodejs", "nginx", "apache2-utils", "certbot", "curl", "ca-certificates", "openssl"];

function step(name: string, description: string, helpers: Helper[], body: string, stdin?: "busPassword"): HostStep {
  const script = bashScript(name, helpers, body);
  const hash = createHash("sha256").update(script).digest("hex");
  return stdin ? { name, description, script, hash, stdin } : { name, description, script, hash };
}

const busUrl = (cfg: HostConfig) => `https://${cfg.fqdn}`;

function cloudInitStep(): HostStep {
  return step("cloud-init", "wait until cloud-init has finished (returns at once on hosts without it)", [], `
if command -v cloud-init >/dev/null 2>&1; then
  echo "waiting for cloud-init to finish"
  cloud-init status --wait >/dev/null || echo "cloud-init finished with status $? (continuing)"
else
  echo "no cloud-init on this host"
fi`);
}

function packagesStep(): HostStep {
  return step("packages", `install ${HOST_PACKAGES.join(", ")} when missing; require Node.js 18+`, [], `
export DEBIAN_FRONTEND=noninteractive
missing=()
for pkg in ${HOST_PACKAGES.join(" ")}; do
  if [[ $(dpkg-query -W -f="\\\${db:Status-Status}" "$pkg" 2>/dev/null || true) != installed ]]; then
    missing+=("$pkg")
  fi
done
if ((\${#missing[@]})); then
  apt-get -o DPkg::Lock::Timeout=600 update -q
  apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "\${missing[@]}"
  changed "installed \${missing[*]}"
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
if ((node_major < 18)); then
  echo "Node.js $node_major is too old: the bus needs 18 or newer" >&2
  exit 1
fi`);
}

function accountsStep(): HostStep {
  const u = SERVICE_USER;
  return step("accounts", `system user ${u} and the service's directories`, ["ensure_dir"], `
if ! getent group ${u} >/dev/null; then
  groupadd --system ${u}
  changed "group ${u}"
fi
if ! getent passwd ${u} >/dev/null; then
  useradd --system --gid ${u} --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin ${u}
  changed "user ${u}"
fi
ensure_dir /opt/claude-bus 755 root:root
ensure_dir ${APP_DIR} 755 root:root
ensure_dir ${DATA_DIR} 750 ${u}:${u}
ensure_dir ${CONFIG_DIR} 750 root:${u}
ensure_dir ${ACME_WEBROOT} 755 root:root`);
}

function credentialsStep(cfg: HostConfig): HostStep {
  return step(
    "credentials",
    `htpasswd ${HTPASSWD_FILE} and the service's ${CREDENTIALS_FILE} (0600) from the password on stdin`,
    ["read_password", "write_credentials"],
    `
read_password
write_credentials ${HTPASSWD_FILE} ${CREDENTIALS_FILE} ${shq(cfg.busUser)} ${busUrl(cfg)} ${SERVICE_NAME} ${SERVICE_USER} ${cfg.servicePort}`,
    "busPassword",
  );
}

function serviceStep(cfg: HostConfig, bundleSha256: string): HostStep {
  return step("service", `bundle ${bundleSha256.slice(0, 12)} at ${BUNDLE_INSTALL_PATH} and ${UNIT_PATH}; restart only on change`, ["install_file"], `
want=${bundleSha256}
restart=no
have=none
if [[ -f ${BUNDLE_INSTALL_PATH} ]]; then have=$(sha256sum < ${BUNDLE_INSTALL_PATH} | cut -d' ' -f1); fi
if [[ $have != "$want" ]]; then
  if [[ ! -f ${BUNDLE_UPLOAD_PATH} ]]; then
    echo "the bundle is not at ${BUNDLE_UPLOAD_PATH}: upload it before this step" >&2
    exit 1
  fi
  # /var/tmp is world-writable: check and install a private copy, so the file hashed is the file installed.
  staged=$(mktemp ${APP_DIR}/.upload.XXXXXX)
  trap 'rm -f "$staged"' EXIT
  cat < ${BUNDLE_UPLOAD_PATH} > "$staged"
  got=$(sha256sum < "$staged" | cut -d' ' -f1)
  if [[ $got != "$want" ]]; then
    echo "${BUNDLE_UPLOAD_PATH} has sha256 $got, expected $want" >&2
    exit 1
  fi
  install_file ${BUNDLE_INSTALL_PATH} 644 root:root < "$staged"
  restart=yes
fi
${heredoc(`install_file ${UNIT_PATH} 644 root:root`, renderServiceUnit(cfg))}
if [[ $FILE_CHANGED == yes ]]; then
  systemctl daemon-reload
  restart=yes
fi
if ! systemctl is-enabled --quiet ${SERVICE_NAME}; then
  systemctl enable --quiet ${SERVICE_NAME}
  changed "enabled ${SERVICE_NAME}"
fi
if [[ $restart == yes ]]; then
  systemctl restart ${SERVICE_NAME}
  changed "restarted ${SERVICE_NAME}"
elif ! systemctl is-active --quiet ${SERVICE_NAME}; then
  systemctl start ${SERVICE_NAME}
  changed "started ${SERVICE_NAME}"
fi
# Up means answering HTTP: 401 without a credential is the expected answer.
for attempt in $(seq 1 60); do
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 http://127.0.0.1:${cfg.servicePort}/health || true)
  if [[ $code == 401 ]]; then
    echo "${SERVICE_NAME} answers on 127.0.0.1:${cfg.servicePort}"
    exit 0
  fi
  sleep 0.5
done
echo "${SERVICE_NAME} does not answer on 127.0.0.1:${cfg.servicePort} after $attempt attempts (last HTTP code $code)" >&2
systemctl status --no-pager ${SERVICE_NAME} >&2 || true
exit 1`);
}

function dropDirStep(cfg: HostConfig): HostStep {
  const { group, dropUser } = cfg.sharedDir;
  return step("drop-dir", `${SHARED_DIR} (setgid 2770, group ${group}) and SSH login ${dropUser} for the clients' keys`, ["ensure_dir", "install_file"], `
if ! getent group ${group} >/dev/null; then
  groupadd ${group}
  changed "group ${group}"
fi
if ! getent passwd ${dropUser} >/dev/null; then
  # '*' (no password) rather than '!' (locked): key logins must work whatever sshd's UsePAM says.
  useradd --create-home --gid ${group} --shell /bin/bash --password '*' ${dropUser}
  changed "user ${dropUser}"
fi
if [[ " $(id -nG ${dropUser}) " != *" ${group} "* ]]; then
  usermod -a -G ${group} ${dropUser}
  changed "${dropUser} joined ${group}"
fi
${heredoc(`install_file ${TMPFILES_FILE} 644 root:root`, renderTmpfiles(cfg))}
ensure_dir ${SHARED_DIR} 2770 root:${group}
home=$(getent passwd ${dropUser} | cut -d: -f6)
ensure_dir "$home/.ssh" 700 ${dropUser}:${group}
${heredoc(`install_file "$home/.ssh/authorized_keys" 600 ${dropUser}:${group}`, renderAuthorizedKeys(cfg))}`);
}

function certificateStep(cfg: HostConfig): HostStep {
  const live = certDir(cfg.fqdn);
  const bootstrap = `/etc/nginx/sites-enabled/claude-bus-acme-${cfg.fqdn}`;
  const caLines = cfg.acmeCaBundle
    ? `${heredoc(`install_file ${ACME_CA_FILE} 644 root:root`, cfg.acmeCaBundle)}
export REQUESTS_CA_BUNDLE=${ACME_CA_FILE}
mkdir -p "$(dirname ${CERTBOT_CA_DROPIN})"
${heredoc(`install_file ${CERTBOT_CA_DROPIN} 644 root:root`, renderCertbotCaDropin())}
if [[ $FILE_CHANGED == yes ]]; then systemctl daemon-reload; fi`
    : `if [[ -e ${CERTBOT_CA_DROPIN} ]]; then
  rm -f ${CERTBOT_CA_DROPIN}
  systemctl daemon-reload
  changed "removed ${CERTBOT_CA_DROPIN}"
fi
if [[ -e ${ACME_CA_FILE} ]]; then
  rm -f ${ACME_CA_FILE}
  changed "removed ${ACME_CA_FILE}"
fi`;
  return step("certificate", `certificate for ${cfg.fqdn} from ${cfg.acmeServer} (certbot --webroot; renewed by certbot.timer)`, ["install_file"], `
server=${shq(cfg.acmeServer)}
${caLines}
mkdir -p "$(dirname ${CERTBOT_DEPLOY_HOOK})"
${heredoc(`install_file ${CERTBOT_DEPLOY_HOOK} 755 root:root`, renderCertbotDeployHook())}
renewal=/etc/letsencrypt/renewal/${cfg.fqdn}.conf
current=none
if [[ -f $renewal ]]; then current=$(sed -n 's/^server *= *//p' "$renewal"); fi
if [[ -f ${live}/fullchain.pem && $current == "$server" ]]; then
  echo "certificate for ${cfg.fqdn} from $server is in place"
  exit 0
fi
# Until the full site exists, a port-80-only server answers the HTTP-01 challenge from the webroot.
if [[ ! -e ${nginxEnabledPath(cfg.fqdn)} ]]; then
  trap 'rm -f ${bootstrap}; systemctl reload nginx || true' EXIT
  ${heredoc(`install_file ${bootstrap} 644 root:root`, renderAcmeBootstrapSite(cfg))}
  nginx -t -q
  systemctl reload-or-restart nginx
fi
renew=()
if [[ -f ${live}/fullchain.pem ]]; then renew=(--force-renewal); fi
certbot certonly --webroot -w ${ACME_WEBROOT} -d ${cfg.fqdn} --cert-name ${cfg.fqdn} \\
  --server "$server" --non-interactive --agree-tos --no-eff-email -m ${shq(cfg.acmeEmail)} "\${renew[@]}"
changed "certificate for ${cfg.fqdn} issued by $server"`);
}

function nginxStep(cfg: HostConfig): HostStep {
  const site = nginxSitePath(cfg.fqdn);
  const enabled = nginxEnabledPath(cfg.fqdn);
  return step("nginx", `nginx site ${site} (TLS, basic auth, rate limit) and logrotate; nginx -t before reload`, ["install_file"], `
reload=no
backup=$(mktemp)
trap 'rm -f "$backup"' EXIT
had_site=no
if [[ -f ${site} ]]; then
  cp -p ${site} "$backup"
  had_site=yes
fi
${heredoc(`install_file ${site} 644 root:root`, renderNginxSite(cfg))}
if [[ $FILE_CHANGED == yes ]]; then reload=yes; fi
if [[ $(readlink ${enabled} || true) != ${site} ]]; then
  ln -sfn ${site} ${enabled}
  changed "enabled ${enabled}"
  reload=yes
fi
${heredoc(`install_file ${LOGROTATE_FILE} 644 root:root`, renderLogrotate())}
if [[ $reload == yes ]]; then
  if ! nginx -t -q; then
    echo "nginx -t rejected the new site: restoring the previous one" >&2
    if [[ $had_site == yes ]]; then cp -p "$backup" ${site}; else rm -f ${site} ${enabled}; fi
    exit 1
  fi
  systemctl reload-or-restart nginx
  changed "reloaded nginx"
elif ! systemctl is-active --quiet nginx; then
  systemctl start nginx
  changed "started nginx"
fi`);
}

function healthStep(cfg: HostConfig): HostStep {
  return step("health", `GET ${busUrl(cfg)}/health through nginx over TLS with the bus credential`, ["read_password", "https_health"], `
read_password
https_health ${cfg.fqdn} ${certDir(cfg.fqdn)}/chain.pem ${shq(cfg.busUser)}`, "busPassword");
}

/** Every host step in order. The certificate step needs DNS to point at the host (infra orders it). */
export function hostSteps(cfg: HostConfig, bundle: { sha256: string }): HostStep[] {
  if (!/^[0-9a-f]{64}$/.test(bundle.sha256)) throw new Error(`bundle.sha256 must be 64 hex digits, got ${JSON.stringify(bundle.sha256)}`);
  return [
    cloudInitStep(),
    packagesStep(),
    accountsStep(),
    credentialsStep(cfg),
    serviceStep(cfg, bundle.sha256),
    dropDirStep(cfg),
    certificateStep(cfg),
    nginxStep(cfg),
    healthStep(cfg),
  ];
}

/**
 * Credential rotation: the new password on stdin replaces the service's env file and htpasswd
 * atomically, in an order that keeps every request answered (see write_credentials), reloads
 * claude-bus (SIGHUP) and nginx, then checks /health over HTTPS with the new password.
 */
export function rotationStep(cfg: HostConfig): HostStep {
  return step("rotate-credentials", "swap in the new bus password from stdin with no failed request", ["read_password", "write_credentials", "https_health"], `
read_password
write_credentials ${HTPASSWD_FILE} ${CREDENTIALS_FILE} ${shq(cfg.busUser)} ${busUrl(cfg)} ${SERVICE_NAME} ${SERVICE_USER} ${cfg.servicePort}
if [[ $CREDENTIALS_CHANGED == yes ]]; then
  systemctl reload nginx
  changed "reloaded nginx"
fi
https_health ${cfg.fqdn} ${certDir(cfg.fqdn)}/chain.pem ${shq(cfg.busUser)}`, "busPassword");
}
