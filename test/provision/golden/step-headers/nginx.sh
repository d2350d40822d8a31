readonly SITE_PATH='/etc/nginx/sites-available/claude-bus.example.com'
IFS= read -r -d '' SITE <<'CLAUDE_BUS_EOF' || true
# Managed by claude-bus provision: local edits are overwritten.
limit_req_zone $binary_remote_addr zone=claude_bus_claude_bus_example_com:10m rate=20r/s;

# Connections to the service are kept open and reused, not made anew for every request.
upstream claude_bus_claude_bus_example_com_service {
    server 127.0.0.1:8787;
    keepalive 16;
}

server {
    listen 80;
    listen [::]:80;
    server_name claude-bus.example.com;
    server_tokens off;
    access_log /var/log/claude-bus-access.log;
    error_log /var/log/claude-bus-error.log;

    # certbot's HTTP-01 challenge (first issuance and every renewal) stays on plain HTTP.
    location ^~ /.well-known/acme-challenge/ {
        root /var/www/claude-bus-acme;
        default_type text/plain;
    }
    location / {
        return 301 https://claude-bus.example.com$request_uri;
    }
}

server {
    listen 443 ssl http2;
    listen [::]:443 ssl http2;
    server_name claude-bus.example.com;
    server_tokens off;
    access_log /var/log/claude-bus-access.log;
    error_log /var/log/claude-bus-error.log;

    ssl_certificate /etc/letsencrypt/live/claude-bus.example.com/fullchain.pem;
    ssl_certificate_key /etc/letsencrypt/live/claude-bus.example.com/privkey.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_ecdh_curve X25519:prime256v1:secp384r1;
    ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305;
    ssl_prefer_server_ciphers off;
    ssl_session_timeout 1d;
    ssl_session_cache shared:claude_bus_claude_bus_example_com_tls:10m;
    ssl_session_tickets off;

    add_header Strict-Transport-Security "max-age=63072000" always;
    add_header X-Robots-Tag "noindex, nofollow" always;
    add_header X-Content-Type-Options "nosniff" always;

    client_max_body_size 520k;
    limit_req zone=claude_bus_claude_bus_example_com burst=100 nodelay;
    limit_req_status 429;

    error_page 401 @error401;
    error_page 413 @error413;
    error_page 429 @error429;
    error_page 502 @error502;
    error_page 503 @error503;
    error_page 504 @error504;
    location @error401 { default_type application/json; return 401 '{"error":"authentication required: wrong or missing credential"}\n'; }
    location @error413 { default_type application/json; return 413 '{"error":"request body too large"}\n'; }
    location @error429 { default_type application/json; return 429 '{"error":"too many requests, slow down"}\n'; }
    location @error502 { default_type application/json; return 502 '{"error":"bus service unavailable"}\n'; }
    location @error503 { default_type application/json; return 503 '{"error":"bus service unavailable"}\n'; }
    location @error504 { default_type application/json; return 504 '{"error":"bus service timed out"}\n'; }

    location = /robots.txt {
        default_type text/plain;
        return 200 'User-agent: *\nDisallow: /\n';
    }

    location / {
        auth_basic "claude-bus";
        auth_basic_user_file /etc/nginx/.htpasswd-claude-bus;
        proxy_pass http://claude_bus_claude_bus_example_com_service;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $host;
        proxy_set_header X-Real-IP $remote_addr;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto https;
        # nginx adds it for every answer; the service's copy would make it appear twice.
        proxy_hide_header X-Robots-Tag;
    }
}
CLAUDE_BUS_EOF
readonly SITE
readonly SITE_ENABLED='/etc/nginx/sites-enabled/claude-bus.example.com'
readonly LOGROTATE_PATH='/etc/logrotate.d/claude-bus'
IFS= read -r -d '' LOGROTATE <<'CLAUDE_BUS_EOF' || true
# Managed by claude-bus provision.
/var/log/claude-bus-access.log /var/log/claude-bus-error.log {
	daily
	rotate 14
	missingok
	notifempty
	compress
	delaycompress
	create 0640 www-data adm
	sharedscripts
	postrotate
		invoke-rc.d nginx rotate >/dev/null 2>&1 || true
	endscript
}
CLAUDE_BUS_EOF
readonly LOGROTATE
