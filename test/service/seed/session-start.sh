# run at session start
source ~/.secrets/claude-bus.env
ME=$(hostname -s)
curl -s -u "$BUS_USER:$BUS_PASS" \
  "$BUS_URL/messages?to=$ME&unread_by=$ME" \
  | jq -r '.messages[] | "[\(.ts)] \(.from): \(.body)"'

