# shellcheck shell=bash
# Step "volume": the data volume, mounted by its filesystem UUID at VOLUME_MOUNT, and each dir that lives
# on it (the bus's data dir, the drop dir) bind-mounted from a subdirectory there. The fstab entries carry
# `nofail`, so a host whose volume is missing still boots; the bus's unit then does not start, as it
# RequiresMountsFor= its data dir. DigitalOcean formats a new volume (ext4) itself; a device is formatted
# here only when it cannot hold data: its first VOLUME_BLANK_MIB MiB read back as zeros and wipefs finds no
# signature on it. A device that holds anything else, or that cannot be read, is never touched: the step
# stops and says so. Files already in a data dir (a host from before the volume) are moved onto
# the volume, with the bus stopped while they move.
# What makes the host itself lives on the volume too, so a replaced droplet is the same host to its clients
# (no new certificate ordered, the host key they pinned unchanged): the Let's Encrypt dir is bind-mounted
# from it (the first host's files copied there; a later host's own stay hidden under the mount, and nginx
# and certbot wait for the mount), and the SSH host keys are saved there by the first host and taken from
# there by a later one. The step's last line, `host key: TYPE BASE64`, is the ed25519 host key in place
# after it: a provisioner pins its next connections to it.
# Reads from the header: VOLUME_DEVICE, VOLUME_MOUNT, VOLUME_LABEL, VOLUME_BLANK_MIB, VOLUME_SUBDIRS,
# VOLUME_TARGETS and VOLUME_KINDS (for each dir: its subdirectory on the volume, the dir it is mounted at,
# and "data" or "identity"), FSTAB, LETSENCRYPT_MOUNT_DROPINS and LETSENCRYPT_MOUNT_DROPIN (their text),
# SSH_DIR, HOST_KEYS_SUBDIR, and lib.sh's SERVICE.
# shellcheck source-path=SCRIPTDIR
source "${BASH_SOURCE[0]%/*}/lib.sh"

readonly begin_mark="# claude-bus volume: begin (managed by claude-bus provision)"
readonly end_mark="# claude-bus volume: end"

# wait_for_device: a volume attached a moment ago appears within seconds.
wait_for_device() {
  local attempt
  for attempt in $(seq 1 60); do
    if [[ -b $VOLUME_DEVICE ]]; then return 0; fi
    sleep 1
  done
  echo "no block device at $VOLUME_DEVICE after $attempt s: is the volume attached to this host?" >&2
  exit 1
}

# unreadable WHY: stops the step, the device untouched.
unreadable() {
  echo "cannot read $VOLUME_DEVICE ($1): nothing was formatted or changed. Check that the volume is attached and healthy (dmesg shows I/O errors), then run again" >&2
  exit 1
}

# ensure_filesystem: the device holds an ext4 file system, made now if the device is blank.
ensure_filesystem() {
  local type status=0 zeros=0 signatures
  # Read it first: blkid exits 2 both when it finds no signature and when it cannot read the device.
  cmp -s -n $((VOLUME_BLANK_MIB << 20)) "$VOLUME_DEVICE" /dev/zero || zeros=$?
  if ((zeros > 1)); then unreadable "cmp exit $zeros"; fi
  type=$(blkid -p -s TYPE -o value "$VOLUME_DEVICE") || status=$?
  if ((status == 0)) && [[ $type == ext4 ]]; then
    return 0
  elif ((status == 0)); then
    echo "$VOLUME_DEVICE holds a ${type:-partitioned or unknown} file system, not ext4: it is left untouched" >&2
    exit 1
  elif ((status != 2)); then
    unreadable "blkid exit $status"
  fi
  signatures=$(wipefs -n "$VOLUME_DEVICE") || unreadable "wipefs exit $?"
  if [[ -n $signatures ]]; then
    printf '%s holds signatures blkid does not take for a file system: it is left untouched\n%s\n' "$VOLUME_DEVICE" "$signatures" >&2
    exit 1
  fi
  if ((zeros != 0)); then
    echo "$VOLUME_DEVICE has no file system, but its first $VOLUME_BLANK_MIB MiB are not blank: it may hold data, so it is left untouched (a volume DigitalOcean made is ext4 already; wipe it by hand only if it is really yours to lose)" >&2
    exit 1
  fi
  mkfs.ext4 -q -L "$VOLUME_LABEL" "$VOLUME_DEVICE"
  changed "formatted $VOLUME_DEVICE as ext4 (it was blank)"
}

# fstab_with_volume UUID: /etc/fstab with our block (and nothing else of ours) at its end.
fstab_with_volume() {
  local i
  awk -v begin="$begin_mark" -v end="$end_mark" '$0 == begin {skip = 1} !skip {print} $0 == end {skip = 0}' "$FSTAB"
  printf '%s\n' "$begin_mark"
  printf 'UUID=%s %s ext4 defaults,nofail,noatime,discard 0 2\n' "$1" "$VOLUME_MOUNT"
  for i in "${!VOLUME_SUBDIRS[@]}"; do
    printf '%s/%s %s none bind,nofail 0 0\n' "$VOLUME_MOUNT" "${VOLUME_SUBDIRS[$i]}" "${VOLUME_TARGETS[$i]}"
  done
  printf '%s\n' "$end_mark"
}

# move_onto_volume DIR SOURCE: DIR's files (from before the volume) into SOURCE on the volume, with the bus
# stopped, so no message is written to the root disk while it moves.
move_onto_volume() {
  local dir=$1 source=$2
  if [[ -z $(ls -A "$dir") ]]; then return 0; fi
  if [[ -n $(ls -A "$source") ]]; then
    echo "both $dir and the volume's $source hold files: move one aside by hand, then run again" >&2
    exit 1
  fi
  if systemctl is-active --quiet "$SERVICE"; then
    systemctl stop "$SERVICE"
    changed "stopped $SERVICE to move its data onto the volume"
    notify "restart claude-bus"
  fi
  cp -a "$dir/." "$source/"
  sync
  find "$dir" -mindepth 1 -delete
  changed "moved the files of $dir onto the volume"
}

# keep_identity DIR SOURCE: the volume's copy of DIR is the host's own. The first host with the volume
# copies its files there; a later one (a replaced droplet) takes the volume's.
keep_identity() {
  local dir=$1 source=$2
  if [[ -n $(ls -A "$source") || -z $(ls -A "$dir") ]]; then return 0; fi
  cp -a "$dir/." "$source/"
  sync
  changed "copied $dir onto the volume"
}

# keep_host_keys: the SSH host keys are the volume's. The first host with the volume saves its own there;
# a later one installs them (ssh reloads; the connection running this step stays as it is).
keep_host_keys() {
  local keys=$VOLUME_MOUNT/$HOST_KEYS_SUBDIR key name
  ensure_dir "$keys" 700 root:root
  if [[ -z $(ls -A "$keys") ]]; then
    cp -a "$SSH_DIR"/ssh_host_*_key "$SSH_DIR"/ssh_host_*_key.pub "$keys/"
    sync
    changed "saved this host's SSH host keys on the volume"
    return 0
  fi
  for key in "$keys"/ssh_host_*_key; do
    name=${key##*/}
    install_file "$SSH_DIR/$name" 600 root:root "reload ssh" < "$key"
    install_file "$SSH_DIR/$name.pub" 644 root:root "reload ssh" < "$key.pub"
  done
}

wait_for_device
ensure_filesystem
uuid=$(blkid -p -s UUID -o value "$VOLUME_DEVICE")
install_file "$FSTAB" 644 root:root daemon-reload < <(fstab_with_volume "$uuid")
flush_handlers

mkdir -p "$VOLUME_MOUNT"
if ! mountpoint -q "$VOLUME_MOUNT"; then
  mount "$VOLUME_MOUNT"
  changed "mounted $VOLUME_DEVICE (UUID $uuid) at $VOLUME_MOUNT"
fi
for i in "${!VOLUME_SUBDIRS[@]}"; do
  source=$VOLUME_MOUNT/${VOLUME_SUBDIRS[$i]}
  target=${VOLUME_TARGETS[$i]}
  if mountpoint -q "$target"; then continue; fi
  mkdir -p "$source" "$target"
  if [[ ${VOLUME_KINDS[$i]} == identity ]]; then keep_identity "$target" "$source"; else move_onto_volume "$target" "$source"; fi
  # The mounted dir keeps the owner and mode the dir had (the accounts and drop-dir steps set them).
  chown --reference="$target" "$source"
  chmod --reference="$target" "$source"
  mount "$target"
  changed "mounted $source at $target"
done
for dropin in "${LETSENCRYPT_MOUNT_DROPINS[@]}"; do
  mkdir -p "${dropin%/*}"
  install_file "$dropin" 644 root:root daemon-reload < <(printf '%s' "$LETSENCRYPT_MOUNT_DROPIN")
done
keep_host_keys
flush_handlers
printf 'host key: %s\n' "$(cut -d ' ' -f 1,2 "$SSH_DIR/ssh_host_ed25519_key.pub")"
