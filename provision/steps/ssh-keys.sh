# shellcheck shell=bash
# Step "ssh-keys": root's authorized keys are exactly the deploy keys of the host config, so a deploy key
# is rotated by a config change (authorize the new key, then switch to it) instead of a new droplet.
# With no deploy keys configured, root's authorized_keys stays as the image made it.
# Reads from the header: ROOT_KEYS_PATH, ROOT_KEYS (the file's text, empty for none).
# shellcheck source-path=SCRIPTDIR
source "${BASH_SOURCE[0]%/*}/lib.sh"

if [[ -z $ROOT_KEYS ]]; then
  echo "no deploy keys configured: $ROOT_KEYS_PATH is left as it is"
  exit 0
fi
ensure_dir "${ROOT_KEYS_PATH%/*}" 700 root:root
install_file "$ROOT_KEYS_PATH" 600 root:root < <(printf '%s' "$ROOT_KEYS")
