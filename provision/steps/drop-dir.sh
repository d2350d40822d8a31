# shellcheck shell=bash
# Step "drop-dir": the shared drop directory (setgid, group-writable) and the SSH login the clients'
# keys are authorized for, restricted to file transfer.
# Reads from the header: DROP_GROUP, DROP_USER, SHARED_DIR, TMPFILES_RULE_PATH, TMPFILES_RULE (its text),
# AUTHORIZED_KEYS (the drop user's authorized_keys text).
# shellcheck source-path=SCRIPTDIR
source "${BASH_SOURCE[0]%/*}/lib.sh"

if ! getent group "$DROP_GROUP" >/dev/null; then
  groupadd "$DROP_GROUP"
  changed "group $DROP_GROUP"
fi
if ! getent passwd "$DROP_USER" >/dev/null; then
  # '*' (no password) rather than '!' (locked): key logins must work whatever sshd's UsePAM says.
  useradd --create-home --gid "$DROP_GROUP" --shell /bin/bash --password '*' "$DROP_USER"
  changed "user $DROP_USER"
fi
if [[ " $(id -nG "$DROP_USER") " != *" $DROP_GROUP "* ]]; then
  usermod -a -G "$DROP_GROUP" "$DROP_USER"
  changed "$DROP_USER joined $DROP_GROUP"
fi

# systemd-tmpfiles creates the directory at boot and, with an age set, cleans it out.
install_file "$TMPFILES_RULE_PATH" 644 root:root < <(printf '%s' "$TMPFILES_RULE")
ensure_dir "$SHARED_DIR" 2770 "root:$DROP_GROUP"

home=$(getent passwd "$DROP_USER" | cut -d: -f6)
ensure_dir "$home/.ssh" 700 "$DROP_USER:$DROP_GROUP"
install_file "$home/.ssh/authorized_keys" 600 "$DROP_USER:$DROP_GROUP" < <(printf '%s' "$AUTHORIZED_KEYS")
