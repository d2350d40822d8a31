# shellcheck shell=bash
# Step "certificate": a certificate for FQDN from the ACME server with `certbot certonly --webroot`
# (Debian's certbot.timer renews it; the deploy hook reloads nginx). Until the full nginx site exists, a
# port-80-only site answers the first HTTP-01 challenge; it never outlives this step.
# Reads from the header: FQDN, ACME_SERVER, ACME_EMAIL, ACME_WEBROOT, CERT_DIR, RENEWAL_CONF, ACME_CA
# (the certificates of the CA that signs the ACME server's own TLS; empty for a public CA),
# ACME_CA_PATH, CERTBOT_CA_DROPIN, CERTBOT_CA_DROPIN_PATH, CERTBOT_DEPLOY_HOOK, CERTBOT_DEPLOY_HOOK_PATH,
# SITE_ENABLED, ACME_BOOTSTRAP, ACME_BOOTSTRAP_PATH (a file's text, and where it goes), PUBLIC_IPV4 and
# DOH_URL (the address the name must resolve to before certbot runs, empty for no check, and the resolver
# asked), PUBLIC_IPV6 (the one address an AAAA record may hold; empty: there must be none), SITES_AVAILABLE,
# SITES_ENABLED_DIR, RENEWAL_DIR, MANAGED_SITE_MARKER.
# A certificate from another ACME server (production to staging, say) replaces the one in place with
# --force-renewal and --break-my-certs: certbot refuses to swap a valid certificate for a test one without it.
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

# resolved TYPE NUMBER: FQDN's records of that type (A 1, AAAA 28) as the world sees them, comma-separated.
resolved() {
  local answer
  if ! answer=$(curl -sS --fail --max-time 15 -H 'accept: application/dns-json' "$DOH_URL?name=$FQDN&type=$1"); then
    echo "could not ask $DOH_URL where $FQDN points ($1)" >&2
    exit 1
  fi
  jq -r --argjson type "$2" '[.Answer[]? | select(.type == $type) | .data] | join(", ")' <<<"$answer"
}

# check_dns: FQDN must resolve, as the world sees it, to this host, over IPv4 and (when it has an AAAA
# record, which Let's Encrypt then validates over) IPv6. Otherwise the ACME server's validation fails,
# and Let's Encrypt allows 5 failed validations per name per hour.
check_dns() {
  local addresses
  if [[ -z $PUBLIC_IPV4 ]]; then return 0; fi
  addresses=$(resolved A 1)
  if [[ $addresses != "$PUBLIC_IPV4" ]]; then
    echo "$FQDN resolves to ${addresses:-nothing}, not $PUBLIC_IPV4: point the A record at $PUBLIC_IPV4 and run again" >&2
    exit 1
  fi
  addresses=$(resolved AAAA 28)
  if [[ -z $addresses || $addresses == "$PUBLIC_IPV6" ]]; then return 0; fi
  if [[ -z $PUBLIC_IPV6 ]]; then
    echo "$FQDN has an AAAA record ($addresses), and this host serves it on no IPv6 address: the ACME server would validate over IPv6 and fail. Remove the AAAA record and run again" >&2
  else
    echo "$FQDN's AAAA record is $addresses, not $PUBLIC_IPV6: point it at $PUBLIC_IPV6 (or remove it) and run again" >&2
  fi
  exit 1
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
  if [[ -f $CERT_DIR/fullchain.pem ]]; then renew=(--force-renewal --break-my-certs); fi
  certbot certonly --webroot -w "$ACME_WEBROOT" -d "$FQDN" --cert-name "$FQDN" \
    --server "$ACME_SERVER" --non-interactive --agree-tos --no-eff-email -m "$ACME_EMAIL" "${renew[@]}"
  changed "certificate for $FQDN issued by $ACME_SERVER"
  notify "reload nginx"
fi
retire_other_names
