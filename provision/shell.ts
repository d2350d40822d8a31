/**
 * Bash building blocks shared by the step scripts. Each step embeds only the helpers it uses, so a
 * script is complete on its own and its hash changes exactly when what it does changes.
 */
import { BUS_PASSWORD_CHARS } from "./config";

export type Helper = keyof typeof HELPERS;

const HELPERS = {
  changed: `# Every change a step makes is reported on a line of its own: the runner counts these.
changed() { printf 'changed: %s\\n' "$*"; }`,

  install_file: `# install_file DEST MODE OWNER:GROUP < content: writes atomically, and only when content or metadata differ.
FILE_CHANGED=no
# shellcheck disable=SC2034 # FILE_CHANGED is read by the callers that react to a change
install_file() {
  local dest=$1 mode=$2 owner=$3 tmp
  tmp=$(mktemp "$(dirname "$dest")/.claude-bus.XXXXXX")
  cat > "$tmp"
  if [[ -f $dest && ! -L $dest ]] && cmp -s "$tmp" "$dest" && [[ $(stat -c '%a %U:%G' "$dest") == "$mode $owner" ]]; then
    rm -f "$tmp"
    FILE_CHANGED=no
    return 0
  fi
  chmod "$mode" "$tmp"
  chown "$owner" "$tmp"
  mv -f "$tmp" "$dest"
  FILE_CHANGED=yes
  changed "$dest"
}`,

  ensure_dir: `# ensure_dir DIR MODE OWNER:GROUP
ensure_dir() {
  local dir=$1 mode=$2 owner=$3
  if [[ ! -d $dir ]]; then
    mkdir -p "$dir"
    chown "$owner" "$dir"
    chmod "$mode" "$dir"
    changed "created $dir ($mode $owner)"
  elif [[ $(stat -c '%a %U:%G' "$dir") != "$mode $owner" ]]; then
    chown "$owner" "$dir"
    chmod "$mode" "$dir"
    changed "$dir is now $mode $owner"
  fi
}`,

  read_password: `# The password arrives on stdin only: never in arguments, the environment or logs.
BUS_PASS=
read_password() {
  IFS= read -r BUS_PASS || [[ -n $BUS_PASS ]] || { echo "expected the bus password on stdin" >&2; exit 1; }
  local allowed='^[${BUS_PASSWORD_CHARS}]{12,128}$'
  [[ $BUS_PASS =~ $allowed ]] || { echo "the bus password must be 12-128 characters from ${BUS_PASSWORD_CHARS}" >&2; exit 1; }
}`,

  write_credentials: `# write_credentials HTPASSWD ENVFILE USER URL UNIT OWNER PORT uses $BUS_PASS. A change of password never
# leaves a moment where neither works: the service first accepts old and new (BUS_PASS_PREVIOUS),
# then nginx's htpasswd is swapped (auth_basic reads it per request), then the old one is dropped.
CREDENTIALS_CHANGED=no
# shellcheck disable=SC2034 # CREDENTIALS_CHANGED is read by the callers that react to a change
write_credentials() {
  local htpasswd_file=$1 env_file=$2 user=$3 url=$4 service=$5 owner=$6 port=$7 old_pass='' final
  CREDENTIALS_CHANGED=no
  final=$(printf 'BUS_USER=%s\\nBUS_PASS=%s\\nBUS_URL=%s' "$user" "$BUS_PASS" "$url")
  # sed, not read with IFS='=': read drops a trailing '=' from the value, and passwords may end in one.
  if [[ -f $env_file ]]; then old_pass=$(sed -n 's/^BUS_PASS=//p' "$env_file"); fi
  if [[ -n $old_pass && $old_pass != "$BUS_PASS" ]] && systemctl is-active --quiet "$service"; then
    put_env "$env_file" "$owner" "$(printf '%s\\nBUS_PASS_PREVIOUS=%s' "$final" "$old_pass")"
    systemctl reload "$service"
    wait_for_service_password "$port" "$user"
    changed "$service accepts the old and the new password"
  fi
  if ! htpasswd_is "$htpasswd_file" "$user"; then
    local tmp
    tmp=$(mktemp "$(dirname "$htpasswd_file")/.claude-bus.XXXXXX")
    # apr1 (salted MD5-crypt): nginx checks it on every request, and 28 random characters need no slow hash.
    printf '%s\\n' "$BUS_PASS" | htpasswd -i -c -m "$tmp" "$user" 2>/dev/null
    chown root:www-data "$tmp"
    chmod 640 "$tmp"
    mv -f "$tmp" "$htpasswd_file"
    CREDENTIALS_CHANGED=yes
    changed "$htpasswd_file"
  fi
  put_env "$env_file" "$owner" "$final"
  if [[ $ENV_CHANGED == yes ]]; then
    CREDENTIALS_CHANGED=yes
    changed "$env_file"
    if systemctl is-active --quiet "$service"; then
      systemctl reload "$service"
      changed "reloaded $service: it re-read its credentials"
    fi
  fi
}

# put_env FILE OWNER TEXT: atomic 0600 write; ENV_CHANGED=no when the file already held exactly TEXT.
ENV_CHANGED=no
put_env() {
  local file=$1 owner=$2 text=$3 tmp
  tmp=$(mktemp "$(dirname "$file")/.claude-bus.XXXXXX")
  printf '%s\\n' "$text" > "$tmp"
  if [[ -f $file ]] && cmp -s "$tmp" "$file" && [[ $(stat -c '%a %U' "$file") == "600 $owner" ]]; then
    rm -f "$tmp"
    ENV_CHANGED=no
    return 0
  fi
  chown "$owner:$owner" "$tmp"
  chmod 600 "$tmp"
  mv -f "$tmp" "$file"
  ENV_CHANGED=yes
}

# htpasswd_is FILE USER: the file is root:www-data 0640 and holds exactly USER with $BUS_PASS.
htpasswd_is() {
  [[ -f $1 && $(stat -c '%a %U:%G' "$1") == "640 root:www-data" && $(grep -c . "$1") == 1 ]] &&
    printf '%s\\n' "$BUS_PASS" | htpasswd -i -v "$1" "$2" >/dev/null 2>&1
}

# wait_for_service_password PORT USER: until the service on loopback accepts $BUS_PASS (it re-reads on SIGHUP).
wait_for_service_password() {
  local port=$1 user=$2 attempt code
  for attempt in $(seq 1 50); do
    code=$(printf 'user = "%s:%s"\\n' "$user" "$BUS_PASS" |
      curl -s -o /dev/null -w '%{http_code}' --max-time 5 -K - "http://127.0.0.1:$port/health" || true)
    if [[ $code == 200 ]]; then return 0; fi
    sleep 0.2
  done
  echo "the service did not accept the new password after reload (last answer $code, $attempt attempts)" >&2
  return 1
}`,

  https_health: `# https_health FQDN CA_FILE USER USES $BUS_PASS: GET /health through nginx over TLS on this host.
# The credential goes to curl as a config on stdin, never as an argument. chain.pem as the trust anchor
# (curl accepts a partial chain) proves nginx serves the certificate certbot issued, for any ACME CA.
https_health() {
  local fqdn=$1 ca=$2 user=$3 body attempt
  for attempt in $(seq 1 30); do
    if body=$(printf 'user = "%s:%s"\\n' "$user" "$BUS_PASS" |
      curl -sS --fail --max-time 10 --resolve "$fqdn:443:127.0.0.1" --cacert "$ca" -K - "https://$fqdn/health" 2>&1) &&
      [[ $body =~ \\"ok\\":\\ ?true ]]; then
      echo "https://$fqdn/health answered: $body"
      return 0
    fi
    echo "health check attempt $attempt: $body" >&2
    sleep 1
  done
  echo "https://$fqdn/health did not answer ok" >&2
  return 1
}`,
} as const;

/** A complete step script: strict mode, the helpers it names, then its body. */
export function bashScript(title: string, helpers: Helper[], body: string): string {
  const used: Helper[] = ["changed", ...helpers.filter((h) => h !== "changed")];
  return [
    "#!/bin/bash",
    `# claude-bus provision step: ${title}`,
    "set -euo pipefail",
    "umask 022",
    "export LC_ALL=C",
    "",
    ...used.map((h) => HELPERS[h] + "\n"),
    body.trim(),
    "",
  ].join("\n");
}

/** A quoted heredoc feeding a command: the content is visible in the script and never expanded. */
export function heredoc(command: string, content: string): string {
  const delimiter = "CLAUDE_BUS_EOF";
  const text = content.endsWith("\n") ? content : `${content}\n`;
  if (text.split("\n").includes(delimiter)) throw new Error(`content contains the heredoc delimiter ${delimiter}`);
  return `${command} <<'${delimiter}'\n${text}${delimiter}`;
}

/** Single-quotes a value for bash. */
export const shq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
