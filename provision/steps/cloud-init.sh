# shellcheck shell=bash
# Step "cloud-init": waits until cloud-init has finished the first boot's own setup (apt, users), so
# the steps after it do not race it. Returns at once on a host without cloud-init.
# Reads no header variables.
# shellcheck source-path=SCRIPTDIR
source "${BASH_SOURCE[0]%/*}/lib.sh"

if command -v cloud-init >/dev/null 2>&1; then
  echo "waiting for cloud-init to finish"
  cloud-init status --wait >/dev/null || echo "cloud-init finished with status $? (continuing)"
else
  echo "no cloud-init on this host"
fi
