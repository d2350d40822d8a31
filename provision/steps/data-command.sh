# shellcheck shell=bash
# "data-command" (`claude-bus restore --ssh` and `claude-bus import --ssh`, never Pulumi): the file on
# stdin goes to a private temp file the service user can read, then the bus is stopped, the service's
# own bundle runs COMMAND on it against the data dir as that user, and the bus is started again, even
# when the command failed, and must answer on loopback.
# Reads from the header: SERVICE, COMMAND, COMMAND_ARGS, BUNDLE_INSTALL_PATH, DATA_DIR, SERVICE_USER, SERVICE_PORT.
# shellcheck source-path=SCRIPTDIR
source "${BASH_SOURCE[0]%/*}/lib.sh"

input=
temp_file input /var/tmp
cat > "$input"
chown "$SERVICE_USER:$SERVICE_USER" "$input"
chmod 600 "$input"

start_again() {
  systemctl start "$SERVICE"
  for _ in $(seq 1 60); do
    if [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$SERVICE_PORT/health" || true) == 401 ]]; then
      echo "$SERVICE answers again"
      return 0
    fi
    sleep 0.5
  done
  echo "$SERVICE does not answer after $COMMAND" >&2
  return 1
}
on_exit start_again

systemctl stop "$SERVICE"
runuser -u "$SERVICE_USER" -- /usr/bin/node "$BUNDLE_INSTALL_PATH" "$COMMAND" "$input" --data "$DATA_DIR" "${COMMAND_ARGS[@]}"
changed "$COMMAND into $DATA_DIR"
