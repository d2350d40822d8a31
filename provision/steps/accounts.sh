# shellcheck shell=bash
# Step "accounts": the system user the service runs as (uid and gid SERVICE_UID), and the service's
# directories. The data dir's files (on the data volume, when there is one) belong to the service user by
# number: on a new host whose user has another number they are given to it, or the service could read none.
# Reads from the header: SERVICE_USER, SERVICE_UID, NOLOGIN_SHELL, INSTALL_DIR, APP_DIR, DATA_DIR, CONFIG_DIR,
# ACME_WEBROOT.
# shellcheck source-path=SCRIPTDIR
source "${BASH_SOURCE[0]%/*}/lib.sh"

ensure_group "$SERVICE_USER" "$SERVICE_UID"
ensure_user "$SERVICE_USER" "$SERVICE_UID" --system --gid "$SERVICE_USER" --home-dir /nonexistent --no-create-home --shell "$NOLOGIN_SHELL"
ensure_dir "$INSTALL_DIR" 755 root:root
ensure_dir "$APP_DIR" 755 root:root
ensure_dir "$DATA_DIR" 750 "$SERVICE_USER:$SERVICE_USER"
if [[ -n $(find "$DATA_DIR" -xdev \( ! -user "$SERVICE_USER" -o ! -group "$SERVICE_USER" \) -print -quit) ]]; then
  chown -R "$SERVICE_USER:$SERVICE_USER" "$DATA_DIR"
  changed "the files in $DATA_DIR belonged to another user id: they are $SERVICE_USER's again"
fi
# The service reads its credentials file here; nobody else but root may.
ensure_dir "$CONFIG_DIR" 750 "root:$SERVICE_USER"
ensure_dir "$ACME_WEBROOT" 755 root:root
