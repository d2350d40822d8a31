# shellcheck shell=bash
# Step "accounts": the system user the service runs as, and the service's directories.
# Reads from the header: SERVICE_USER, INSTALL_DIR, APP_DIR, DATA_DIR, CONFIG_DIR, ACME_WEBROOT.
# shellcheck source-path=SCRIPTDIR
source "${BASH_SOURCE[0]%/*}/lib.sh"

if ! getent group "$SERVICE_USER" >/dev/null; then
  groupadd --system "$SERVICE_USER"
  changed "group $SERVICE_USER"
fi
if ! getent passwd "$SERVICE_USER" >/dev/null; then
  useradd --system --gid "$SERVICE_USER" --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin "$SERVICE_USER"
  changed "user $SERVICE_USER"
fi
ensure_dir "$INSTALL_DIR" 755 root:root
ensure_dir "$APP_DIR" 755 root:root
ensure_dir "$DATA_DIR" 750 "$SERVICE_USER:$SERVICE_USER"
# The service reads its credentials file here; nobody else but root may.
ensure_dir "$CONFIG_DIR" 750 "root:$SERVICE_USER"
ensure_dir "$ACME_WEBROOT" 755 root:root
