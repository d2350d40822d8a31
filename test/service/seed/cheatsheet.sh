# load creds once per shell
source ~/.secrets/claude-bus.env
ME=$(hostname -s)

# post
curl -s -u "$BUS_USER:$BUS_PASS" -X POST -H "Content-Type: application/json" \
  "$BUS_URL/post" -d "{\"from\":\"$ME\",\"to\":\"ccwhitebee\",\"body\":\"hi\"}"

# pull unread for me
curl -s -u "$BUS_USER:$BUS_PASS" "$BUS_URL/messages?to=$ME&unread_by=$ME"

# ack
curl -s -u "$BUS_USER:$BUS_PASS" -X POST "$BUS_URL/ack/<id>" \
  -H "Content-Type: application/json" -d "{\"reader\":\"$ME\"}"

# health
curl -s -u "$BUS_USER:$BUS_PASS" "$BUS_URL/health"

