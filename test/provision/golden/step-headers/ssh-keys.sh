readonly ROOT_KEYS_PATH='/root/.ssh/authorized_keys'
IFS= read -r -d '' ROOT_KEYS <<'CLAUDE_BUS_EOF' || true
# Managed by claude-bus provision: rootSshKeys of the host config (the deploy keys).
ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGhTR0y7mYq3X4z1w2mKqJ7vC0bVd3aY8kQfR1nH2sTu alice@laptop
CLAUDE_BUS_EOF
readonly ROOT_KEYS
