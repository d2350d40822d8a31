readonly BUS_USER='claude'
readonly BUS_URL='https://claude-bus.example.com'
readonly PASSWORD_REGEX='^[A-Za-z0-9._+/=@%,:-]{28,128}$'
readonly PASSWORD_RULE='must be 28-128 characters from A-Za-z0-9._+/=@%,:-'
readonly CREDENTIALS_FILE='/etc/claude-bus/credentials.env'
readonly HTPASSWD_FILE='/etc/nginx/.htpasswd-claude-bus'
readonly SERVICE_USER='claude-bus'
readonly SERVICE_PORT=8787
