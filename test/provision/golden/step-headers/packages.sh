readonly -a PACKAGES=('nodejs' 'nginx' 'certbot' 'curl' 'ca-certificates' 'openssl' 'jq' 'e2fsprogs' 'unattended-upgrades')
