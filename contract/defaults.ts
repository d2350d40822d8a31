/**
 * Every default and limit the parts of claude-bus share, each a named constant with its unit.
 * The service, the client, the host steps and the Pulumi program all read them from here.
 */

/** Bytes in a mebibyte: sizes configured in MiB are this many bytes each. */
export const MIB = 1024 * 1024;

/** TCP port the bus service listens on (loopback behind nginx on the host). */
export const DEFAULT_PORT = 8787;
/** The unauthenticated liveness route (an uptime check's target): `200 {"ok":true}`, answered by the service itself. */
export const LIVE_PATH = "/live";
/** Interface `claude-bus serve` binds when none is given. */
export const DEFAULT_HOST = "127.0.0.1";
/** Data directory of a local `claude-bus serve` (the host passes its own). */
export const DEFAULT_DATA_DIR = "./data";
/** HTTP Basic-auth user of the team credential (the seed's single user). */
export const DEFAULT_BUS_USER = "claude";
/** Host label under the domain: the bus answers at https://<subdomain>.<domain>. */
export const DEFAULT_SUBDOMAIN = "claude-bus";
/** The client's credentials file, relative to the home directory. */
export const ENV_FILE_IN_HOME = ".secrets/claude-bus.env";
/** The backup bucket's env file (the stack's backupEnv output), relative to the home directory. */
export const BACKUP_ENV_FILE_IN_HOME = ".secrets/claude-bus-backup.env";
/** The credentials file a local `serve` writes into its data dir when it generated the password. */
export const LOCAL_ENV_FILE_NAME = "claude-bus.env";
/** Shortest credential the attachment guard looks for in a file's bytes, in characters: a shorter one would match ordinary text. */
export const MIN_SCANNED_SECRET_CHARS = 8;

/** The `to` of a broadcast: every machine reads it. */
export const BROADCAST = "any";
/** Longest message body, in bytes of UTF-8 (64 KiB). */
export const MAX_BODY_BYTES = 65_536;
/** Most tags on one message, and the longest tag, in characters. */
export const MAX_TAGS = 16;
export const MAX_TAG_CHARS = 32;

/**
 * Largest request body, in bytes. A valid 64 KiB message can take far more JSON than 64 KiB: a
 * control byte escaped as \u00XX is 6 bytes, so 512 KiB admits any encoding of a maximal message
 * plus its fields; the decoded body is then checked against MAX_BODY_BYTES itself.
 */
export const MAX_REQUEST_BYTES = 512 * 1024;
/**
 * nginx's client_max_body_size above MAX_REQUEST_BYTES, in KiB: a little headroom so a request the
 * service would refuse gets the service's own 413 (which says what the limit is), not nginx's.
 */
export const NGINX_BODY_MARGIN_KIB = 8;
export const DEFAULT_NGINX_MAX_BODY_KIB = MAX_REQUEST_BYTES / 1024 + NGINX_BODY_MARGIN_KIB;
/** The same headroom for uploads (nginx's limit on /files), in MiB above the largest file. */
export const NGINX_FILE_MARGIN_MIB = 1;

/** Messages per GET /messages page when `limit` is absent, and the most a page holds. */
export const DEFAULT_PAGE_LIMIT = 50;
export const MAX_PAGE_LIMIT = 500;
/**
 * Bytes of messages (as JSON) one GET /messages answer holds at most, whatever `limit` says; the first
 * message always goes whole (at most ~400 KiB: a 64 KiB body escaped as \u00XX). `more` tells the
 * client to continue from the last id.
 */
export const MAX_PAGE_BYTES = 1024 * 1024;

/** The longest a GET /messages may wait for a message (`wait=N`), in seconds; nginx waits longer. */
export const MAX_WAIT_SECONDS = 60;
/**
 * How long the service keeps an idle keep-alive connection before closing it, in seconds. nginx lets its
 * idle connections to the service go sooner (NGINX_UPSTREAM_KEEPALIVE_SECONDS): were it the other way
 * round, nginx could send a request on a connection the service is closing, and answer it 502.
 */
export const SERVICE_KEEP_ALIVE_SECONDS = 5;
export const NGINX_UPSTREAM_KEEPALIVE_SECONDS = SERVICE_KEEP_ALIVE_SECONDS - 2;
/** Ids one POST /ack may name. */
export const MAX_ACK_BATCH = 500;
/** How long a post's Idempotency-Key is remembered, in hours. */
export const IDEMPOTENCY_WINDOW_HOURS = 24;

/** How long an invite code works unless the inviter says otherwise, and the limits of what it may say, in seconds. */
export const DEFAULT_INVITE_SECONDS = 3_600;
export const MIN_INVITE_SECONDS = 60;
export const MAX_INVITE_SECONDS = 7 * 86_400;
/** Failed logins (or invite codes) one client address may make in a window before it gets 429s for a while. */
export const AUTH_FAILURES_ALLOWED = 10;
export const AUTH_FAILURE_WINDOW_SECONDS = 60;
export const AUTH_BLOCK_SECONDS = 300;
/** Client addresses whose failures are remembered at once; the oldest are forgotten beyond it. */
export const MAX_TRACKED_ADDRESSES = 10_000;
/** Length of a machine's own secret, in characters (~190 bits). */
export const MACHINE_SECRET_LENGTH = 32;
/** Machines a bus enrolls (revoked ones count until re-enrolled), and invites pending at once. */
export const MAX_MACHINES = 1_000;
export const MAX_PENDING_INVITES = 100;

/** Attachments: the largest file the bus takes by default, in bytes (100 MiB; host and stack config `maxFileMiB`). */
export const DEFAULT_MAX_FILE_MIB = 100;
/** The file quota when none is configured: this share of the size of the data dir's filesystem (stored files and partial uploads). */
export const DEFAULT_FILE_QUOTA_SHARE = 0.5;
/**
 * Days a file is kept after its last upload, and after the last message that attaches it; also the
 * default age of the scp drop dir's files (host config `fileMaxAgeDays`, unless `sharedDir.maxAgeDays`).
 */
export const DEFAULT_FILE_MAX_AGE_DAYS = 14;
/** Files the bus holds at once, stored and partial uploads together. */
export const MAX_STORED_FILES = 10_000;
/** Hours a partial upload waits for its next part before it is deleted. */
export const PARTIAL_UPLOAD_HOURS = 24;
/** Attachments on one message, and the longest attachment name, in bytes of UTF-8 (as most file systems). */
export const MAX_ATTACHMENTS = 20;
export const MAX_FILE_NAME_BYTES = 255;
/**
 * Each uploader's own share (a machine's credential, or the team credential's), so one credential cannot
 * fill what all the others need: its overflow is answered to it alone. Files it holds, stored and
 * partial (a tenth of MAX_STORED_FILES: about 70 new files a day for the whole file age); bytes, as this
 * share of the file quota (a quarter: three others still have room); partial uploads open at once (one
 * message's worth of attachments interrupted together). Serve flags, host and stack config
 * `uploaderMaxFiles`, `uploaderQuotaMiB`, `uploaderMaxPartials`.
 */
export const DEFAULT_UPLOADER_MAX_FILES = 1_000;
export const DEFAULT_UPLOADER_QUOTA_SHARE = 0.25;
export const DEFAULT_UPLOADER_MAX_PARTIALS = MAX_ATTACHMENTS;
/**
 * Long-polls (GET /messages?wait=N) one credential holds at once: a machine's, or the team credential's
 * from one client address (every machine without its own credential shares it). Each open session's
 * watch holds one; beyond, 429 with Retry-After. Serve flag, host and stack config `maxLongPolls`.
 */
export const DEFAULT_MAX_LONG_POLLS = 32;
/** How long an upload's body may send nothing before the upload is cut off (a partial upload keeps what arrived), in seconds. */
export const UPLOAD_IDLE_SECONDS = 60;

/** Length of a generated bus password, in characters (~166 bits from 62 symbols). */
export const GENERATED_PASSWORD_LENGTH = 28;

/**
 * The service's memory ceiling on the host (systemd MemoryMax), in MiB: half the default 1 GiB droplet,
 * so an overload ends the bus (which systemd restarts), never nginx or sshd. MemoryHigh, where the
 * kernel starts reclaiming, is 80% of it.
 */
export const DEFAULT_SERVICE_MEMORY_MIB = 512;

/** nginx's per-client-address rate limit: requests per second, and the burst allowed above it. */
export const DEFAULT_RATE_LIMIT = { perSecond: 20, burst: 100 } as const;

/**
 * Scheduled off-host backups (host and stack config `backups`): how many the bucket keeps (older ones
 * are deleted after each upload), the UTC hour the daily job runs, and the range both may be set to.
 */
export const DEFAULT_BACKUP_KEEP = 14;
export const DEFAULT_BACKUP_HOUR_UTC = 3;
export const BACKUP_KEEP_RANGE = { min: 1, max: 1_000 } as const;

/**
 * Browser sessions (the web app): how long one lasts from sign-in, in seconds (the cookie's Max-Age;
 * no sliding renewal), and how many one name holds at once (signing in once more ends its oldest).
 */
export const SESSION_SECONDS = 7 * 86_400;
export const MAX_SESSIONS_PER_NAME = 20;
/** The session cookie's name. */
export const SESSION_COOKIE = "claude_bus_session";

/**
 * Full-text search (GET /messages?q=...): messages one request reads at most, newest first, and their
 * bytes at most (whichever ends first; `more` and `before` say where to go on), so a search costs the
 * same however large the store. The query's length in characters and its words.
 */
export const SEARCH_SCAN_MESSAGES = 20_000;
export const SEARCH_SCAN_BYTES = 64 * MIB;
export const MAX_SEARCH_CHARS = 256;
export const MAX_SEARCH_WORDS = 16;

/**
 * Phone notifications through ntfy (PUT /settings/notify): the longest topic URL and access token, in
 * characters; the longest first line a "first-line" notification carries, in characters; notifications
 * waiting at once (new ones are dropped beyond, never a post); sent at once; how long one send may take,
 * in seconds; and the retries of one that failed (a network error, a 5xx or a 429): this many attempts
 * in all, the first retry after NOTIFY_RETRY_FIRST_SECONDS, each later one after twice the wait before,
 * at most NOTIFY_RETRY_MAX_SECONDS.
 */
export const NOTIFY_URL_MAX_CHARS = 512;
export const NOTIFY_TOKEN_MAX_CHARS = 256;
export const NOTIFY_FIRST_LINE_CHARS = 140;
export const NOTIFY_QUEUE_MAX = 1_000;
export const NOTIFY_CONCURRENCY = 4;
export const NOTIFY_TIMEOUT_SECONDS = 10;
export const NOTIFY_ATTEMPTS = 6;
export const NOTIFY_RETRY_FIRST_SECONDS = 2;
export const NOTIFY_RETRY_MAX_SECONDS = 300;

/**
 * Claims (POST /claims): a resource's name is 1 to MAX_CLAIM_RESOURCE_CHARS printable characters; a claim
 * lasts MIN_CLAIM_TTL_SECONDS to MAX_CLAIM_TTL_SECONDS (a day) unless renewed; a note is at most
 * MAX_CLAIM_NOTE_CHARS characters. The bus keeps at most MAX_LIVE_CLAIMS live claims, and one holder at most
 * MAX_CLAIMS_PER_HOLDER of them, so no one machine can take every slot.
 */
export const MAX_CLAIM_RESOURCE_CHARS = 512;
export const MIN_CLAIM_TTL_SECONDS = 5;
export const MAX_CLAIM_TTL_SECONDS = 86_400;
export const MAX_CLAIM_NOTE_CHARS = 1_024;
export const MAX_LIVE_CLAIMS = 10_000;
export const MAX_CLAIMS_PER_HOLDER = 1_000;
/** How long a claim lasts when the CLI or an MCP tool is not told, in seconds. */
export const DEFAULT_CLAIM_TTL_SECONDS = 1_800;
/** How long `claude-bus post --wait-read` and the MCP send tool wait for a receipt unless told, in seconds. */
export const DEFAULT_WAIT_READ_SECONDS = 600;
