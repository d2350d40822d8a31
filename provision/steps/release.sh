# shellcheck shell=bash
# Step "release": lets go of the data volume in order before it is detached from this host (Pulumi runs
# it as the delete of a command that depends on the volume's attachment, so before the attachment goes):
# the bus and certbot's timer stopped, the drop user's sessions ended, every file system on the volume
# written out and unmounted, bind mounts first. A host whose volume is already gone changes nothing.
# When a mount cannot be released the step fails before anything is detached, names what holds it, and
# starts the bus again (its unit mounts what it needs).
# Reads from the header: VOLUME_DEVICE, DROP_USER, and lib.sh's SERVICE.
# shellcheck source-path=SCRIPTDIR
source "${BASH_SOURCE[0]%/*}/lib.sh"

# volume_mounts DEVICE: the mount points of DEVICE and of its bind mounts, deepest first.
volume_mounts() {
  findmnt -rn -o TARGET,SOURCE | awk -v dev="$1" '$2 == dev || index($2, dev "[") == 1 {print length($1), $1}' |
    sort -rn | cut -d' ' -f2-
}

# holders DIR: the processes with a file or their working directory under DIR.
holders() {
  local pid link path
  for pid in /proc/[0-9]*; do
    for link in "$pid"/cwd "$pid"/fd/*; do
      path=$(readlink "$link" 2>/dev/null) || continue
      if [[ $path == "$1" || $path == "$1"/* ]]; then
        printf '  pid %s (%s)\n' "${pid#/proc/}" "$(cat "$pid/comm" 2>/dev/null)"
        break
      fi
    done
  done
}

restart_bus() { systemctl start "$SERVICE" || true; }

if [[ ! -b $VOLUME_DEVICE ]]; then
  echo "no block device at $VOLUME_DEVICE: nothing to release"
  exit 0
fi
device=$(readlink -f "$VOLUME_DEVICE")
mapfile -t mounts < <(volume_mounts "$device")
if ((${#mounts[@]} == 0)); then
  echo "$VOLUME_DEVICE is not mounted: nothing to release"
  exit 0
fi

on_failure restart_bus
for unit in "$SERVICE" certbot.timer certbot.service; do
  if systemctl is-active --quiet "$unit"; then
    systemctl stop "$unit"
    changed "stopped $unit"
  fi
done
if id -u "$DROP_USER" >/dev/null 2>&1 && pkill -KILL -u "$DROP_USER"; then changed "ended the sessions of $DROP_USER"; fi
sync
for target in "${mounts[@]}"; do
  if ! umount "$target"; then
    echo "$target is still in use, so the volume stays attached:" >&2
    holders "$target" >&2
    exit 1
  fi
  changed "unmounted $target"
done
