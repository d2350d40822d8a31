# shellcheck shell=bash
# "upload-bundle" (`claude-bus provision` runs it before the steps; Pulumi copies the file itself): the
# service bundle from stdin to BUNDLE_UPLOAD_PATH, where the service step checks and installs it.
# Reads from the header: BUNDLE_UPLOAD_PATH.
# shellcheck source-path=SCRIPTDIR
source "${BASH_SOURCE[0]%/*}/lib.sh"

install_file "$BUNDLE_UPLOAD_PATH" 644 root:root
