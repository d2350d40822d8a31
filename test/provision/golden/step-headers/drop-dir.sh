readonly DROP_GROUP='claude-bus-files'
readonly DROP_GID=851
readonly DROP_USER='claude-drop'
readonly DROP_UID=852
readonly NOLOGIN_SHELL='/usr/sbin/nologin'
readonly SHARED_DIR='/opt/claude-bus-files'
readonly TMPFILES_RULE_PATH='/etc/tmpfiles.d/claude-bus-files.conf'
IFS= read -r -d '' TMPFILES_RULE <<'CLAUDE_BUS_EOF' || true
# Managed by claude-bus provision: the shared drop dir (setgid, group-writable).
d /opt/claude-bus-files 2770 root claude-bus-files 30d
CLAUDE_BUS_EOF
readonly TMPFILES_RULE
IFS= read -r -d '' AUTHORIZED_KEYS <<'CLAUDE_BUS_EOF' || true
# Managed by claude-bus provision: clientSshKeys of the host config (file transfer only: SFTP, which scp uses).
restrict,command="internal-sftp" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGhTR0y7mYq3X4z1w2mKqJ7vC0bVd3aY8kQfR1nH2sTu alice@laptop
CLAUDE_BUS_EOF
readonly AUTHORIZED_KEYS
