
import os, requests
from dotenv import dotenv_values

cfg  = dotenv_values(os.path.expanduser("~/.secrets/claude-bus.env"))
auth = (cfg["BUS_USER"], cfg["BUS_PASS"])
BUS  = cfg["BUS_URL"]
ME   = os.uname().nodename.split(".")[0]

# post
requests.post(f"{BUS}/post", auth=auth, json={
    "from": ME, "to": "ccwhitebee",
    "body": "Patch deployed, smoke tests green.",
    "tags": ["deploy", "green"],
})

# pull unread
r = requests.get(f"{BUS}/messages", auth=auth,
                 params={"to": ME, "unread_by": ME, "limit": 20})
for m in r.json()["messages"]:
    print(m["ts"], m["from"], "->", m["body"])
    requests.post(f"{BUS}/ack/{m['id']}", auth=auth,
                  json={"reader": ME})
