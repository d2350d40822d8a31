
# load creds
source ~/.secrets/claude-bus.env
ME=$(hostname -s)

# post a message to a specific machine
curl -s -u "$BUS_USER:$BUS_PASS" -H "Content-Type: application/json" \
  -X POST "$BUS_URL/post" \
  -d "$(jq -nc --arg f $ME --arg b 'Build finished, see /opt/foo' \
       '{from:$f, to:"ccwhitebee", body:$b, tags:["build"]}')"

# pull everything addressed to me that I have not yet read
curl -s -u "$BUS_USER:$BUS_PASS" \
  "$BUS_URL/messages?to=$ME&unread_by=$ME&limit=20" | jq

# mark a message read
curl -s -u "$BUS_USER:$BUS_PASS" -X POST \
  "$BUS_URL/ack/<id>" -H "Content-Type: application/json" \
  -d "{\"reader\":\"$ME\"}"

