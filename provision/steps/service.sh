# shellcheck shell=bash
# Step "service": installs the uploaded bundle (after checking its sha256) and the systemd unit, restarts
# the service only when either changed, and waits until it answers on loopback.
# Reads from the header: BUNDLE_SHA256, BUNDLE_UPLOAD_PATH, BUNDLE_PATH, APP_DIR, UNIT_PATH, UNIT (the
# unit file's text), SERVICE_PORT, and lib.sh's SERVICE.
# shellcheck source-path=SCRIPTDIR
source "${BASH_SOURCE[0]%/*}/lib.sh"

# install_bundle: BUNDLE_UPLOAD_PATH becomes BUNDLE_PATH if its sha256 is BUNDLE_SHA256. The upload lies
# in world-writable /var/tmp: a private copy is checked and installed, so the file hashed is the file installed.
install_bundle() {
  local staged got
  if [[ ! -f $BUNDLE_UPLOAD_PATH ]]; then
    echo "the bundle is not at $BUNDLE_UPLOAD_PATH: upload it before this step" >&2
    exit 1
  fi
  temp_file staged "$APP_DIR"
  cat < "$BUNDLE_UPLOAD_PATH" > "$staged"
  got=$(sha256sum < "$staged" | cut -d' ' -f1)
  if [[ $got != "$BUNDLE_SHA256" ]]; then
    echo "$BUNDLE_UPLOAD_PATH has sha256 $got, expected $BUNDLE_SHA256" >&2
    exit 1
  fi
  install_file "$BUNDLE_PATH" 644 root:root "restart claude-bus" < "$staged"
}

installed=none
if [[ -f $BUNDLE_PATH ]]; then installed=$(sha256sum < "$BUNDLE_PATH" | cut -d' ' -f1); fi
if [[ $installed != "$BUNDLE_SHA256" ]]; then install_bundle; fi
install_file "$UNIT_PATH" 644 root:root daemon-reload "restart claude-bus" < <(printf '%s' "$UNIT")
flush_handlers

enable_and_start "$SERVICE"

# Up means answering HTTP: 401 without a credential is the expected answer.
for attempt in $(seq 1 60); do
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$SERVICE_PORT/health" || true)
  if [[ $code == 401 ]]; then
    echo "$SERVICE answers on 127.0.0.1:$SERVICE_PORT"
    exit 0
  fi
  sleep 0.5
done
echo "$SERVICE does not answer on 127.0.0.1:$SERVICE_PORT after $attempt attempts (last HTTP code $code)" >&2
systemctl status --no-pager "$SERVICE" >&2 || true
exit 1
