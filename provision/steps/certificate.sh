# shellcheck shell=bash
# Step "certificate": a certificate for FQDN from the ACME server with `certbot certonly --webroot`
# (Debian's certbot.timer renews it; the deploy hook reloads nginx). Until the full nginx site exists, a
# port-80-only site answers the first HTTP-01 challenge; it never outlives this step.
# Reads from the header: FQDN, ACME_SERVER, ACME_EMAIL, ACME_WEBROOT, CERT_DIR, RENEWAL_CONF, ACME_CA
# (the certificates of the CA that signs the ACME server's own TLS; empty for a public CA),
# ACME_CA_PATH, CERTBOT_CA_DROPIN, CERTBOT_CA_DROPIN_PATH, CERTBOT_DEPLOY_HOOK, CERTBOT_DEPLOY_HOOK_PATH,
# SITE_ENABLED, ACME_BOOTSTRAP, ACME_BOOTSTRAP_PATH (a file's text, and where it goes), PUBLIC_IPV4 and
# DOH_URL (the address the name must resolve to before certbot runs, empty for no check, and the resolver
# asked), SITES_AVAILABLE, SITES_ENABLED_DIR, RENEWAL_DIR, MANAGED_SITE_MARKER.
# certbot certonly runs no deploy hook (only `certbot renew` does), so the step itself reloads nginx
# whenever it got a new certificate. A site and certificate this project made for another name (the
# domain changed) are removed once this name's certificate is in place, or they would renew, and fail,
# forever.
# shellcheck source-path=SCRIPTDIR
source "${BASH_SOURCE[0]%/*}/lib.sh"

# serve_acme_challenge: the bootstrap site, served from now until the step ends.
serve_acme_challenge() {
  on_exit remove_acme_bootstrap
  install_file "$ACME_BOOTSTRAP_PATH" 644 root:root "reload nginx" < <(printf '%s' "$ACME_BOOTSTRAP")
  flush_handlers
}
remove_acme_bootstrap() {
  rm -f "$ACME_BOOTSTRAP_PATH"
  systemctl reload nginx || true
}

if [[ -n $ACME_CA ]]; then
  # certbot, now and in certbot.timer's renewals, trusts the ACME server's private CA.
  install_file "$ACME_CA_PATH" 644 root:root < <(printf '%s' "$ACME_CA")
  export REQUESTS_CA_BUNDLE=$ACME_CA_PATH
  mkdir -p "${CERTBOT_CA_DROPIN_PATH%/*}"
  install_file "$CERTBOT_CA_DROPIN_PATH" 644 root:root daemon-reload < <(printf '%s' "$CERTBOT_CA_DROPIN")
else
  remove_file "$CERTBOT_CA_DROPIN_PATH" daemon-reload
  remove_file "$ACME_CA_PATH"
fi
mkdir -p "${CERTBOT_DEPLOY_HOOK_PATH%/*}"
install_file "$CERTBOT_DEPLOY_HOOK_PATH" 755 root:root < <(printf '%s' "$CERTBOT_DEPLOY_HOOK")

# check_dns: FQDN must resolve, as the world sees it, to this host. Otherwise the ACME server's validation
# fails, and Let's Encrypt allows 5 failed validations per name per hour.
check_dns() {
  local answer addresses
  if [[ -z $PUBLIC_IPV4 ]]; then return 0; fi
  if ! answer=$(curl -sS --fail --max-time 15 -H 'accept: application/dns-json' "$DOH_URL?name=$FQDN&type=A"); then
    echo "could not ask $DOH_URL where $FQDN points" >&2
    exit 1
  fi
  addresses=$(jq -r '[.Answer[]? | select(.type == 1) | .data] | join(", ")' <<<"$answer")
  if [[ $addresses != "$PUBLIC_IPV4" ]]; then
    echo "$FQDN resolves to ${addresses:-nothing}, not $PUBLIC_IPV4: point the A record at $PUBLIC_IPV4 and run again" >&2
    exit 1
  fi
}

# retire_other_names: this project's sites and certificates for any name but FQDN.
retire_other_names() {
  local site name conf
  for site in "$SITES_AVAILABLE"/*; do
    name=${site##*/}
    if [[ $name == "$FQDN" || ! -f $site ]] || [[ $(head -n 1 "$site") != "$MANAGED_SITE_MARKER"* ]]; then continue; fi
    remove_file "$SITES_ENABLED_DIR/$name" "reload nginx"
    remove_file "$site"
  done
  flush_handlers
  for conf in "$RENEWAL_DIR"/*.conf; do
    name=${conf##*/}
    name=${name%.conf}
    if [[ $name == "$FQDN" || ! -f $conf ]] || ! grep -q "= $ACME_WEBROOT\$" "$conf"; then continue; fi
    certbot delete --non-interactive --cert-name "$name"
    changed "deleted the certificate for $name"
  done
}

current=none
if [[ -f $RENEWAL_CONF ]]; then current=$(sed -n 's/^server *= *//p' "$RENEWAL_CONF"); fi
if [[ -f $CERT_DIR/fullchain.pem && $current == "$ACME_SERVER" ]]; then
  echo "certificate for $FQDN from $ACME_SERVER is in place"
else
  check_dns
  if [[ ! -e $SITE_ENABLED ]]; then serve_acme_challenge; fi
  renew=()
  if [[ -f $CERT_DIR/fullchain.pem ]]; then renew=(--force-renewal); fi
  certbot certonly --webroot -w "$ACME_WEBROOT" -d "$FQDN" --cert-name "$FQDN" \
    --server "$ACME_SERVER" --non-interactive --agree-tos --no-eff-email -m "$ACME_EMAIL" "${renew[@]}"
  changed "certificate for $FQDN issued by $ACME_SERVER"
  notify "reload nginx"
fi
retire_other_names
