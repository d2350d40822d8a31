# shellcheck shell=bash
# Step "backups": only when the host config sets backups. The bucket's env text from stdin becomes
# BACKUP_TARGET_FILE (0600, the service user's: the backup runs as it; never echoed), then the daily backup's service and timer units; the
# timer is enabled and started, and restarted when its schedule changed. It backs nothing up itself:
# `systemctl start claude-bus-backup` runs one now.
# Reads from the header: TARGET_KEYS (the keys stdin must set), BACKUP_TARGET_FILE, SERVICE_USER,
# BACKUP_UNIT_PATH, BACKUP_UNIT, BACKUP_TIMER_PATH, BACKUP_TIMER, BACKUP_TIMER_NAME.
# shellcheck source-path=SCRIPTDIR
source "${BASH_SOURCE[0]%/*}/lib.sh"

# The text is never printed: [[ ]] and printf are builtins.
IFS= read -r -d '' target || true
if [[ -z $target ]]; then
  echo "expected the backup bucket's env text (the BACKUP_S3_* lines) on stdin" >&2
  exit 1
fi
for key in "${TARGET_KEYS[@]}"; do
  if [[ $'\n'$target != *$'\n'"$key="* ]]; then
    echo "the backup bucket's env text on stdin has no $key line" >&2
    exit 1
  fi
done
install_file "$BACKUP_TARGET_FILE" 600 "$SERVICE_USER:$SERVICE_USER" < <(printf '%s' "$target")

timer_before=none
if [[ -f $BACKUP_TIMER_PATH ]]; then timer_before=$(sha256sum < "$BACKUP_TIMER_PATH"); fi
install_file "$BACKUP_UNIT_PATH" 644 root:root daemon-reload < <(printf '%s' "$BACKUP_UNIT")
install_file "$BACKUP_TIMER_PATH" 644 root:root daemon-reload < <(printf '%s' "$BACKUP_TIMER")
flush_handlers

new_schedule=
if [[ $timer_before != "$(sha256sum < "$BACKUP_TIMER_PATH")" ]]; then new_schedule="its new schedule applies"; fi
enable_and_start "$BACKUP_TIMER_NAME" "$new_schedule"
echo "next backup: $(systemctl show -P NextElapseUSecRealtime "$BACKUP_TIMER_NAME")"
