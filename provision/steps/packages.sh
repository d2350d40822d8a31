# shellcheck shell=bash
# Step "packages": finishes whatever dpkg left half done (an SSH connection dropped mid-apt leaves it
# interrupted, and apt refuses to run until it is), installs the Debian packages the host needs when any
# is missing, and requires Node.js 18 or newer (the bundle's target).
# Reads from the header: PACKAGES (an array of package names).
# shellcheck source-path=SCRIPTDIR
source "${BASH_SOURCE[0]%/*}/lib.sh"

export DEBIAN_FRONTEND=noninteractive
# dpkg keeps a journal of a run in progress in updates/; --audit lists packages left unconfigured.
if [[ -n $(ls -A /var/lib/dpkg/updates) || -n $(dpkg --audit) ]]; then
  dpkg --force-confold --configure -a
  changed "dpkg finished an interrupted run (dpkg --configure -a)"
fi
missing=()
for pkg in "${PACKAGES[@]}"; do
  if [[ $(dpkg-query -W -f="\${db:Status-Status}" "$pkg" 2>/dev/null || true) != installed ]]; then
    missing+=("$pkg")
  fi
done
if ((${#missing[@]})); then
  apt-get -o DPkg::Lock::Timeout=600 update -q
  apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "${missing[@]}"
  changed "installed ${missing[*]}"
fi

node_major=$(node -p 'process.versions.node.split(".")[0]')
if ((node_major < 18)); then
  echo "Node.js $node_major is too old: the bus needs 18 or newer" >&2
  exit 1
fi
