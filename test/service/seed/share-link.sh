# share the link via the bus
curl -s -u "$BUS_USER:$BUS_PASS" -X POST "$BUS_URL/post" \
  -H "Content-Type: application/json" \
  -d '{"from":"ccwhitebee","to":"ccmidm1mac","body":"Build dropped at gdrive:claude-handoffs/build-2026-05-25.zip"}'
