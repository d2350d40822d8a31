# shellcheck shell=bash
# Step "certificate": a certificate for FQDN from the ACME server with `certbot certonly --webroot`
# (Debian's certbot.timer renews it; the deploy hook reloads nginx). Until the full nginx site exists, a
# port-80-only site answers the first HTTP-01 challenge; it never outlives this step.
# Reads from the header: FQDN, ACME_SERVER, ACME_EMAIL, ACME_WEBROOT, CERT_DIR, RENEWAL_CONF, ACME_CA
# (the certificates of the CA that signs the ACME server's own TLS; empty for a public CA),
# ACME_CA_PATH, CERTBOT_CA_DROPIN, CERTBOT_CA_DROPIN_PATH, CERTBOT_DEPLOY_HOOK, CERTBOT_DEPLOY_HOOK_PATH,
# SITE_ENABLED, ACME_BOOTSTRAP, ACME_BOOTSTRAP_PATH (a file's text, and where it goes).
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

current=none
if [[ -f $RENEWAL_CONF ]]; then current=$(sed -n 's/^server *= *//p' "$RENEWAL_CONF"); fi
if [[ -f $CERT_DIR/fullchain.pem && $current == "$ACME_SERVER" ]]; then
  echo "certificate for $FQDN from $ACME_SERVER is in place"
  exit 0
fi

if [[ ! -e $SITE_ENABLED ]]; then serve_acme_challenge; fi
renew=()
if [[ -f $CERT_DIR/fullchain.pem ]]; then renew=(--force-renewal); fi
certbot certonly --webroot -w "$ACME_WEBROOT" -d "$FQDN" --cert-name "$FQDN" \
  --server "$ACME_SERVER" --non-interactive --agree-tos --no-eff-email -m "$ACME_EMAIL" "${renew[@]}"
changed "certificate for $FQDN issued by $ACME_SERVER"
