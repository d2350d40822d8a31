# shellcheck shell=bash
# Step "credentials": the team credential from stdin becomes the service's credentials file, verbatim,
# and the service re-reads it (handler "reload claude-bus"): the new password works and the old one is
# refused from the same instant. The service alone authenticates: machines enroll while it runs, which
# no file nginx reads could follow (the nginx step removes the htpasswd of earlier versions).
# Reads from the header: BUS_USER, BUS_URL, PASSWORD_REGEX, PASSWORD_RULE (for read_credentials),
# CREDENTIALS_FILE, SERVICE_USER, and lib.sh's SERVICE.
# shellcheck source-path=SCRIPTDIR
source "${BASH_SOURCE[0]%/*}/lib.sh"

read_credentials
install_file "$CREDENTIALS_FILE" 600 "$SERVICE_USER:$SERVICE_USER" "reload claude-bus" < <(printf '%s' "$CREDENTIALS")
