readonly PERIODIC_PATH='/etc/apt/apt.conf.d/20auto-upgrades'
IFS= read -r -d '' PERIODIC <<'CLAUDE_BUS_EOF' || true
// Managed by claude-bus provision.
APT::Periodic::Update-Package-Lists "1";
APT::Periodic::Unattended-Upgrade "1";
CLAUDE_BUS_EOF
readonly PERIODIC
readonly POLICY_PATH='/etc/apt/apt.conf.d/52claude-bus-unattended-upgrades'
IFS= read -r -d '' POLICY <<'CLAUDE_BUS_EOF' || true
// Managed by claude-bus provision: security updates only.
#clear Unattended-Upgrade::Origins-Pattern;
Unattended-Upgrade::Origins-Pattern {
        "origin=Debian,codename=${distro_codename}-security,label=Debian-Security";
};
Unattended-Upgrade::Automatic-Reboot "true";
Unattended-Upgrade::Automatic-Reboot-WithUsers "true";
Unattended-Upgrade::Automatic-Reboot-Time "04:00";
CLAUDE_BUS_EOF
readonly POLICY
