# shellcheck shell=bash
# Step "nginx": the bus's nginx site (TLS, rate limit, JSON errors, the client's address for the
# service, which authenticates), enabled, and the logrotate rule for its logs. nginx reloads only on a
# change, after `nginx -t` accepts it; when the step fails, the previous site is put back, so nginx
# never runs (or later loads) a site it rejected. Once the site is live, the htpasswd file of earlier
# versions (whose sites checked the password in nginx) goes.
# Reads from the header: SITE_PATH, SITE (its text), SITE_ENABLED, LOGROTATE_PATH, LOGROTATE (its
# text), LEGACY_HTPASSWD_FILE.
# shellcheck source-path=SCRIPTDIR
source "${BASH_SOURCE[0]%/*}/lib.sh"

# restore_previous_site: on failure, the site as it was before this step (or none, as before).
restore_previous_site() {
  echo "the nginx step failed: restoring the previous site" >&2
  if [[ -n $previous_site ]]; then mv -f "$previous_site" "$SITE_PATH"; else rm -f "$SITE_PATH" "$SITE_ENABLED"; fi
}

# A copy beside the site, so putting it back is one atomic rename (nginx loads only sites-enabled).
previous_site=''
if [[ -f $SITE_PATH ]]; then
  temp_file previous_site "${SITE_PATH%/*}"
  cp -p "$SITE_PATH" "$previous_site"
fi
on_failure restore_previous_site

install_file "$SITE_PATH" 644 root:root "reload nginx" < <(printf '%s' "$SITE")
if [[ $(readlink "$SITE_ENABLED" || true) != "$SITE_PATH" ]]; then
  ln -sfn "$SITE_PATH" "$SITE_ENABLED"
  changed "enabled $SITE_ENABLED"
  notify "reload nginx"
fi
install_file "$LOGROTATE_PATH" 644 root:root < <(printf '%s' "$LOGROTATE")
flush_handlers

if ! systemctl is-active --quiet nginx; then
  systemctl start nginx
  changed "started nginx"
fi
remove_file "$LEGACY_HTPASSWD_FILE"
