readonly VOLUME_DEVICE='/dev/disk/by-id/scsi-0DO_Volume_claude-bus-prod'
readonly VOLUME_MOUNT='/mnt/claude-bus-volume'
readonly VOLUME_LABEL='claude-bus'
readonly VOLUME_BLANK_MIB=16
readonly -a VOLUME_SUBDIRS=('data' 'files')
readonly -a VOLUME_TARGETS=('/opt/claude-bus/data' '/opt/claude-bus-files')
readonly FSTAB='/etc/fstab'
