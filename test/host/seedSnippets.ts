/**
 * The seed page's curl lines, copied verbatim (only the `<id>` placeholder is filled in by the test).
 * Each runs in bash with HOME holding ~/.secrets/claude-bus.env, exactly as a user would paste it.
 */

/** Section 03, "Bash usage": load creds. Prefixed to every snippet. */
export const LOAD_CREDS = `# load creds
source ~/.secrets/claude-bus.env
ME=$(hostname -s)
`;

/** Section 03: post a message to a specific machine. */
export const POST_TO_MACHINE = `# post a message to a specific machine
curl -s -u "$BUS_USER:$BUS_PASS" -H "Content-Type: application/json" \\
  -X POST "$BUS_URL/post" \\
  -d "$(jq -nc --arg f $ME --arg b 'Build finished, see /opt/foo' \\
       '{from:$f, to:"ccwhitebee", body:$b, tags:["build"]}')"
`;

/** Section 03: pull everything addressed to me that I have not yet read. */
export const PULL_UNREAD = `# pull everything addressed to me that I have not yet read
curl -s -u "$BUS_USER:$BUS_PASS" \\
  "$BUS_URL/messages?to=$ME&unread_by=$ME&limit=20" | jq
`;

/** Section 03: mark a message read. */
export const ACK = `# mark a message read
curl -s -u "$BUS_USER:$BUS_PASS" -X POST \\
  "$BUS_URL/ack/<id>" -H "Content-Type: application/json" \\
  -d "{\\"reader\\":\\"$ME\\"}"
`;

/** Section 05: share a link via the bus. */
export const SHARE_LINK = `# share the link via the bus
curl -s -u "$BUS_USER:$BUS_PASS" -X POST "$BUS_URL/post" \\
  -H "Content-Type: application/json" \\
  -d '{"from":"ccwhitebee","to":"ccmidm1mac","body":"Build dropped at gdrive:claude-handoffs/build-2026-05-25.zip"}'
`;

/** Section 09: the session-start poll. */
export const SESSION_START_POLL = `# run at session start
source ~/.secrets/claude-bus.env
ME=$(hostname -s)
curl -s -u "$BUS_USER:$BUS_PASS" \\
  "$BUS_URL/messages?to=$ME&unread_by=$ME" \\
  | jq -r '.messages[] | "[\\(.ts)] \\(.from): \\(.body)"'
`;

/** Section 11, quick cheatsheet (each command prefixed by its "load creds once per shell"). */
export const CHEATSHEET = {
  load: `# load creds once per shell
source ~/.secrets/claude-bus.env
ME=$(hostname -s)
`,
  post: `# post
curl -s -u "$BUS_USER:$BUS_PASS" -X POST -H "Content-Type: application/json" \\
  "$BUS_URL/post" -d "{\\"from\\":\\"$ME\\",\\"to\\":\\"ccwhitebee\\",\\"body\\":\\"hi\\"}"
`,
  pullUnread: `# pull unread for me
curl -s -u "$BUS_USER:$BUS_PASS" "$BUS_URL/messages?to=$ME&unread_by=$ME"
`,
  ack: `# ack
curl -s -u "$BUS_USER:$BUS_PASS" -X POST "$BUS_URL/ack/<id>" \\
  -H "Content-Type: application/json" -d "{\\"reader\\":\\"$ME\\"}"
`,
  health: `# health
curl -s -u "$BUS_USER:$BUS_PASS" "$BUS_URL/health"
`,
};
