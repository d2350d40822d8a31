readonly SERVICE_USER='claude-bus'
readonly SERVICE_UID=850
readonly NOLOGIN_SHELL='/usr/sbin/nologin'
readonly INSTALL_DIR='/opt/claude-bus'
readonly APP_DIR='/opt/claude-bus/app'
readonly DATA_DIR='/opt/claude-bus/data'
readonly CONFIG_DIR='/etc/claude-bus'
readonly ACME_WEBROOT='/var/www/claude-bus-acme'
