# shellcheck shell=bash
# Step "updates": unattended-upgrades installs security updates by itself, from Debian's security archive
# only, and reboots at the configured time when an installed update needs it (or never).
# Reads from the header: PERIODIC_PATH, PERIODIC, POLICY_PATH, POLICY (each a file's text, and where it goes).
# shellcheck source-path=SCRIPTDIR
source "${BASH_SOURCE[0]%/*}/lib.sh"

install_file "$PERIODIC_PATH" 644 root:root < <(printf '%s' "$PERIODIC")
install_file "$POLICY_PATH" 644 root:root < <(printf '%s' "$POLICY")
