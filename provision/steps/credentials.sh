# shellcheck shell=bash
# Step "credentials": the bus credential from stdin becomes nginx's htpasswd file and the service's
# credentials file, with no failed request while a password changes:
#   1. the service accepts the old and the new password (BUS_PASS_PREVIOUS, re-read on SIGHUP), and
#      the step waits until it does;
#   2. htpasswd gets the new one (nginx reads auth_basic_user_file per request: no reload);
#   3. the credentials file becomes the text from stdin, verbatim, and the service drops the old one
#      (handler "reload claude-bus").
# Reads from the header: BUS_USER, BUS_URL, PASSWORD_REGEX, PASSWORD_RULE (for read_credentials),
# CREDENTIALS_FILE, HTPASSWD_FILE, SERVICE_USER, SERVICE_PORT, and lib.sh's SERVICE.
# shellcheck source-path=SCRIPTDIR
source "${BASH_SOURCE[0]%/*}/lib.sh"

# htpasswd_holds_password: the file is root:www-data 0640 and holds exactly BUS_USER with BUS_PASS.
htpasswd_holds_password() {
  [[ -f $HTPASSWD_FILE && $(stat -c '%a %U:%G' "$HTPASSWD_FILE") == "640 root:www-data" && $(grep -c . "$HTPASSWD_FILE") == 1 ]] &&
    printf '%s\n' "$BUS_PASS" | htpasswd -i -v "$HTPASSWD_FILE" "$BUS_USER" >/dev/null 2>&1
}

# wait_for_service_password: until the service on loopback accepts BUS_PASS. curl gets the credential
# as a config on stdin, never as an argument.
wait_for_service_password() {
  local attempt code
  for attempt in $(seq 1 50); do
    code=$(printf 'user = "%s:%s"\n' "$BUS_USER" "$BUS_PASS" |
      curl -s -o /dev/null -w '%{http_code}' --max-time 5 -K - "http://127.0.0.1:$SERVICE_PORT/health" || true)
    if [[ $code == 200 ]]; then return 0; fi
    sleep 0.2
  done
  echo "the service did not accept the new password after reload (last answer $code, $attempt attempts)" >&2
  return 1
}

read_credentials

# sed, not read with IFS='=': read drops a trailing '=' from the value, and passwords may end in one.
old_pass=''
if [[ -f $CREDENTIALS_FILE ]]; then old_pass=$(sed -n 's/^BUS_PASS=//p' "$CREDENTIALS_FILE"); fi
if [[ -n $old_pass && $old_pass != "$BUS_PASS" ]] && systemctl is-active --quiet "$SERVICE"; then
  install_file "$CREDENTIALS_FILE" 600 "$SERVICE_USER:$SERVICE_USER" < <(printf '%sBUS_PASS_PREVIOUS=%s\n' "$CREDENTIALS" "$old_pass")
  systemctl reload "$SERVICE"
  wait_for_service_password
  changed "$SERVICE accepts the old and the new password"
fi

if ! htpasswd_holds_password; then
  # apr1 (salted MD5-crypt): nginx checks it on every request, and 28 random characters need no slow hash.
  hash_line=$(printf '%s\n' "$BUS_PASS" | htpasswd -i -n -m "$BUS_USER")
  install_file "$HTPASSWD_FILE" 640 root:www-data < <(printf '%s\n' "$hash_line")
fi

install_file "$CREDENTIALS_FILE" 600 "$SERVICE_USER:$SERVICE_USER" "reload claude-bus" < <(printf '%s' "$CREDENTIALS")
