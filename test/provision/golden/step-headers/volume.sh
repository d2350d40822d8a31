readonly VOLUME_DEVICE='/dev/disk/by-id/scsi-0DO_Volume_claude-bus-prod'
readonly VOLUME_MOUNT='/mnt/claude-bus-volume'
readonly VOLUME_LABEL='claude-bus'
readonly VOLUME_BLANK_MIB=16
readonly -a VOLUME_SUBDIRS=('data' 'files' 'letsencrypt')
readonly -a VOLUME_TARGETS=('/opt/claude-bus/data' '/opt/claude-bus-files' '/etc/letsencrypt')
readonly -a VOLUME_KINDS=('data' 'data' 'identity')
readonly FSTAB='/etc/fstab'
readonly -a LETSENCRYPT_MOUNT_DROPINS=('/etc/systemd/system/nginx.service.d/claude-bus-volume.conf' '/etc/systemd/system/certbot.service.d/claude-bus-volume.conf')
IFS= read -r -d '' LETSENCRYPT_MOUNT_DROPIN <<'CLAUDE_BUS_EOF' || true
# Managed by claude-bus provision: /etc/letsencrypt is mounted from the data volume.
[Unit]
RequiresMountsFor=/etc/letsencrypt
CLAUDE_BUS_EOF
readonly LETSENCRYPT_MOUNT_DROPIN
readonly SSH_DIR='/etc/ssh'
readonly HOST_KEYS_SUBDIR='ssh-host-keys'
