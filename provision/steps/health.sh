# shellcheck shell=bash
# Step "health": GET /health through nginx over TLS on this host, with the bus credential from stdin.
# chain.pem as the only trust anchor (curl accepts a partial chain) proves that nginx serves the
# certificate certbot issued, for any ACME CA.
# Reads from the header: FQDN, CHAIN_PEM, and BUS_USER, BUS_URL, PASSWORD_REGEX, PASSWORD_RULE (for
# read_credentials).
# shellcheck source-path=SCRIPTDIR
source "${BASH_SOURCE[0]%/*}/lib.sh"

read_credentials
for attempt in $(seq 1 30); do
  # The credential goes to curl as a config on stdin, never as an argument.
  if body=$(printf 'user = "%s:%s"\n' "$BUS_USER" "$BUS_PASS" |
    curl -sS --fail --max-time 10 --resolve "$FQDN:443:127.0.0.1" --cacert "$CHAIN_PEM" -K - "https://$FQDN/health" 2>&1) &&
    [[ $body =~ \"ok\":\ ?true ]]; then
    echo "https://$FQDN/health answered: $body"
    exit 0
  fi
  echo "health check attempt $attempt: $body" >&2
  sleep 1
done
echo "https://$FQDN/health did not answer ok" >&2
exit 1
