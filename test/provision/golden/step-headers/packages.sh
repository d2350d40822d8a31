readonly -a PACKAGES=('nodejs' 'nginx' 'apache2-utils' 'certbot' 'curl' 'ca-certificates' 'openssl' 'jq' 'e2fsprogs' 'unattended-upgrades')
