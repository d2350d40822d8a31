readonly LEGACY_HTPASSWD_FILE='/etc/nginx/.htpasswd-claude-bus'
readonly SITE_PATH='/etc/nginx/sites-available/claude-bus.example.com'
IFS= read -r -d '' SITE <<'CLAUDE_BUS_EOF' || true
# Managed by claude-bus provision: local edits are overwritten.
limit_req_zone $binary_remote_addr zone=claude_bus_claude_bus_example_com:10m rate=20r/s;

# Connections to the service are kept open and reused, not made anew for every request.
upstream claude_bus_claude_bus_example_com_service {
    server 127.0.0.1:8787;
    keepalive 16;
    # Idle ones go before the service would close them (it keeps them 5 s), so no request is sent on a closing one.
    keepalive_timeout 3s;
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
    listen 443 ssl;
    listen [::]:443 ssl;
    http2 on;
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
    client_body_buffer_size 520k;
    limit_req zone=claude_bus_claude_bus_example_com burst=100 nodelay;
    limit_req_status 429;

    error_page 400 /.claude-bus-error/400;
    error_page 404 /.claude-bus-error/404;
    error_page 405 /.claude-bus-error/405;
    error_page 413 /.claude-bus-error/413;
    error_page 414 /.claude-bus-error/414;
    error_page 429 /.claude-bus-error/429;
    error_page 494 =431 /.claude-bus-error/494;
    error_page 502 /.claude-bus-error/502;
    error_page 503 /.claude-bus-error/503;
    error_page 504 /.claude-bus-error/504;
    error_page 505 =400 /.claude-bus-error/505;
    location = /.claude-bus-error/400 { internal; default_type application/json; return 400 '{"error":"bad request"}\n'; }
    location = /.claude-bus-error/404 { internal; default_type application/json; return 404 '{"error":"no such route"}\n'; }
    location = /.claude-bus-error/405 { internal; default_type application/json; return 405 '{"error":"method not allowed"}\n'; }
    location = /.claude-bus-error/413 { internal; default_type application/json; return 413 '{"error":"request body too large"}\n'; }
    location = /.claude-bus-error/414 { internal; default_type application/json; return 414 '{"error":"the request\'s URL is too long"}\n'; }
    location = /.claude-bus-error/429 { internal; default_type application/json; return 429 '{"error":"too many requests, slow down"}\n'; }
    location = /.claude-bus-error/494 { internal; default_type application/json; return 431 '{"error":"the request\'s headers are too large"}\n'; }
    location = /.claude-bus-error/502 { internal; default_type application/json; return 502 '{"error":"bus service unavailable"}\n'; }
    location = /.claude-bus-error/503 { internal; default_type application/json; return 503 '{"error":"bus service unavailable"}\n'; }
    location = /.claude-bus-error/504 { internal; default_type application/json; return 504 '{"error":"bus service timed out"}\n'; }
    location = /.claude-bus-error/505 { internal; default_type application/json; return 400 '{"error":"unsupported HTTP version: use HTTP/1.1, or HTTP/2 over TLS"}\n'; }

    location = /robots.txt {
        default_type text/plain;
        return 200 'User-agent: *\nDisallow: /\n';
    }

    location / {
        proxy_pass http://claude_bus_claude_bus_example_com_service;
        proxy_http_version 1.1;
        # Longer than the service is ever silent (a long-poll waits up to 60 s): nginx never cuts an answer short.
        proxy_read_timeout 75s;
        proxy_set_header Connection "";
        proxy_set_header Host $host;
        proxy_set_header X-Real-IP $remote_addr;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto https;
        # nginx adds these for every answer; the service's copies would make them appear twice.
        proxy_hide_header X-Robots-Tag;
        proxy_hide_header X-Content-Type-Options;
    }

    location = /live {
        proxy_pass http://claude_bus_claude_bus_example_com_service;
        proxy_http_version 1.1;
        # Longer than the service is ever silent (a long-poll waits up to 60 s): nginx never cuts an answer short.
        proxy_read_timeout 75s;
        proxy_set_header Connection "";
        proxy_set_header Host $host;
        proxy_set_header X-Real-IP $remote_addr;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto https;
        # nginx adds these for every answer; the service's copies would make them appear twice.
        proxy_hide_header X-Robots-Tag;
        proxy_hide_header X-Content-Type-Options;
    }

    location ~ ^/files(/|$) {
        # Files: bodies up to the largest file (and a little more, so the service's own 413 names the limit),
        # streamed to the service as they arrive and back as it sends them, never spooled to nginx's disk.
        client_max_body_size 101m;
        proxy_request_buffering off;
        proxy_buffering off;
        proxy_pass http://claude_bus_claude_bus_example_com_service;
        proxy_http_version 1.1;
        # Longer than the service is ever silent (a long-poll waits up to 60 s): nginx never cuts an answer short.
        proxy_read_timeout 75s;
        proxy_set_header Connection "";
        proxy_set_header Host $host;
        proxy_set_header X-Real-IP $remote_addr;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto https;
        # nginx adds these for every answer; the service's copies would make them appear twice.
        proxy_hide_header X-Robots-Tag;
        proxy_hide_header X-Content-Type-Options;
    }
}
CLAUDE_BUS_EOF
readonly SITE
IFS= read -r -d '' SITE_LEGACY_HTTP2 <<'CLAUDE_BUS_EOF' || true
# Managed by claude-bus provision: local edits are overwritten.
limit_req_zone $binary_remote_addr zone=claude_bus_claude_bus_example_com:10m rate=20r/s;

# Connections to the service are kept open and reused, not made anew for every request.
upstream claude_bus_claude_bus_example_com_service {
    server 127.0.0.1:8787;
    keepalive 16;
    # Idle ones go before the service would close them (it keeps them 5 s), so no request is sent on a closing one.
    keepalive_timeout 3s;
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
    client_body_buffer_size 520k;
    limit_req zone=claude_bus_claude_bus_example_com burst=100 nodelay;
    limit_req_status 429;

    error_page 400 /.claude-bus-error/400;
    error_page 404 /.claude-bus-error/404;
    error_page 405 /.claude-bus-error/405;
    error_page 413 /.claude-bus-error/413;
    error_page 414 /.claude-bus-error/414;
    error_page 429 /.claude-bus-error/429;
    error_page 494 =431 /.claude-bus-error/494;
    error_page 502 /.claude-bus-error/502;
    error_page 503 /.claude-bus-error/503;
    error_page 504 /.claude-bus-error/504;
    error_page 505 =400 /.claude-bus-error/505;
    location = /.claude-bus-error/400 { internal; default_type application/json; return 400 '{"error":"bad request"}\n'; }
    location = /.claude-bus-error/404 { internal; default_type application/json; return 404 '{"error":"no such route"}\n'; }
    location = /.claude-bus-error/405 { internal; default_type application/json; return 405 '{"error":"method not allowed"}\n'; }
    location = /.claude-bus-error/413 { internal; default_type application/json; return 413 '{"error":"request body too large"}\n'; }
    location = /.claude-bus-error/414 { internal; default_type application/json; return 414 '{"error":"the request\'s URL is too long"}\n'; }
    location = /.claude-bus-error/429 { internal; default_type application/json; return 429 '{"error":"too many requests, slow down"}\n'; }
    location = /.claude-bus-error/494 { internal; default_type application/json; return 431 '{"error":"the request\'s headers are too large"}\n'; }
    location = /.claude-bus-error/502 { internal; default_type application/json; return 502 '{"error":"bus service unavailable"}\n'; }
    location = /.claude-bus-error/503 { internal; default_type application/json; return 503 '{"error":"bus service unavailable"}\n'; }
    location = /.claude-bus-error/504 { internal; default_type application/json; return 504 '{"error":"bus service timed out"}\n'; }
    location = /.claude-bus-error/505 { internal; default_type application/json; return 400 '{"error":"unsupported HTTP version: use HTTP/1.1, or HTTP/2 over TLS"}\n'; }

    location = /robots.txt {
        default_type text/plain;
        return 200 'User-agent: *\nDisallow: /\n';
    }

    location / {
        proxy_pass http://claude_bus_claude_bus_example_com_service;
        proxy_http_version 1.1;
        # Longer than the service is ever silent (a long-poll waits up to 60 s): nginx never cuts an answer short.
        proxy_read_timeout 75s;
        proxy_set_header Connection "";
        proxy_set_header Host $host;
        proxy_set_header X-Real-IP $remote_addr;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto https;
        # nginx adds these for every answer; the service's copies would make them appear twice.
        proxy_hide_header X-Robots-Tag;
        proxy_hide_header X-Content-Type-Options;
    }

    location = /live {
        proxy_pass http://claude_bus_claude_bus_example_com_service;
        proxy_http_version 1.1;
        # Longer than the service is ever silent (a long-poll waits up to 60 s): nginx never cuts an answer short.
        proxy_read_timeout 75s;
        proxy_set_header Connection "";
        proxy_set_header Host $host;
        proxy_set_header X-Real-IP $remote_addr;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto https;
        # nginx adds these for every answer; the service's copies would make them appear twice.
        proxy_hide_header X-Robots-Tag;
        proxy_hide_header X-Content-Type-Options;
    }

    location ~ ^/files(/|$) {
        # Files: bodies up to the largest file (and a little more, so the service's own 413 names the limit),
        # streamed to the service as they arrive and back as it sends them, never spooled to nginx's disk.
        client_max_body_size 101m;
        proxy_request_buffering off;
        proxy_buffering off;
        proxy_pass http://claude_bus_claude_bus_example_com_service;
        proxy_http_version 1.1;
        # Longer than the service is ever silent (a long-poll waits up to 60 s): nginx never cuts an answer short.
        proxy_read_timeout 75s;
        proxy_set_header Connection "";
        proxy_set_header Host $host;
        proxy_set_header X-Real-IP $remote_addr;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto https;
        # nginx adds these for every answer; the service's copies would make them appear twice.
        proxy_hide_header X-Robots-Tag;
        proxy_hide_header X-Content-Type-Options;
    }
}
CLAUDE_BUS_EOF
readonly SITE_LEGACY_HTTP2
readonly HTTP2_DIRECTIVE_SINCE='1.25.1'
readonly SITE_ENABLED='/etc/nginx/sites-enabled/claude-bus.example.com'
readonly NGINX_DEFAULT_SITE='/etc/nginx/sites-enabled/default'
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
