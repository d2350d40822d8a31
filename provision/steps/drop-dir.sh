# shellcheck shell=bash
# Step "drop-dir": the shared drop directory (setgid, group-writable) and the SSH login the clients'
# keys are authorized for, restricted to file transfer: each key may run only internal-sftp (scp and sftp
# use it), with no forwarding, and the user's shell runs nothing. Files dropped before a new host came
# (on the data volume) are given back to DROP_GROUP, and to DROP_USER where their owner has no name here.
# Reads from the header: DROP_GROUP, DROP_GID, DROP_USER, DROP_UID, NOLOGIN_SHELL, SHARED_DIR, TMPFILES_RULE_PATH, TMPFILES_RULE (its text),
# AUTHORIZED_KEYS (the drop user's authorized_keys text).
# shellcheck source-path=SCRIPTDIR
source "${BASH_SOURCE[0]%/*}/lib.sh"

ensure_group "$DROP_GROUP" "$DROP_GID"
# '*' (no password) rather than '!' (locked): key logins must work whatever sshd's UsePAM says.
ensure_user "$DROP_USER" "$DROP_UID" --create-home --gid "$DROP_GROUP" --shell "$NOLOGIN_SHELL" --password '*'
if [[ $(getent passwd "$DROP_USER" | cut -d: -f7) != "$NOLOGIN_SHELL" ]]; then
  usermod --shell "$NOLOGIN_SHELL" "$DROP_USER"
  changed "$DROP_USER's shell is $NOLOGIN_SHELL"
fi
if [[ " $(id -nG "$DROP_USER") " != *" $DROP_GROUP "* ]]; then
  usermod -a -G "$DROP_GROUP" "$DROP_USER"
  changed "$DROP_USER joined $DROP_GROUP"
fi

# systemd-tmpfiles creates the directory at boot and, with an age set, cleans it out.
install_file "$TMPFILES_RULE_PATH" 644 root:root < <(printf '%s' "$TMPFILES_RULE")
ensure_dir "$SHARED_DIR" 2770 "root:$DROP_GROUP"
if [[ -n $(find "$SHARED_DIR" -xdev \( -nouser -o ! -group "$DROP_GROUP" \) -print -quit) ]]; then
  find "$SHARED_DIR" -xdev -nouser -exec chown -h "$DROP_USER" {} +
  find "$SHARED_DIR" -xdev ! -group "$DROP_GROUP" -exec chgrp -h "$DROP_GROUP" {} +
  changed "the files in $SHARED_DIR are group $DROP_GROUP's again, and $DROP_USER's where no user here owned them"
fi

home=$(getent passwd "$DROP_USER" | cut -d: -f6)
ensure_dir "$home/.ssh" 700 "$DROP_USER:$DROP_GROUP"
install_file "$home/.ssh/authorized_keys" 600 "$DROP_USER:$DROP_GROUP" < <(printf '%s' "$AUTHORIZED_KEYS")
