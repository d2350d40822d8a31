# shellcheck shell=bash
# Step "nginx": the bus's nginx site (TLS, rate limit, JSON errors, the client's address for the
# service, which authenticates), enabled, and the logrotate rule for its logs. nginx reloads only on a
# change, after `nginx -t` accepts it; when the step fails, the previous site is put back, so nginx
# never runs (or later loads) a site it rejected. Once the site is live, the htpasswd file of earlier
# versions (whose sites checked the password in nginx) goes, and so does Debian's default site (it would
# answer any other name on port 80 with nginx's welcome page).
# Reads from the header: SITE_PATH, SITE (its text, for nginx HTTP2_DIRECTIVE_SINCE and later: `http2 on;`),
# SITE_LEGACY_HTTP2 (the same for older nginx: `listen ... http2`), SITE_ENABLED, LOGROTATE_PATH, LOGROTATE
# (its text), LEGACY_HTPASSWD_FILE, NGINX_DEFAULT_SITE.
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

# http2_directive_known: this nginx takes `http2 on;` (HTTP2_DIRECTIVE_SINCE and later).
http2_directive_known() {
  local version
  version=$(nginx -v 2>&1 | sed -n 's|^nginx version: nginx/\([0-9.]*\).*|\1|p')
  if [[ -z $version ]]; then
    echo "could not read nginx's version from 'nginx -v'" >&2
    exit 1
  fi
  dpkg --compare-versions "$version" ge "$HTTP2_DIRECTIVE_SINCE"
}

if http2_directive_known; then rendered=$SITE; else rendered=$SITE_LEGACY_HTTP2; fi
install_file "$SITE_PATH" 644 root:root "reload nginx" < <(printf '%s' "$rendered")
if [[ $(readlink "$SITE_ENABLED" || true) != "$SITE_PATH" ]]; then
  ln -sfn "$SITE_PATH" "$SITE_ENABLED"
  changed "enabled $SITE_ENABLED"
  notify "reload nginx"
fi
remove_file "$NGINX_DEFAULT_SITE" "reload nginx"
install_file "$LOGROTATE_PATH" 644 root:root < <(printf '%s' "$LOGROTATE")
flush_handlers

if ! systemctl is-active --quiet nginx; then
  systemctl start nginx
  changed "started nginx"
fi
remove_file "$LEGACY_HTPASSWD_FILE"
