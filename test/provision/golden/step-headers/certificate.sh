readonly FQDN='claude-bus.example.com'
readonly ACME_SERVER='https://acme-v02.api.letsencrypt.org/directory'
readonly ACME_EMAIL='ops@example.com'
readonly ACME_WEBROOT='/var/www/claude-bus-acme'
readonly CERT_DIR='/etc/letsencrypt/live/claude-bus.example.com'
readonly RENEWAL_CONF='/etc/letsencrypt/renewal/claude-bus.example.com.conf'
IFS= read -r -d '' ACME_CA <<'CLAUDE_BUS_EOF' || true
-----BEGIN CERTIFICATE-----
MIIBdummyPEMbody
-----END CERTIFICATE-----
CLAUDE_BUS_EOF
readonly ACME_CA
readonly ACME_CA_PATH='/etc/claude-bus/acme-ca.pem'
readonly CERTBOT_CA_DROPIN_PATH='/etc/systemd/system/certbot.service.d/claude-bus-acme-ca.conf'
IFS= read -r -d '' CERTBOT_CA_DROPIN <<'CLAUDE_BUS_EOF' || true
# Managed by claude-bus provision.
[Service]
Environment=REQUESTS_CA_BUNDLE=/etc/claude-bus/acme-ca.pem
CLAUDE_BUS_EOF
readonly CERTBOT_CA_DROPIN
readonly CERTBOT_DEPLOY_HOOK_PATH='/etc/letsencrypt/renewal-hooks/deploy/claude-bus-reload-nginx'
IFS= read -r -d '' CERTBOT_DEPLOY_HOOK <<'CLAUDE_BUS_EOF' || true
#!/bin/sh
# Managed by claude-bus provision: renewed certificates are picked up without downtime.
exec systemctl reload nginx
CLAUDE_BUS_EOF
readonly CERTBOT_DEPLOY_HOOK
readonly SITE_ENABLED='/etc/nginx/sites-enabled/claude-bus.example.com'
readonly ACME_BOOTSTRAP_PATH='/etc/nginx/sites-enabled/claude-bus-acme-claude-bus.example.com'
IFS= read -r -d '' ACME_BOOTSTRAP <<'CLAUDE_BUS_EOF' || true
# Temporary (claude-bus provision): serves the first ACME challenge, removed once the certificate exists.
server {
    listen 80;
    listen [::]:80;
    server_name claude-bus.example.com;
    server_tokens off;
    location ^~ /.well-known/acme-challenge/ {
        root /var/www/claude-bus-acme;
        default_type text/plain;
    }
    location / {
        return 404;
    }
}
CLAUDE_BUS_EOF
readonly ACME_BOOTSTRAP
readonly PUBLIC_IPV4='203.0.113.10'
readonly PUBLIC_IPV6=''
readonly DOH_URL='https://cloudflare-dns.com/dns-query'
readonly SITES_AVAILABLE='/etc/nginx/sites-available'
readonly SITES_ENABLED_DIR='/etc/nginx/sites-enabled'
readonly RENEWAL_DIR='/etc/letsencrypt/renewal'
readonly MANAGED_SITE_MARKER='# Managed by claude-bus provision'
