/*
 * recorder.c: the session recording store.  One SQLite database in WAL
 * mode holds every session, its channels and every event of it, each
 * event chained to the previous one of its session by SHA-256 (see
 * recorder.h for the chain and the schema string below for the columns).
 *
 * Write side: the monitor is the single writer.  Events go into a batch
 * transaction that rec_flush() commits; per-session chain state (head
 * hash, next seq, counters) lives in memory, with a copy of its last
 * committed value so that a failed commit rolls memory back with the
 * database.  The session row's counters are written in the same
 * transaction as the events they count.
 *
 * Trust: the caller's facts (identity, target, detail objects) are
 * trusted and stored as given.  Nothing read back from the database is:
 * verification and crash recovery recompute the chain from the stored
 * bytes, and the read side treats every string as untrusted text for its
 * caller to sanitize before printing.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/evp.h>
#include <sqlite3.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "common/sealkey.h"
#include "recorder/checkpoint.h"
#include "recorder/recorder.h"

#define REC_SCHEMA_VERSION	5
#define REC_HASH_LEN		32
#define REC_CHAIN_TAG		"bastion-chain-v1"
#define REC_MAX_KIND		64
/* Largest single event; the relay hands over far smaller chunks. */
#define REC_MAX_EVENT_DATA	(16 * 1024 * 1024)
/*
 * A batch larger than this is committed at once, whatever the caller's
 * flush timer says: it bounds the WAL and what a power loss can take.
 */
#define REC_AUTOFLUSH_BYTES	(32 * 1024 * 1024)
#define REC_BUSY_TIMEOUT_MS	5000
/*
 * The WAL reset (checkpoint.h).  The checkpointer resets the WAL by
 * itself when it finds the writer lock free, from 128 MiB on; should that
 * fail for long (no pause between commits), the monitor asks for it once
 * the WAL holds this many frames (256 MiB of 32 KiB pages) and waits at
 * most REC_RESET_WAIT_MS.  When a reader kept the WAL in use or no answer
 * came in time, it asks again only after a back-off (250 ms doubling up
 * to 4 s).  The
 * automatic checkpoint, in the monitor itself, is only a backstop for a
 * checkpointer that is gone.
 */
#define REC_WAL_RESET_FRAMES	8192
#define REC_RESET_WAIT_MS	100
#define REC_RESET_BACKOFF_MIN_MS	250
#define REC_RESET_BACKOFF_MAX_MS	4000
#define REC_WAL_BACKSTOP_FRAMES	16384
#define REC_JSON_FLAGS	(JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

/*
 * The schema.  The comments stay in sqlite_master, so an auditor sees
 * them with `sqlite3 bastion.db .schema`.
 */
static const char rec_schema[] =
"CREATE TABLE sessions (\n"
"	-- One row per accepted TCP connection.  Times are microseconds since\n"
"	-- the Unix epoch (UTC).  Every fact below is also a chained event;\n"
"	-- `bastionctl verify` checks the two agree.\n"
"	id              INTEGER PRIMARY KEY, -- session id; part of the chain's genesis hash\n"
"	started_us      INTEGER NOT NULL,    -- connection accepted; part of the genesis hash\n"
"	ended_us        INTEGER,             -- session ended (NULL while live)\n"
"	client_addr     TEXT,                -- agent's IP address (event \"connect\")\n"
"	client_port     INTEGER,             -- agent's TCP port (event \"connect\")\n"
"	login           TEXT,                -- SSH user name the agent sent in its last auth attempt\n"
"	identity        TEXT,                -- configured identity that authenticated (accepted \"auth\")\n"
"	owner           TEXT,                -- human responsible for that identity\n"
"	key_type        TEXT,                -- public key algorithm, e.g. ssh-ed25519\n"
"	key_fingerprint TEXT,                -- SHA256:... of the agent's public key\n"
"	target          TEXT,                -- configured target name (event \"target\")\n"
"	target_user     TEXT,                -- user logged into on the target\n"
"	target_host     TEXT,                -- host name or address connected to\n"
"	target_port     INTEGER,             -- TCP port connected to\n"
"	end_reason      TEXT,                -- one word: closed, auth-failed, monitor-restart... (event \"end\")\n"
"	end_detail      TEXT,                -- free text about the end, or NULL\n"
"	event_count     INTEGER NOT NULL DEFAULT 0, -- number of rows in events for this session\n"
"	bytes_in        INTEGER NOT NULL DEFAULT 0, -- data bytes agent -> target (kind \"in\")\n"
"	bytes_out       INTEGER NOT NULL DEFAULT 0, -- data bytes target -> agent (kinds \"out\" and \"err\")\n"
"	final_hash      TEXT,                -- lowercase hex of the last event's hash, set when sealed\n"
"	sealed          INTEGER NOT NULL DEFAULT 0 -- 1 once ended and final_hash is set\n"
");\n"
"CREATE INDEX sessions_live ON sessions(id) WHERE ended_us IS NULL;\n"
"CREATE TABLE channels (\n"
"	-- SSH channels of a session, summarised from its metadata events.\n"
"	session_id  INTEGER NOT NULL REFERENCES sessions(id),\n"
"	channel     INTEGER NOT NULL,  -- channel number as seen by the bastion\n"
"	type        TEXT,              -- session, exec, shell, subsystem:NAME, direct-tcpip...\n"
"	command     TEXT,              -- command of an exec request\n"
"	term        TEXT,              -- TERM of a pty-req, NULL without a pty\n"
"	cols        INTEGER,           -- terminal width at pty-req\n"
"	rows        INTEGER,           -- terminal height at pty-req\n"
"	opened_us   INTEGER,           -- channel opened, microseconds since the epoch\n"
"	closed_us   INTEGER,           -- channel closed, microseconds since the epoch\n"
"	exit_status INTEGER,           -- exit-status reported by the target\n"
"	exit_signal TEXT,              -- exit-signal name reported by the target (TERM, KILL...)\n"
"	PRIMARY KEY (session_id, channel)\n"
");\n"
"CREATE TABLE events (\n"
"	-- Everything that happened in a session, in order, hash-chained:\n"
"	-- h[0] = SHA256(\"bastion-chain-v1\" || be64(session_id) || be64(started_us))\n"
"	-- h[n] = SHA256(h[n-1] || be64(seq) || be64(t_us) || be32(channel)\n"
"	--               || be32(len(kind)) || kind || be64(len(data)) || data)\n"
"	session_id INTEGER NOT NULL REFERENCES sessions(id),\n"
"	seq        INTEGER NOT NULL, -- 1, 2, 3... within the session, no gaps\n"
"	t_us       INTEGER NOT NULL, -- microseconds since the session's started_us, never decreasing\n"
"	channel    INTEGER NOT NULL, -- SSH channel number, -1 for session-level events\n"
"	kind       TEXT NOT NULL,    -- in, out, err (data); connect, auth, target, channel-open,\n"
"	                             -- request, eof, exit-status, exit-signal, channel-close,\n"
"	                             -- upstream, error, approval, end... (metadata)\n"
"	data       BLOB,             -- raw bytes for data kinds; the JSON detail text otherwise\n"
"	hash       BLOB NOT NULL,    -- h[seq], 32 bytes\n"
"	PRIMARY KEY (session_id, seq)\n"
");\n";

/*
 * Version 2: approval requests (a command held for human approval) and
 * the approvers' votes.  A version-1 database gets these in place.
 */
static const char rec_schema_v2[] =
"CREATE TABLE approval_requests (\n"
"	-- One exact command text held for approval in one session and channel.\n"
"	-- While the session is live every change is also a chained \"approval\"\n"
"	-- event of it ({\"request\":id,\"event\":\"created\"|\"vote\"|\"finished\"|\"used\"}).\n"
"	-- Times are microseconds since the Unix epoch (UTC).\n"
"	id              INTEGER PRIMARY KEY, -- request id, as approvers name it\n"
"	session_id      INTEGER NOT NULL REFERENCES sessions(id), -- session that asked\n"
"	channel         INTEGER NOT NULL,    -- SSH channel of the exec request\n"
"	identity        TEXT,                -- agent identity that asked\n"
"	owner           TEXT,                -- human responsible for that identity\n"
"	target          TEXT,                -- configured target name\n"
"	target_user     TEXT,                -- user on the target\n"
"	command         TEXT NOT NULL,       -- exact command text (what runs if approved)\n"
"	command_sha256  TEXT NOT NULL,       -- lowercase hex SHA-256 of command\n"
"	rule            TEXT,                -- policy rule that held it\n"
"	reason          TEXT,                -- why it is held (the rule's reason line)\n"
"	groups          TEXT NOT NULL DEFAULT '', -- approver groups needed, space separated; '' = any\n"
"	count           INTEGER NOT NULL,    -- distinct approvals needed\n"
"	timeout         INTEGER NOT NULL,    -- seconds to decide; also the validity of an approval\n"
"	deferred        INTEGER NOT NULL DEFAULT 0, -- 1: the agent did not wait (BASTION_WAIT=0)\n"
"	analysis        TEXT,                -- the policy decision, JSON text\n"
"	status          TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending',\n"
"	                'approved', 'denied', 'expired', 'cancelled', 'used')),\n"
"	created_us      INTEGER NOT NULL,    -- request made\n"
"	expires_us      INTEGER NOT NULL,    -- created_us + timeout: undecided by then = expired\n"
"	decided_us      INTEGER,             -- left pending (approved, denied, expired...)\n"
"	decided_by      TEXT,                -- approver name(s), policy, expiry, monitor-restart, agent\n"
"	detail          TEXT,                -- free text about the decision\n"
"	valid_until_us  INTEGER,             -- approved: decided_us + timeout, the window for a deferred re-run\n"
"	used_by_session INTEGER REFERENCES sessions(id), -- session that ran it (deferred re-run)\n"
"	used_us         INTEGER              -- when that session used it; an approval is used once\n"
");\n"
"CREATE INDEX approval_requests_session ON approval_requests(session_id);\n"
"CREATE INDEX approval_requests_status ON approval_requests(status);\n"
"CREATE INDEX approval_requests_used ON approval_requests(used_by_session);\n"
"CREATE TABLE approval_votes (\n"
"	-- One vote per approver per request.\n"
"	request_id  INTEGER NOT NULL REFERENCES approval_requests(id),\n"
"	approver    TEXT NOT NULL,     -- approver name from the configuration\n"
"	vote        TEXT NOT NULL CHECK (vote IN ('approve', 'deny')),\n"
"	reason      TEXT,              -- what the approver wrote\n"
"	time_us     INTEGER NOT NULL,  -- vote recorded, microseconds since the epoch\n"
"	PRIMARY KEY (request_id, approver)\n"
");\n";

/*
 * Version 3: how the approval channels (Slack, Teams, webhooks) fared in
 * telling approvers about a request.  Operational state, not evidence:
 * it is not part of any hash chain.
 */
static const char rec_schema_v3[] =
"CREATE TABLE approval_notify (\n"
"	-- One row per request and notification channel, updated in place.\n"
"	request_id  INTEGER NOT NULL REFERENCES approval_requests(id),\n"
"	channel     TEXT NOT NULL,     -- slack, teams, webhook:N\n"
"	status      TEXT NOT NULL,     -- sending, retrying, ok, failed\n"
"	detail      TEXT,              -- last error, or what was delivered\n"
"	attempts    INTEGER NOT NULL DEFAULT 0, -- HTTP attempts so far\n"
"	updated_us  INTEGER NOT NULL,  -- microseconds since the epoch\n"
"	PRIMARY KEY (request_id, channel)\n"
");\n";

/*
 * Version 4: the Ed25519 signature of each seal, when the bastion has a
 * seal key (common/sealkey.h).
 */
static const char rec_schema_v4[] =
"ALTER TABLE sessions ADD COLUMN seal_signature TEXT;\n"
"	-- hex Ed25519 signature (config seal_key) of the text\n"
"	-- \"bastion-seal-v1 session=ID events=N final_hash=HEX\", set when\n"
"	-- sealed; NULL without a seal key\n"
"CREATE TABLE seal_keys (\n"
"	-- One row per seal key: from which session on it signs every seal.\n"
"	-- Sessions before that were sealed unsigned (or by another key).\n"
"	fingerprint   TEXT PRIMARY KEY, -- SHA256:... of the Ed25519 public key\n"
"	first_session INTEGER NOT NULL, -- sessions with this id or above are signed by it\n"
"	since_us      INTEGER NOT NULL, -- first use, microseconds since the epoch\n"
"	signature     TEXT NOT NULL     -- hex, by this key, of \"bastion-seal-key-v1\n"
"	                                -- first_session=N fingerprint=FP\"\n"
");\n";

/*
 * Version 5: each policy the monitor decided with, by version (the
 * SHA-256 that every recorded decision names as policy_sha256).
 */
static const char rec_schema_v5[] =
"CREATE TABLE policies (\n"
"	-- One row per policy version: loaded at start or on SIGHUP.  A\n"
"	-- decision event's policy_sha256 names the row it was made under;\n"
"	-- sha256 is the SHA-256 of text, so the row checks itself.\n"
"	sha256          TEXT PRIMARY KEY, -- lowercase hex of SHA-256(text)\n"
"	text            TEXT NOT NULL,    -- the policy's JSON (compact)\n"
"	source          TEXT NOT NULL,    -- the policy file, or the config file\n"
"	first_loaded_us INTEGER NOT NULL, -- first put in force, microseconds since the epoch\n"
"	last_loaded_us  INTEGER NOT NULL  -- last put in force (start or SIGHUP)\n"
");\n";

/* Schema steps: step i takes user_version i to i + 1. */
static const char *const rec_schema_steps[REC_SCHEMA_VERSION] = {
	rec_schema,
	rec_schema_v2,
	rec_schema_v3,
	rec_schema_v4,
	rec_schema_v5,
};

/* Cached prepared statements. */
enum rec_stmt {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_OP_BEGIN,
	ST_OP_RELEASE,
	ST_OP_ROLLBACK,
	ST_SESSION_INSERT,
	ST_EVENT_INSERT,
	ST_SESSION_COUNTERS,
	ST_SESSION_LOGIN,
	ST_SESSION_AUTH,
	ST_SESSION_TARGET,
	ST_SESSION_END,
	ST_SESSION_STATE,
	ST_SESSION_SEAL, ST_SEAL_SIGNATURE, ST_SEAL_KEY_GET, ST_SEAL_KEY_PUT,
	ST_SEAL_KEY_SIGNED, ST_MAX_SESSION, ST_POLICY_PUT, ST_POLICY_LOADED,
	ST_POLICY_LIST,
	ST_CHANNEL_ENSURE,
	ST_CHANNEL_UPDATE,
	ST_SNAP_BEGIN,
	ST_SNAP_END,
	ST_SESSION_ROW,
	ST_CHANNELS,
	ST_LOG,
	ST_REQ_INSERT,
	ST_REQ_STATE,
	ST_REQ_FINISH,
	ST_REQ_USE,
	ST_REQ_FIND,
	ST_REQ_STALE,
	ST_REQ_ROW,
	ST_REQ_LIST,
	ST_REQ_SESSION,
	ST_VOTE_INSERT,
	ST_VOTES,
	ST_NOTIFY_SET,
	ST_NOTIFY_GET,
	ST_TAIL,
	ST_MAX
};

#define LIST_COLUMNS \
	"s.id, s.started_us, s.ended_us, s.client_addr, s.client_port, " \
	"s.login, s.identity, s.owner, s.key_type, s.key_fingerprint, " \
	"s.target, s.target_user, s.target_host, s.target_port, " \
	"s.end_reason, s.end_detail, s.event_count, s.bytes_in, s.bytes_out, " \
	"s.final_hash, s.sealed, " \
	"(SELECT count(*) FROM channels c WHERE c.session_id = s.id), " \
	"(SELECT c.exit_status FROM channels c WHERE c.session_id = s.id " \
	"  ORDER BY c.opened_us DESC, c.channel DESC LIMIT 1), " \
	"(SELECT c.exit_signal FROM channels c WHERE c.session_id = s.id " \
	"  ORDER BY c.opened_us DESC, c.channel DESC LIMIT 1)"

#define REQ_COLUMNS \
	"id, session_id, channel, identity, owner, target, target_user, " \
	"command, command_sha256, rule, reason, groups, count, timeout, " \
	"deferred, analysis, status, created_us, expires_us, decided_us, " \
	"decided_by, detail, valid_until_us, used_by_session, used_us"

/* Column numbers of REQ_COLUMNS. */
enum {
	RC_ID, RC_SESSION, RC_CHANNEL, RC_IDENTITY, RC_OWNER, RC_TARGET,
	RC_TARGET_USER, RC_COMMAND, RC_SHA256, RC_RULE, RC_REASON, RC_GROUPS,
	RC_COUNT, RC_TIMEOUT, RC_DEFERRED, RC_ANALYSIS, RC_STATUS, RC_CREATED,
	RC_EXPIRES, RC_DECIDED, RC_DECIDED_BY, RC_DETAIL, RC_VALID_UNTIL,
	RC_USED_BY, RC_USED
};

/* Column numbers of LIST_COLUMNS. */
enum {
	LC_ID, LC_STARTED, LC_ENDED, LC_CLIENT_ADDR, LC_CLIENT_PORT,
	LC_LOGIN, LC_IDENTITY, LC_OWNER, LC_KEY_TYPE, LC_KEY_FP,
	LC_TARGET, LC_TARGET_USER, LC_TARGET_HOST, LC_TARGET_PORT,
	LC_END_REASON, LC_END_DETAIL, LC_EVENT_COUNT, LC_BYTES_IN, LC_BYTES_OUT,
	LC_FINAL_HASH, LC_SEALED, LC_NCHANNELS, LC_EXIT_STATUS, LC_EXIT_SIGNAL
};

static const char *const rec_sql[ST_MAX] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	/* One operation (event + row updates) inside the batch. */
	[ST_OP_BEGIN] = "SAVEPOINT rec_op",
	[ST_OP_RELEASE] = "RELEASE rec_op",
	[ST_OP_ROLLBACK] = "ROLLBACK TO rec_op",
	[ST_SESSION_INSERT] = "INSERT INTO sessions (started_us, client_addr, "
	    "client_port) VALUES (?, ?, ?)",
	[ST_EVENT_INSERT] = "INSERT INTO events (session_id, seq, t_us, "
	    "channel, kind, data, hash) VALUES (?, ?, ?, ?, ?, ?, ?)",
	[ST_SESSION_COUNTERS] = "UPDATE sessions SET event_count = ?, "
	    "bytes_in = ?, bytes_out = ? WHERE id = ?",
	[ST_SESSION_LOGIN] = "UPDATE sessions SET login = ? WHERE id = ?",
	[ST_SESSION_AUTH] = "UPDATE sessions SET login = ?, identity = ?, "
	    "owner = ?, key_type = ?, key_fingerprint = ? WHERE id = ?",
	[ST_SESSION_TARGET] = "UPDATE sessions SET target = ?, "
	    "target_user = ?, target_host = ?, target_port = ? WHERE id = ?",
	[ST_SESSION_END] = "UPDATE sessions SET ended_us = ?, end_reason = ?, "
	    "end_detail = ?, event_count = ?, bytes_in = ?, bytes_out = ?, "
	    "final_hash = ?, seal_signature = ?, sealed = 1 WHERE id = ?",
	[ST_SESSION_STATE] = "SELECT ended_us FROM sessions WHERE id = ?",
	[ST_SESSION_SEAL] = "SELECT final_hash, event_count, seal_signature "
	    "FROM sessions WHERE id = ? AND sealed = 1",
	[ST_SEAL_SIGNATURE] = "SELECT seal_signature FROM sessions WHERE id = ?",
	[ST_SEAL_KEY_GET] = "SELECT first_session, signature FROM seal_keys "
	    "WHERE fingerprint = ?",
	[ST_SEAL_KEY_PUT] = "INSERT INTO seal_keys (fingerprint, first_session, "
	    "since_us, signature) VALUES (?, ?, ?, ?)",
	[ST_SEAL_KEY_SIGNED] = "SELECT id, event_count, final_hash, "
	    "seal_signature FROM sessions WHERE sealed = 1 AND seal_signature "
	    "IS NOT NULL ORDER BY id",
	[ST_MAX_SESSION] = "SELECT coalesce(max(id), 0) FROM sessions",
	[ST_POLICY_PUT] = "INSERT OR IGNORE INTO policies (sha256, text, "
	    "source, first_loaded_us, last_loaded_us) VALUES (?, ?, ?, ?, ?)",
	[ST_POLICY_LOADED] = "UPDATE policies SET last_loaded_us = ?, "
	    "source = ? WHERE sha256 = ?",
	[ST_POLICY_LIST] = "SELECT sha256, text, source, first_loaded_us, "
	    "last_loaded_us FROM policies ORDER BY first_loaded_us, sha256",
	[ST_CHANNEL_ENSURE] = "INSERT OR IGNORE INTO channels (session_id, "
	    "channel) VALUES (?, ?)",
	/* NULL parameters leave a column alone; opened_us keeps its first value. */
	[ST_CHANNEL_UPDATE] = "UPDATE channels SET "
	    "type = coalesce(?1, type), command = coalesce(?2, command), "
	    "term = coalesce(?3, term), cols = coalesce(?4, cols), "
	    "rows = coalesce(?5, rows), opened_us = coalesce(opened_us, ?6), "
	    "closed_us = coalesce(?7, closed_us), "
	    "exit_status = coalesce(?8, exit_status), "
	    "exit_signal = coalesce(?9, exit_signal) "
	    "WHERE session_id = ?10 AND channel = ?11",
	/* A savepoint gives reads one snapshot, inside a batch or not. */
	[ST_SNAP_BEGIN] = "SAVEPOINT rec_snapshot",
	[ST_SNAP_END] = "RELEASE rec_snapshot",
	[ST_SESSION_ROW] = "SELECT " LIST_COLUMNS " FROM sessions s "
	    "WHERE s.id = ?",
	[ST_CHANNELS] = "SELECT channel, type, command, term, cols, rows, "
	    "opened_us, closed_us, exit_status, exit_signal FROM channels "
	    "WHERE session_id = ? ORDER BY channel",
	[ST_LOG] = "SELECT seq, t_us, channel, kind, data FROM events "
	    "WHERE session_id = ? AND kind NOT IN ('in', 'out', 'err') "
	    "ORDER BY seq",
	[ST_REQ_INSERT] = "INSERT INTO approval_requests (session_id, "
	    "channel, identity, owner, target, target_user, command, "
	    "command_sha256, rule, reason, groups, count, timeout, deferred, "
	    "analysis, status, created_us, expires_us) VALUES (?, ?, ?, ?, ?, "
	    "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)",
	[ST_REQ_STATE] = "SELECT session_id, channel, status, timeout, "
	    "deferred, valid_until_us, command_sha256 FROM approval_requests "
	    "WHERE id = ?",
	/* Only from pending: the status moves once. */
	[ST_REQ_FINISH] = "UPDATE approval_requests SET status = ?1, "
	    "decided_us = ?2, decided_by = ?3, detail = ?4, "
	    "valid_until_us = ?5 WHERE id = ?6 AND status = 'pending'",
	[ST_REQ_USE] = "UPDATE approval_requests SET status = 'used', "
	    "used_by_session = ?1, used_us = ?2 WHERE id = ?3 AND "
	    "status = 'approved' AND used_us IS NULL",
	[ST_REQ_FIND] = "SELECT id FROM approval_requests WHERE "
	    "status = 'approved' AND deferred = 1 AND used_us IS NULL AND "
	    "valid_until_us >= ?1 AND identity IS ?2 AND target IS ?3 AND "
	    "target_user IS ?4 AND command = ?5 "
	    "ORDER BY valid_until_us, id LIMIT 1",
	[ST_REQ_STALE] = "UPDATE approval_requests SET status = 'denied', "
	    "decided_us = ?1, decided_by = 'monitor-restart', detail = ?2 "
	    "WHERE status = 'pending'",
	[ST_REQ_ROW] = "SELECT " REQ_COLUMNS " FROM approval_requests "
	    "WHERE id = ?",
	/* ?1 NULL: every status. */
	[ST_REQ_LIST] = "SELECT " REQ_COLUMNS " FROM approval_requests "
	    "WHERE ?1 IS NULL OR status = ?1 ORDER BY id DESC",
	[ST_REQ_SESSION] = "SELECT " REQ_COLUMNS " FROM approval_requests "
	    "WHERE session_id = ?1 OR used_by_session = ?1 ORDER BY id",
	[ST_VOTE_INSERT] = "INSERT INTO approval_votes (request_id, approver, "
	    "vote, reason, time_us) VALUES (?, ?, ?, ?, ?)",
	[ST_VOTES] = "SELECT approver, vote, reason, time_us FROM "
	    "approval_votes WHERE request_id = ? ORDER BY time_us, rowid",
	[ST_NOTIFY_SET] = "INSERT INTO approval_notify (request_id, channel, "
	    "status, detail, attempts, updated_us) VALUES (?1, ?2, ?3, ?4, ?5, "
	    "?6) ON CONFLICT (request_id, channel) DO UPDATE SET status = ?3, "
	    "detail = ?4, attempts = ?5, updated_us = ?6",
	[ST_NOTIFY_GET] = "SELECT channel, status, detail, attempts, "
	    "updated_us FROM approval_notify WHERE request_id = ? "
	    "ORDER BY channel",
	/* Newest first; the caller reverses. */
	[ST_TAIL] = "SELECT data FROM events WHERE session_id = ?1 AND "
	    "kind IN ('out', 'err') ORDER BY seq DESC LIMIT ?2",
};

/* Chain position of a session. */
struct chain_state {
	int64_t	seq;		/* last seq appended (0: none) */
	int64_t	last_t;		/* t_us of the last event */
	int64_t	nevents;
	int64_t	bytes_in;
	int64_t	bytes_out;
	uint8_t	head[REC_HASH_LEN];
};

/* A session this process is writing. */
struct live {
	int64_t			sid;
	int64_t			started_us;
	struct chain_state	cur;		/* including the open batch */
	struct chain_state	saved;		/* as last committed */
	int			dirty;		/* counters changed in this batch */
	int			uncommitted;	/* row not committed yet */
};

struct rec {
	sqlite3		*db;
	char		*path;
	int		 readonly;
	int		 version;	/* schema version (read-only: may be 1) */
	int		 in_txn;
	int		 batch_lost;	/* rolled back; next flush reports it */
	size_t		 pending_events;
	size_t		 pending_bytes;
	sqlite3_stmt	*st[ST_MAX];
	EVP_MD		*sha256;
	struct sealkey	*seal;		/* signs seals (writer) or checks them */
	int64_t		 seal_first;	/* its seal_keys.first_session; 0: all */
	int		 seal_first_known;
	struct rec_busy_wait busy;	/* for the checkpointer's WAL reset */
	int		 ckpt_fd;	/* the checkpointer's socket, or -1 */
	int		 wal_frames;	/* WAL frames after the last commit */
	int		 reset_backoff_ms;
	int64_t		 reset_after;	/* no reset request before this */
	EVP_MD_CTX	*md;
	struct live	*live;
	size_t		 nlive;
	size_t		 live_cap;
};

/* What walking a session's stored events found. */
struct walk {
	struct chain_state	 st;
	int64_t			 bad_seq;	/* first problem (0: none) */
	char			*problem;	/* "event N: ..." */
	int64_t			 end_seq;	/* seq of the "end" event, 0 if none */
	int64_t			 end_t;
	struct json_object	*connect;	/* chained facts, parsed */
	struct json_object	*auth;		/* last accepted auth */
	struct json_object	*auth_any;	/* last auth attempt */
	struct json_object	*target;	/* last target */
	struct json_object	*end;
};

/* Memory to restore when one operation is undone. */
struct op_saved {
	struct chain_state	cur;
	int			dirty;
	size_t			pending_events;
	size_t			pending_bytes;
};

/* ---- small helpers ---- */

static void
put_be64(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

static int
streq_null(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/* "2024-05-01T12:00:00.123456Z" into buf (at least 32 bytes). */
static void
fmt_iso(int64_t us, char *buf, size_t sz)
{
	time_t sec;
	long frac;
	struct tm tm;

	sec = (time_t)(us / 1000000);
	frac = (long)(us % 1000000);
	if (frac < 0) {
		frac += 1000000;
		sec--;
	}
	if (gmtime_r(&sec, &tm) == NULL) {
		snprintf(buf, sz, "@%" PRId64, us);
		return;
	}
	snprintf(buf, sz, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, frac);
}

static struct json_object *
json_str_or_null(const char *s)
{
	return s == NULL ? NULL : json_object_new_string(s);
}

static struct json_object *
json_iso_or_null(int64_t us, int isnull)
{
	char buf[64];

	if (isnull)
		return NULL;
	fmt_iso(us, buf, sizeof(buf));
	return json_object_new_string(buf);
}

/* Column as JSON: NULL, integer, or text. */
static struct json_object *
col_json(sqlite3_stmt *s, int i)
{
	switch (sqlite3_column_type(s, i)) {
	case SQLITE_NULL:
		return NULL;
	case SQLITE_INTEGER:
		return json_object_new_int64(sqlite3_column_int64(s, i));
	case SQLITE_FLOAT:
		return json_object_new_double(sqlite3_column_double(s, i));
	default:
		return json_object_new_string_len(
		    (const char *)sqlite3_column_text(s, i),
		    sqlite3_column_bytes(s, i));
	}
}

static const char *
col_text(sqlite3_stmt *s, int i)
{
	return (const char *)sqlite3_column_text(s, i);
}

static int
col_null(sqlite3_stmt *s, int i)
{
	return sqlite3_column_type(s, i) == SQLITE_NULL;
}

/* A string member of a JSON object, or NULL. */
static const char *
jget_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (o == NULL || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* An integer member; returns 0 and sets *out when present. */
static int
jget_int(struct json_object *o, const char *key, int64_t *out)
{
	struct json_object *v;

	if (o == NULL || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_int))
		return -1;
	*out = json_object_get_int64(v);
	return 0;
}

/* A boolean member; dflt when absent or not a boolean. */
static int
jget_bool(struct json_object *o, const char *key, int dflt)
{
	struct json_object *v;

	if (o == NULL || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_boolean))
		return dflt;
	return json_object_get_boolean(v);
}

static void
set_cause(char **cause, const char *fmt, ...)
{
	va_list ap;
	char *s;

	if (cause == NULL)
		return;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		fatal("out of memory");
	va_end(ap);
	free(*cause);
	*cause = s;
}

/* ---- statements and transactions ---- */

static sqlite3_stmt *
stmt(struct rec *rec, enum rec_stmt id)
{
	if (rec->st[id] != NULL)
		return rec->st[id];
	if (sqlite3_prepare_v3(rec->db, rec_sql[id], -1,
	    SQLITE_PREPARE_PERSISTENT, &rec->st[id], NULL) != SQLITE_OK) {
		log_error("recorder: %s: preparing statement %d: %s",
		    rec->path, (int)id, sqlite3_errmsg(rec->db));
		rec->st[id] = NULL;
	}
	return rec->st[id];
}

static void
st_done(sqlite3_stmt *s)
{
	if (s == NULL)
		return;
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
}

static void
bind_text_or_null(sqlite3_stmt *s, int i, const char *v)
{
	if (v == NULL)
		sqlite3_bind_null(s, i);
	else
		sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
}

static struct live *
live_find(struct rec *rec, int64_t sid)
{
	size_t i;

	for (i = 0; i < rec->nlive; i++)
		if (rec->live[i].sid == sid)
			return &rec->live[i];
	return NULL;
}

static struct live *
live_add(struct rec *rec, int64_t sid, int64_t started_us)
{
	struct live *l;

	if (rec->nlive == rec->live_cap) {
		rec->live_cap = rec->live_cap ? rec->live_cap * 2 : 16;
		rec->live = xrealloc(rec->live,
		    rec->live_cap * sizeof(*rec->live));
	}
	l = &rec->live[rec->nlive++];
	memset(l, 0, sizeof(*l));
	l->sid = sid;
	l->started_us = started_us;
	return l;
}

static void
live_remove(struct rec *rec, struct live *l)
{
	size_t i = (size_t)(l - rec->live);

	rec->live[i] = rec->live[--rec->nlive];
}

/*
 * The database rolled the batch back: so does memory.  The pending
 * counters stay and the next rec_flush() fails, so that a caller who
 * acknowledges events after a successful flush never acknowledges these.
 */
static void
batch_forget(struct rec *rec)
{
	size_t i = 0;

	while (i < rec->nlive) {
		struct live *l = &rec->live[i];

		if (l->uncommitted) {
			live_remove(rec, l);
			continue;
		}
		l->cur = l->saved;
		l->dirty = 0;
		i++;
	}
	rec->in_txn = 0;
	if (rec->pending_events > 0)
		rec->batch_lost = 1;
}

/*
 * Logs a failed SQLite call and returns BST_ERR_DB.  Some errors (full
 * disk, I/O, out of memory) make SQLite roll the whole transaction back;
 * the in-memory chain state follows.
 */
static int
db_fail(struct rec *rec, const char *what)
{
	log_error("recorder: %s: %s: %s (%d)", rec->path, what,
	    sqlite3_errmsg(rec->db), sqlite3_extended_errcode(rec->db));
	if (rec->in_txn && sqlite3_get_autocommit(rec->db)) {
		log_error("recorder: %s: SQLite rolled back the batch of %zu "
		    "events", rec->path, rec->pending_events);
		batch_forget(rec);
	}
	return BST_ERR_DB;
}

/* Steps a bound statement that returns no rows and resets it. */
static int
step_done(struct rec *rec, sqlite3_stmt *s, const char *what)
{
	int rc = sqlite3_step(s);

	st_done(s);
	return rc == SQLITE_DONE ? 0 : db_fail(rec, what);
}

/* step_done() for an UPDATE that must change exactly request id's row. */
static int
step_one_request(struct rec *rec, sqlite3_stmt *s, const char *what,
    int64_t id)
{
	int r;

	if ((r = step_done(rec, s, what)) != 0)
		return r;
	if (sqlite3_changes(rec->db) != 1) {
		log_error("recorder: request %" PRId64 " changed under us", id);
		return BST_ERR_INTERNAL;
	}
	return 0;
}

/* Runs a cached statement that returns no rows. */
static int
exec_stmt(struct rec *rec, enum rec_stmt id, const char *what)
{
	sqlite3_stmt *s;
	int rc;

	if ((s = stmt(rec, id)) == NULL)
		return BST_ERR_DB;
	rc = sqlite3_step(s);
	st_done(s);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return db_fail(rec, what);
	return 0;
}

static int
batch_begin(struct rec *rec)
{
	int r;

	if (rec->readonly) {
		log_error("recorder: %s: write on a read-only handle",
		    rec->path);
		return BST_ERR_INTERNAL;
	}
	if (rec->in_txn)
		return 0;
	if ((r = exec_stmt(rec, ST_BEGIN, "BEGIN")) != 0)
		return r;
	rec->in_txn = 1;
	return 0;
}

/*
 * One operation (an event plus the row updates that go with it) runs in
 * a savepoint inside the batch, so that a failure half way undoes it
 * alone, in the database and in memory, and the rest of the batch stays.
 */
static int
op_begin(struct rec *rec, const struct live *l, struct op_saved *saved)
{
	int r;

	memset(saved, 0, sizeof(*saved));
	if (l != NULL) {
		saved->cur = l->cur;
		saved->dirty = l->dirty;
	}
	saved->pending_events = rec->pending_events;
	saved->pending_bytes = rec->pending_bytes;
	if ((r = batch_begin(rec)) != 0)
		return r;
	return exec_stmt(rec, ST_OP_BEGIN, "SAVEPOINT");
}

static int
op_release(struct rec *rec)
{
	return exec_stmt(rec, ST_OP_RELEASE, "RELEASE");
}

/* Undoes the operation on session sid (its memory by sid: l may move). */
static void
op_abort(struct rec *rec, int64_t sid, const struct op_saved *saved)
{
	struct live *l;

	if (!rec->in_txn)
		return;		/* the whole batch went; memory followed */
	if (exec_stmt(rec, ST_OP_ROLLBACK, "ROLLBACK TO") != 0 ||
	    exec_stmt(rec, ST_OP_RELEASE, "RELEASE") != 0) {
		if (rec->in_txn) {
			sqlite3_exec(rec->db, "ROLLBACK", NULL, NULL, NULL);
			batch_forget(rec);
		}
		return;
	}
	if ((l = live_find(rec, sid)) != NULL) {
		l->cur = saved->cur;
		l->dirty = saved->dirty;
	}
	rec->pending_events = saved->pending_events;
	rec->pending_bytes = saved->pending_bytes;
}

/* ---- the hash chain ---- */

static int
chain_genesis(struct rec *rec, int64_t sid, int64_t started_us,
    uint8_t out[REC_HASH_LEN])
{
	uint8_t buf[sizeof(REC_CHAIN_TAG) - 1 + 16];
	unsigned int len = 0;

	memcpy(buf, REC_CHAIN_TAG, sizeof(REC_CHAIN_TAG) - 1);
	put_be64(buf + sizeof(REC_CHAIN_TAG) - 1, (uint64_t)sid);
	put_be64(buf + sizeof(REC_CHAIN_TAG) - 1 + 8, (uint64_t)started_us);
	if (EVP_DigestInit_ex(rec->md, rec->sha256, NULL) != 1 ||
	    EVP_DigestUpdate(rec->md, buf, sizeof(buf)) != 1 ||
	    EVP_DigestFinal_ex(rec->md, out, &len) != 1 ||
	    len != REC_HASH_LEN) {
		log_error("recorder: SHA-256 failed");
		return BST_ERR_INTERNAL;
	}
	return 0;
}

static int
chain_next(struct rec *rec, const uint8_t prev[REC_HASH_LEN], int64_t seq,
    int64_t t_us, int32_t channel, const char *kind, size_t klen,
    const void *data, size_t len, uint8_t out[REC_HASH_LEN])
{
	uint8_t hdr[8 + 8 + 4 + 4], dlen[8];
	unsigned int olen = 0;

	put_be64(hdr, (uint64_t)seq);
	put_be64(hdr + 8, (uint64_t)t_us);
	put_be32(hdr + 16, (uint32_t)channel);
	put_be32(hdr + 20, (uint32_t)klen);
	put_be64(dlen, (uint64_t)len);
	if (EVP_DigestInit_ex(rec->md, rec->sha256, NULL) != 1 ||
	    EVP_DigestUpdate(rec->md, prev, REC_HASH_LEN) != 1 ||
	    EVP_DigestUpdate(rec->md, hdr, sizeof(hdr)) != 1 ||
	    EVP_DigestUpdate(rec->md, kind, klen) != 1 ||
	    EVP_DigestUpdate(rec->md, dlen, sizeof(dlen)) != 1 ||
	    (len > 0 && EVP_DigestUpdate(rec->md, data, len) != 1) ||
	    EVP_DigestFinal_ex(rec->md, out, &olen) != 1 ||
	    olen != REC_HASH_LEN) {
		log_error("recorder: SHA-256 failed");
		return BST_ERR_INTERNAL;
	}
	return 0;
}

/*
 * Appends one event to the open batch (opening it if needed).  is_text
 * stores data as TEXT (JSON details, so the sqlite3 CLI and json_extract
 * read them) rather than BLOB; the bytes hashed are the same.  *abs_us
 * (if not NULL) gets the event's absolute time.
 */
static int
append_event(struct rec *rec, struct live *l, int32_t channel,
    const char *kind, const void *data, size_t len, int is_text,
    int64_t *abs_us)
{
	struct chain_state next = l->cur;
	sqlite3_stmt *s;
	int64_t t;
	int r, rc;

	if (len > REC_MAX_EVENT_DATA) {
		log_error("recorder: session %" PRId64 ": %s event of %zu "
		    "bytes exceeds %d", l->sid, kind, len, REC_MAX_EVENT_DATA);
		return BST_ERR_TOOBIG;
	}
	if ((r = batch_begin(rec)) != 0)
		return r;
	t = now_real_us() - l->started_us;
	if (t < next.last_t)
		t = next.last_t;
	if (t < 0)
		t = 0;
	next.seq++;
	next.last_t = t;
	next.nevents++;
	if ((r = chain_next(rec, l->cur.head, next.seq, t, channel, kind,
	    strlen(kind), data, len, next.head)) != 0)
		return r;
	if ((s = stmt(rec, ST_EVENT_INSERT)) == NULL)
		return BST_ERR_DB;
	sqlite3_bind_int64(s, 1, l->sid);
	sqlite3_bind_int64(s, 2, next.seq);
	sqlite3_bind_int64(s, 3, t);
	sqlite3_bind_int(s, 4, channel);
	sqlite3_bind_text(s, 5, kind, -1, SQLITE_STATIC);
	if (is_text)
		sqlite3_bind_text64(s, 6, data ? (const char *)data : "",
		    len, SQLITE_STATIC, SQLITE_UTF8);
	else
		sqlite3_bind_blob64(s, 6, data ? data : "", len,
		    SQLITE_STATIC);
	sqlite3_bind_blob(s, 7, next.head, REC_HASH_LEN, SQLITE_STATIC);
	rc = sqlite3_step(s);
	st_done(s);
	if (rc != SQLITE_DONE)
		return db_fail(rec, "inserting event");
	l->cur = next;
	l->dirty = 1;
	rec->pending_events++;
	rec->pending_bytes += len;
	if (abs_us != NULL)
		*abs_us = l->started_us + t;
	return 0;
}

/* Appends a metadata event whose data is the JSON text of detail. */
static int
append_json(struct rec *rec, struct live *l, int32_t channel,
    const char *kind, struct json_object *detail, int64_t *abs_us)
{
	const char *text = "{}";
	size_t len = 2;

	if (detail != NULL) {
		text = json_object_to_json_string_length(detail,
		    REC_JSON_FLAGS, &len);
		if (text == NULL)
			return BST_ERR_NOMEM;
	}
	return append_event(rec, l, channel, kind, text, len, 1, abs_us);
}

static struct live *
live_get(struct rec *rec, int64_t sid, const char *what)
{
	struct live *l;

	if ((l = live_find(rec, sid)) == NULL)
		log_error("recorder: %s for session %" PRId64 ", which is "
		    "not live", what, sid);
	return l;
}

/* ---- opening ---- */

static int
pragma(struct rec *rec, const char *sql, char **cause)
{
	char *err = NULL;

	if (sqlite3_exec(rec->db, sql, NULL, NULL, &err) != SQLITE_OK) {
		set_cause(cause, "%s: %s: %s", rec->path, sql,
		    err ? err : sqlite3_errmsg(rec->db));
		sqlite3_free(err);
		return BST_ERR_DB;
	}
	return 0;
}

static int
user_version(struct rec *rec, int *out, char **cause)
{
	sqlite3_stmt *s = NULL;
	int rc;

	if (sqlite3_prepare_v2(rec->db, "PRAGMA user_version", -1, &s,
	    NULL) != SQLITE_OK || (rc = sqlite3_step(s)) != SQLITE_ROW) {
		set_cause(cause, "%s: %s", rec->path,
		    sqlite3_errmsg(rec->db));
		sqlite3_finalize(s);
		return BST_ERR_DB;
	}
	*out = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return 0;
}

static struct rec *
rec_new(const char *path, int readonly)
{
	struct rec *rec = xcalloc(1, sizeof(*rec));

	rec->path = xstrdup(path);
	rec->readonly = readonly;
	rec->ckpt_fd = -1;
	return rec;
}

/* Opens the connection, the digest and common settings. */
static int
rec_connect(struct rec *rec, int flags, char **cause)
{
	int rc;

	if ((rec->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL ||
	    (rec->md = EVP_MD_CTX_new()) == NULL) {
		set_cause(cause, "%s: cannot initialise SHA-256", rec->path);
		return BST_ERR_INTERNAL;
	}
	rc = sqlite3_open_v2(rec->path, &rec->db, flags | SQLITE_OPEN_NOMUTEX,
	    NULL);
	if (rc != SQLITE_OK) {
		set_cause(cause, "%s: %s", rec->path, rec->db ?
		    sqlite3_errmsg(rec->db) : sqlite3_errstr(rc));
		return BST_ERR_DB;
	}
	sqlite3_extended_result_codes(rec->db, 1);
	/*
	 * The checkpointer's WAL reset holds the writer lock for a few
	 * milliseconds: retry every 100 us at first, for at most
	 * REC_BUSY_TIMEOUT_MS.
	 */
	rec->busy.limit_us = (int64_t)REC_BUSY_TIMEOUT_MS * 1000;
	rec->busy.fast_tries = 100;
	sqlite3_busy_handler(rec->db, rec_busy_wait, &rec->busy);
	return 0;
}

/*
 * Creates the schema (from 0) or brings an older one up to date in
 * place, in one transaction: a failure leaves the database as it was.
 */
static int
migrate_schema(struct rec *rec, int from, char **cause)
{
	char sql[64];
	int r, v;

	if ((r = pragma(rec, "BEGIN IMMEDIATE", cause)) != 0)
		return r;
	for (v = from; v < REC_SCHEMA_VERSION; v++)
		if ((r = pragma(rec, rec_schema_steps[v], cause)) != 0)
			goto fail;
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d",
	    REC_SCHEMA_VERSION);
	if ((r = pragma(rec, sql, cause)) != 0)
		goto fail;
	if (from > 0)
		log_info("recorder: %s: schema version %d upgraded to %d",
		    rec->path, from, REC_SCHEMA_VERSION);
	return pragma(rec, "COMMIT", cause);
 fail:
	sqlite3_exec(rec->db, "ROLLBACK", NULL, NULL, NULL);
	return r;
}

static void
walk_free(struct walk *w)
{
	free(w->problem);
	json_object_put(w->connect);
	json_object_put(w->auth);
	json_object_put(w->auth_any);
	json_object_put(w->target);
	json_object_put(w->end);
	memset(w, 0, sizeof(*w));
}

static void
walk_problem(struct walk *w, int64_t seq, const char *fmt, ...)
{
	va_list ap;
	char *s;

	if (w->bad_seq != 0)
		return;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		fatal("out of memory");
	va_end(ap);
	w->bad_seq = seq;
	w->problem = xasprintf("event %" PRId64 ": %s", seq, s);
	free(s);
}

/* Parses exactly len bytes of JSON; NULL if they are not one value. */
static struct json_object *
parse_json_len(const void *data, size_t len)
{
	struct json_tokener *tok;
	struct json_object *o;

	if (data == NULL || len == 0 || len > INT32_MAX ||
	    (tok = json_tokener_new()) == NULL)
		return NULL;
	o = json_tokener_parse_ex(tok, data, (int)len);
	if (o != NULL && json_tokener_get_parse_end(tok) != len) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

static void
walk_keep(struct json_object **slot, const void *data, size_t len)
{
	json_object_put(*slot);
	*slot = parse_json_len(data, len);
}

/*
 * Recomputes the chain of session sid over its stored events: every
 * stored hash, the seq numbering, the position of "end", and keeps the
 * chained facts verify compares with the session row.  Recomputation
 * continues past a problem (w->st.head is the hash of the stored
 * content).  Returns 0 or BST_ERR_DB; problems are in w, not the result.
 */
static int
walk_chain(struct rec *rec, int64_t sid, int64_t started_us, struct walk *w)
{
	static const char sql[] = "SELECT seq, t_us, channel, kind, data, "
	    "hash, typeof(data) FROM events WHERE session_id = ? ORDER BY seq";
	sqlite3_stmt *s = NULL;
	uint8_t h[REC_HASH_LEN];
	int r = BST_ERR_INTERNAL, rc;

	memset(w, 0, sizeof(*w));
	if ((r = chain_genesis(rec, sid, started_us, w->st.head)) != 0)
		return r;
	if (sqlite3_prepare_v2(rec->db, sql, -1, &s, NULL) != SQLITE_OK) {
		r = db_fail(rec, "reading events");
		goto out;
	}
	sqlite3_bind_int64(s, 1, sid);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int64_t seq = sqlite3_column_int64(s, 0);
		int64_t t = sqlite3_column_int64(s, 1);
		int32_t ch = sqlite3_column_int(s, 2);
		const char *kind = col_text(s, 3);
		size_t klen = (size_t)sqlite3_column_bytes(s, 3);
		const void *data = sqlite3_column_blob(s, 4);
		size_t len = (size_t)sqlite3_column_bytes(s, 4);
		const void *stored = sqlite3_column_blob(s, 5);
		int hlen = sqlite3_column_bytes(s, 5);

		if (kind == NULL) {
			kind = "";
			klen = 0;
		}
		if (seq != w->st.seq + 1)
			walk_problem(w, w->st.seq + 1, seq > w->st.seq + 1 ?
			    "missing" : "out of sequence");
		if (w->end_seq != 0)
			walk_problem(w, seq, "event after the end event");
		if (w->st.seq == 0 && strcmp(kind, "connect") != 0)
			walk_problem(w, seq, "first event is not \"connect\"");
		if (t < w->st.last_t)
			walk_problem(w, seq, "time goes backwards");
		if ((r = chain_next(rec, w->st.head, seq, t, ch, kind, klen,
		    data, len, h)) != 0)
			goto out;
		if (stored == NULL || hlen != REC_HASH_LEN ||
		    memcmp(stored, h, REC_HASH_LEN) != 0)
			walk_problem(w, seq, "hash mismatch");
		memcpy(w->st.head, h, REC_HASH_LEN);
		w->st.seq = seq;
		w->st.last_t = t;
		w->st.nevents++;
		if (strcmp(kind, "in") == 0)
			w->st.bytes_in += (int64_t)len;
		else if (strcmp(kind, "out") == 0 || strcmp(kind, "err") == 0)
			w->st.bytes_out += (int64_t)len;
		else if (strcmp(kind, "connect") == 0)
			walk_keep(&w->connect, data, len);
		else if (strcmp(kind, "auth") == 0) {
			walk_keep(&w->auth_any, data, len);
			if (jget_bool(w->auth_any, "accepted", 0))
				walk_keep(&w->auth, data, len);
		} else if (strcmp(kind, "target") == 0)
			walk_keep(&w->target, data, len);
		else if (strcmp(kind, "end") == 0) {
			walk_keep(&w->end, data, len);
			w->end_seq = seq;
			w->end_t = t;
		}
	}
	if (rc != SQLITE_DONE) {
		r = db_fail(rec, "reading events");
		goto out;
	}
	r = 0;
 out:
	sqlite3_finalize(s);
	return r;
}

/*
 * Ends and seals the sessions a previous monitor left open, recomputing
 * each chain head from what is stored.
 */
static int
recover_sessions(struct rec *rec)
{
	static const char sql[] = "SELECT id, started_us FROM sessions "
	    "WHERE ended_us IS NULL ORDER BY id";
	sqlite3_stmt *s = NULL;
	int64_t *ids = NULL, *starts = NULL;
	size_t n = 0, cap = 0, i;
	struct walk w;
	struct live *l;
	char *detail;
	int r = BST_ERR_INTERNAL, rc;

	memset(&w, 0, sizeof(w));
	if (sqlite3_prepare_v2(rec->db, sql, -1, &s, NULL) != SQLITE_OK) {
		r = db_fail(rec, "finding open sessions");
		goto out;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			ids = xrealloc(ids, cap * sizeof(*ids));
			starts = xrealloc(starts, cap * sizeof(*starts));
		}
		ids[n] = sqlite3_column_int64(s, 0);
		starts[n++] = sqlite3_column_int64(s, 1);
	}
	if (rc != SQLITE_DONE) {
		r = db_fail(rec, "finding open sessions");
		goto out;
	}
	sqlite3_finalize(s);
	s = NULL;
	for (i = 0; i < n; i++) {
		if ((r = walk_chain(rec, ids[i], starts[i], &w)) != 0)
			goto out;
		l = live_add(rec, ids[i], starts[i]);
		l->cur = l->saved = w.st;
		if (w.bad_seq != 0) {
			detail = xasprintf("chain broken at event %" PRId64,
			    w.bad_seq);
			log_warn("recorder: session %" PRId64 " left open by "
			    "a previous monitor; %s (%s)", ids[i], detail,
			    w.problem);
		} else {
			detail = xstrdup("left open by a previous monitor "
			    "process");
			log_warn("recorder: session %" PRId64 " left open by "
			    "a previous monitor; sealing it", ids[i]);
		}
		walk_free(&w);
		r = rec_session_end(rec, ids[i], "monitor-restart", detail);
		free(detail);
		if (r != 0)
			goto out;
	}
	r = 0;
 out:
	walk_free(&w);
	sqlite3_finalize(s);
	free(ids);
	free(starts);
	return r;
}

/*
 * From which session on rec->seal (fingerprint fp) signs: *first from its
 * seal_keys row if the row carries the key's own signature, else 0 (then
 * every sealed session must be signed; the monitor only writes rows from
 * session 1 on).  *row says whether there is a row at all.
 */
static int
seal_first_session(struct rec *rec, const char *fp, int64_t *first,
    int *row)
{
	char text[SEAL_TEXT_MAX];
	const char *sig;
	sqlite3_stmt *s;
	int rc, r = 0;

	*first = 0;
	*row = 0;
	if (rec->version < 4)
		return 0;
	if ((s = stmt(rec, ST_SEAL_KEY_GET)) == NULL)
		return BST_ERR_DB;
	sqlite3_bind_text(s, 1, fp, -1, SQLITE_TRANSIENT);
	if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		*row = 1;
		sig = (const char *)sqlite3_column_text(s, 1);
		*first = sqlite3_column_int64(s, 0);
		if (!sealkey_verify(rec->seal, text, seal_key_text(text,
		    sizeof(text), *first, fp), sig))
			*first = 0;
	} else if (rc != SQLITE_DONE)
		r = db_fail(rec, "reading seal_keys");
	st_done(s);
	return r;
}

/*
 * The writer's seal key gets its seal_keys row the first time it is used
 * on this database: it signs from the next session on.  A row that is
 * gone while sessions carry this key's signatures was removed by hand:
 * it is put back from the first of them on, and said so.  A row whose
 * signature is wrong is left as evidence (every seal is then checked).
 */
static int
seal_key_register(struct rec *rec)
{
	char fp[64], text[SEAL_TEXT_MAX], sig[SEAL_SIG_HEXLEN + 1];
	int64_t first = 0, id;
	sqlite3_stmt *s;
	int r, rc, row;

	sealkey_fingerprint(rec->seal, fp, sizeof(fp));
	if ((r = seal_first_session(rec, fp, &first, &row)) != 0)
		return r;
	if (row && first <= 0) {
		log_error("recorder: the seal_keys row of seal key %s does not "
		    "carry its signature (the database was edited): verify "
		    "checks every sealed session", fp);
		goto done;
	}
	if (row)
		goto done;
	/* No row: the first signed session, if any, says where it was. */
	if ((s = stmt(rec, ST_SEAL_KEY_SIGNED)) == NULL)
		return BST_ERR_DB;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		id = sqlite3_column_int64(s, 0);
		if (sealkey_verify(rec->seal, text, seal_text(text,
		    sizeof(text), id, sqlite3_column_int64(s, 1),
		    (const char *)sqlite3_column_text(s, 2)),
		    (const char *)sqlite3_column_text(s, 3))) {
			first = id;
			break;
		}
	}
	st_done(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_fail(rec, "reading signed sessions");
	if (first > 0)
		log_warn("recorder: seal key %s has no seal_keys row, yet "
		    "session %" PRId64 " carries its signature: the row was "
		    "removed; it is put back from that session on", fp, first);
	else {
		if ((s = stmt(rec, ST_MAX_SESSION)) == NULL)
			return BST_ERR_DB;
		if (sqlite3_step(s) == SQLITE_ROW)
			first = sqlite3_column_int64(s, 0) + 1;
		st_done(s);
		if (first <= 0)
			return db_fail(rec, "reading the last session id");
	}
	if (sealkey_sign(rec->seal, text, seal_key_text(text, sizeof(text),
	    first, fp), sig) != 0)
		return BST_ERR_INTERNAL;
	if ((s = stmt(rec, ST_SEAL_KEY_PUT)) == NULL)
		return BST_ERR_DB;
	sqlite3_bind_text(s, 1, fp, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 2, first);
	sqlite3_bind_int64(s, 3, now_real_us());
	sqlite3_bind_text(s, 4, sig, -1, SQLITE_TRANSIENT);
	if ((r = step_done(rec, s, "registering the seal key")) != 0)
		return r;
 done:
	rec->seal_first = first;
	rec->seal_first_known = 1;
	log_info("recorder: seal key %s signs the seals of sessions from %"
	    PRId64 " on", fp, first);
	return 0;
}

int
rec_open(const char *path, struct rec **out, char **cause)
{
	return rec_open_sealing(path, NULL, out, cause);
}

int
rec_open_sealing(const char *path, const char *seal_key, struct rec **out,
    char **cause)
{
	struct rec *rec = NULL;
	sqlite3_stmt *s = NULL;
	const char *why;
	int r = BST_ERR_INTERNAL, version, fd, persist = 1;

	*out = NULL;
	if (cause != NULL)
		*cause = NULL;
	rec = rec_new(path, 0);
	/* Before recover_sessions(): the seals it makes are signed too. */
	if (seal_key != NULL &&
	    (r = sealkey_load_private(seal_key, &rec->seal, &why)) != 0) {
		set_cause(cause, "%s: %s", seal_key, why);
		goto out;
	}
	/*
	 * Session recordings hold whatever was typed, secrets included:
	 * the file (and the -wal/-shm files SQLite gives the same mode)
	 * is readable by the owner and group (auditors) only.
	 */
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640)) < 0) {
		set_cause(cause, "%s: %s", path, strerror(errno));
		r = BST_ERR_IO;
		goto out;
	}
	close(fd);
	if ((r = rec_connect(rec, SQLITE_OPEN_READWRITE, cause)) != 0)
		goto out;
	/* page_size only matters before the first table exists. */
	if ((r = pragma(rec, "PRAGMA page_size = 32768", cause)) != 0)
		goto out;
	if (sqlite3_prepare_v2(rec->db, "PRAGMA journal_mode = WAL", -1, &s,
	    NULL) != SQLITE_OK || sqlite3_step(s) != SQLITE_ROW) {
		set_cause(cause, "%s: setting WAL mode: %s", path,
		    sqlite3_errmsg(rec->db));
		r = BST_ERR_DB;
		goto out;
	}
	if (strcmp(col_text(s, 0) ? col_text(s, 0) : "", "wal") != 0) {
		set_cause(cause, "%s: cannot use WAL mode (journal mode %s)",
		    path, col_text(s, 0) ? col_text(s, 0) : "?");
		r = BST_ERR_DB;
		goto out;
	}
	sqlite3_finalize(s);
	s = NULL;
	/*
	 * Keep -wal and -shm when we close, so a read-only bastionctl that
	 * cannot write the folder can still open the database.
	 */
	sqlite3_file_control(rec->db, "main", SQLITE_FCNTL_PERSIST_WAL,
	    &persist);
	/*
	 * Checkpoints are the checkpointer process's job (checkpoint.c), so
	 * commits never wait for the database file.  The automatic one is
	 * only a backstop, at 512 MiB of WAL (16384 pages of 32 KiB),
	 * should it fall behind or be absent.  After a reset the WAL is cut
	 * to 320 MiB, more than it holds between resets (so its pages stay
	 * in the page cache and are reused, not freed and allocated again).
	 */
	if ((r = pragma(rec, "PRAGMA synchronous = NORMAL", cause)) != 0 ||
	    (r = pragma(rec, "PRAGMA foreign_keys = ON", cause)) != 0 ||
	    (r = pragma(rec, "PRAGMA wal_autocheckpoint = 16384", cause)) != 0 ||
	    (r = pragma(rec, "PRAGMA journal_size_limit = 335544320",
	    cause)) != 0)
		goto out;
	if ((r = user_version(rec, &version, cause)) != 0)
		goto out;
	if (version < 0 || version > REC_SCHEMA_VERSION) {
		set_cause(cause, "%s: schema version %d, this program knows %d",
		    path, version, REC_SCHEMA_VERSION);
		r = BST_ERR_DB;
		goto out;
	}
	if (version < REC_SCHEMA_VERSION &&
	    (r = migrate_schema(rec, version, cause)) != 0)
		goto out;
	rec->version = REC_SCHEMA_VERSION;
	if (rec->seal != NULL && (r = seal_key_register(rec)) != 0) {
		set_cause(cause, "%s: cannot register the seal key: %s", path,
		    bst_strerror(r));
		goto out;
	}
	if ((r = recover_sessions(rec)) != 0) {
		set_cause(cause, "%s: cannot seal sessions left open: %s",
		    path, bst_strerror(r));
		goto out;
	}
	*out = rec;
	rec = NULL; /* transferred */
	r = 0;
 out:
	sqlite3_finalize(s);
	if (rec != NULL)
		rec_close(rec);
	return r;
}

int
rec_open_readonly(const char *path, struct rec **out, char **cause)
{
	struct rec *rec = NULL;
	struct stat sb;
	int r = BST_ERR_INTERNAL, version;

	*out = NULL;
	if (cause != NULL)
		*cause = NULL;
	/* SQLite's "unable to open database file" does not say why. */
	if (stat(path, &sb) != 0) {
		set_cause(cause, "%s: %s", path, strerror(errno));
		return errno == ENOENT ? BST_ERR_NOTFOUND : BST_ERR_IO;
	}
	if (!S_ISREG(sb.st_mode)) {
		set_cause(cause, "%s: not a regular file", path);
		return BST_ERR_IO;
	}
	if (access(path, R_OK) != 0) {
		set_cause(cause, "%s: %s", path, strerror(errno));
		return BST_ERR_DENIED;
	}
	rec = rec_new(path, 1);
	if ((r = rec_connect(rec, SQLITE_OPEN_READONLY, cause)) != 0)
		goto out;
	if ((r = user_version(rec, &version, cause)) != 0)
		goto out;
	/*
	 * A read-only handle cannot upgrade: a version-1 database (the
	 * monitor has not opened it since) reads as one without approval
	 * requests.
	 */
	if (version < 1 || version > REC_SCHEMA_VERSION) {
		set_cause(cause, "%s: not a bastion recording database "
		    "(schema version %d, expected 1 to %d)", path, version,
		    REC_SCHEMA_VERSION);
		r = BST_ERR_DB;
		goto out;
	}
	rec->version = version;
	*out = rec;
	rec = NULL; /* transferred */
	r = 0;
 out:
	if (rec != NULL)
		rec_close(rec);
	return r;
}

/*
 * Called after every commit with the WAL's size in frames.  Replaces
 * SQLite's automatic checkpoint, which was a hook too: it keeps it as
 * the backstop.
 */
static int
wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
	struct rec *rec = arg;

	rec->wal_frames = frames;
	if (frames >= REC_WAL_BACKSTOP_FRAMES)
		(void)sqlite3_wal_checkpoint_v2(db, name,
		    SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	return SQLITE_OK;
}

void
rec_set_checkpointer(struct rec *rec, int fd)
{
	rec->ckpt_fd = fd;
	if (rec->db != NULL && !rec->readonly)
		sqlite3_wal_hook(rec->db, wal_hook, rec);
}

/* Between transactions: asks the checkpointer to reset a large WAL. */
static void
maybe_reset_wal(struct rec *rec)
{
	enum ckpt_reset_result r;
	int64_t now;

	if (rec->ckpt_fd < 0 || rec->wal_frames < REC_WAL_RESET_FRAMES)
		return;
	now = now_mono_us();
	if (now < rec->reset_after)
		return;
	r = ckpt_reset_request(rec->ckpt_fd, REC_RESET_WAIT_MS);
	if (r == CKPT_RESET_DONE) {
		rec->reset_backoff_ms = 0;
		rec->wal_frames = 0;
		return;
	}
	if (r == CKPT_RESET_GONE) {
		log_error("recorder: %s: the checkpointer is gone; the WAL "
		    "is now checkpointed at %d MiB, by the monitor",
		    rec->path, REC_WAL_BACKSTOP_FRAMES / 32);
		rec->ckpt_fd = -1;
		return;
	}
	/*
	 * A long reader holds the WAL, or the checkpointer is stuck in a
	 * slow sync (it still resets later, when it reads the request):
	 * ask again later, less and less often, so that the monitor does
	 * not keep waiting.
	 */
	rec->reset_backoff_ms = rec->reset_backoff_ms == 0 ?
	    REC_RESET_BACKOFF_MIN_MS : rec->reset_backoff_ms * 2;
	if (rec->reset_backoff_ms > REC_RESET_BACKOFF_MAX_MS)
		rec->reset_backoff_ms = REC_RESET_BACKOFF_MAX_MS;
	rec->reset_after = now + (int64_t)rec->reset_backoff_ms * 1000;
}

void
rec_close(struct rec *rec)
{
	int i;

	if (rec == NULL)
		return;
	if (rec->db != NULL && rec->in_txn)
		(void)rec_flush(rec);
	for (i = 0; i < ST_MAX; i++)
		sqlite3_finalize(rec->st[i]);
	if (rec->db != NULL && sqlite3_close(rec->db) != SQLITE_OK)
		log_error("recorder: %s: close: %s", rec->path,
		    sqlite3_errmsg(rec->db));
	EVP_MD_CTX_free(rec->md);
	EVP_MD_free(rec->sha256);
	sealkey_free(rec->seal);
	free(rec->live);
	free(rec->path);
	free(rec);
}

/* ---- write side ---- */

static void
batch_reset(struct rec *rec)
{
	rec->batch_lost = 0;
	rec->pending_events = 0;
	rec->pending_bytes = 0;
}

/*
 * Commits the open batch (the session rows' counters with it).  Fails
 * only if this commit fails.  After a lost batch the pending counters
 * stay up, so that the caller's next rec_flush() reports the loss.
 */
static int
batch_commit(struct rec *rec)
{
	sqlite3_stmt *s;
	size_t i;
	int r, rc;

	if (!rec->in_txn)
		return 0;
	for (i = 0; i < rec->nlive; i++) {
		struct live *l = &rec->live[i];

		if (!l->dirty)
			continue;
		if ((s = stmt(rec, ST_SESSION_COUNTERS)) == NULL)
			return BST_ERR_DB;
		sqlite3_bind_int64(s, 1, l->cur.nevents);
		sqlite3_bind_int64(s, 2, l->cur.bytes_in);
		sqlite3_bind_int64(s, 3, l->cur.bytes_out);
		sqlite3_bind_int64(s, 4, l->sid);
		rc = sqlite3_step(s);
		st_done(s);
		if (rc != SQLITE_DONE)
			return db_fail(rec, "updating session counters");
	}
	if ((s = stmt(rec, ST_COMMIT)) == NULL)
		return BST_ERR_DB;
	rc = sqlite3_step(s);
	st_done(s);
	if (rc != SQLITE_DONE) {
		r = db_fail(rec, "COMMIT");
		if (rec->in_txn) {
			sqlite3_exec(rec->db, "ROLLBACK", NULL, NULL, NULL);
			batch_forget(rec);
		}
		log_error("recorder: %s: batch of %zu events lost",
		    rec->path, rec->pending_events);
		batch_reset(rec);
		return r;
	}
	for (i = 0; i < rec->nlive; i++) {
		rec->live[i].saved = rec->live[i].cur;
		rec->live[i].dirty = 0;
		rec->live[i].uncommitted = 0;
	}
	rec->in_txn = 0;
	if (!rec->batch_lost)
		batch_reset(rec);
	maybe_reset_wal(rec);
	return 0;
}

int
rec_flush(struct rec *rec)
{
	int r;

	if ((r = batch_commit(rec)) != 0)
		return r;
	if (rec->batch_lost) {
		log_error("recorder: %s: an earlier batch was rolled back; "
		    "events appended since the last commit are lost",
		    rec->path);
		batch_reset(rec);
		return BST_ERR_DB;
	}
	return 0;
}

size_t
rec_pending_events(const struct rec *rec)
{
	return rec->pending_events;
}

size_t
rec_pending_bytes(const struct rec *rec)
{
	return rec->pending_bytes;
}

int
rec_session_begin(struct rec *rec, const char *client_addr,
    int client_port, int64_t *sid)
{
	struct json_object *detail = NULL;
	struct op_saved saved;
	struct live *l;
	sqlite3_stmt *s;
	int64_t started, id = 0;
	int r = BST_ERR_INTERNAL;

	*sid = 0;
	if ((r = op_begin(rec, NULL, &saved)) != 0)
		return r;
	started = now_real_us();
	if ((s = stmt(rec, ST_SESSION_INSERT)) == NULL) {
		r = BST_ERR_DB;
		goto fail;
	}
	sqlite3_bind_int64(s, 1, started);
	bind_text_or_null(s, 2, client_addr);
	sqlite3_bind_int(s, 3, client_port);
	if ((r = step_done(rec, s, "inserting session")) != 0)
		goto fail;
	id = sqlite3_last_insert_rowid(rec->db);
	l = live_add(rec, id, started);
	l->uncommitted = 1;
	if ((r = chain_genesis(rec, id, started, l->cur.head)) != 0)
		goto fail;
	/* The client address is chained too: event 1, "connect". */
	detail = json_object_new_object();
	json_object_object_add(detail, "client_addr",
	    json_str_or_null(client_addr));
	json_object_object_add(detail, "client_port",
	    json_object_new_int(client_port));
	if ((r = append_json(rec, l, REC_NO_CHANNEL, "connect", detail,
	    NULL)) != 0 || (r = op_release(rec)) != 0)
		goto fail;
	if ((r = batch_commit(rec)) != 0)
		goto out;	/* the batch and the new session are gone */
	*sid = id;
	r = 0;
	goto out;
 fail:
	op_abort(rec, id, &saved);
	if (id != 0 && (l = live_find(rec, id)) != NULL)
		live_remove(rec, l);
 out:
	json_object_put(detail);
	return r;
}

int
rec_session_auth(struct rec *rec, int64_t sid, const char *login,
    const char *key_type, const char *key_fp, const char *identity,
    const char *owner, int accepted, const char *detail)
{
	struct json_object *o;
	struct op_saved saved;
	struct live *l;
	sqlite3_stmt *s;
	int r = BST_ERR_INTERNAL;

	if ((l = live_get(rec, sid, "auth")) == NULL)
		return BST_ERR_NOTFOUND;
	if ((r = op_begin(rec, l, &saved)) != 0)
		return r;
	o = json_object_new_object();
	json_object_object_add(o, "login", json_str_or_null(login));
	json_object_object_add(o, "key_type", json_str_or_null(key_type));
	json_object_object_add(o, "key_fingerprint", json_str_or_null(key_fp));
	json_object_object_add(o, "identity", json_str_or_null(identity));
	json_object_object_add(o, "owner", json_str_or_null(owner));
	json_object_object_add(o, "accepted",
	    json_object_new_boolean(accepted != 0));
	json_object_object_add(o, "detail", json_str_or_null(detail));
	if ((r = append_json(rec, l, REC_NO_CHANNEL, "auth", o, NULL)) != 0)
		goto fail;
	if ((s = stmt(rec, accepted ? ST_SESSION_AUTH :
	    ST_SESSION_LOGIN)) == NULL) {
		r = BST_ERR_DB;
		goto fail;
	}
	bind_text_or_null(s, 1, login);
	if (accepted) {
		bind_text_or_null(s, 2, identity);
		bind_text_or_null(s, 3, owner);
		bind_text_or_null(s, 4, key_type);
		bind_text_or_null(s, 5, key_fp);
		sqlite3_bind_int64(s, 6, sid);
	} else
		sqlite3_bind_int64(s, 2, sid);
	if ((r = step_done(rec, s, "updating session auth")) != 0)
		goto fail;
	if ((r = op_release(rec)) != 0)
		goto fail;
	r = batch_commit(rec);
	goto out;
 fail:
	op_abort(rec, sid, &saved);
 out:
	json_object_put(o);
	return r;
}

int
rec_session_target(struct rec *rec, int64_t sid, const char *target,
    const char *target_user, const char *target_host, int target_port)
{
	struct json_object *o;
	struct op_saved saved;
	struct live *l;
	sqlite3_stmt *s;
	int r = BST_ERR_INTERNAL;

	if ((l = live_get(rec, sid, "target")) == NULL)
		return BST_ERR_NOTFOUND;
	if ((r = op_begin(rec, l, &saved)) != 0)
		return r;
	o = json_object_new_object();
	json_object_object_add(o, "target", json_str_or_null(target));
	json_object_object_add(o, "target_user",
	    json_str_or_null(target_user));
	json_object_object_add(o, "target_host",
	    json_str_or_null(target_host));
	json_object_object_add(o, "target_port",
	    json_object_new_int(target_port));
	if ((r = append_json(rec, l, REC_NO_CHANNEL, "target", o, NULL)) != 0)
		goto fail;
	if ((s = stmt(rec, ST_SESSION_TARGET)) == NULL) {
		r = BST_ERR_DB;
		goto fail;
	}
	bind_text_or_null(s, 1, target);
	bind_text_or_null(s, 2, target_user);
	bind_text_or_null(s, 3, target_host);
	sqlite3_bind_int(s, 4, target_port);
	sqlite3_bind_int64(s, 5, sid);
	if ((r = step_done(rec, s, "updating session target")) != 0)
		goto fail;
	if ((r = op_release(rec)) != 0)
		goto fail;
	r = batch_commit(rec);
	goto out;
 fail:
	op_abort(rec, sid, &saved);
 out:
	json_object_put(o);
	return r;
}

int
rec_data(struct rec *rec, int64_t sid, int32_t channel,
    enum rec_stream stream, const void *data, size_t len)
{
	static const char *const kinds[] = { "in", "out", "err" };
	struct live *l;
	int r;

	if ((unsigned)stream > REC_ERR) {
		log_error("recorder: bad stream %d", (int)stream);
		return BST_ERR_INTERNAL;
	}
	if ((l = live_get(rec, sid, "data")) == NULL)
		return BST_ERR_NOTFOUND;
	if ((r = append_event(rec, l, channel, kinds[stream], data, len, 0,
	    NULL)) != 0)
		return r;
	if (stream == REC_IN)
		l->cur.bytes_in += (int64_t)len;
	else
		l->cur.bytes_out += (int64_t)len;
	if (rec->pending_bytes >= REC_AUTOFLUSH_BYTES)
		return batch_commit(rec);
	return 0;
}

/* Kinds only the recorder itself writes: verify relies on them. */
static int
reserved_kind(const char *kind)
{
	static const char *const reserved[] = {
		"in", "out", "err", "connect", "auth", "target", "end",
		"approval", NULL
	};
	int i;

	for (i = 0; reserved[i] != NULL; i++)
		if (strcmp(kind, reserved[i]) == 0)
			return 1;
	return 0;
}

/* Updates the channels table from one metadata event. */
static int
channel_update(struct rec *rec, int64_t sid, int32_t channel,
    const char *kind, struct json_object *d, int64_t abs_us)
{
	const char *type = NULL, *command = NULL, *term = NULL;
	const char *signame = NULL, *rtype;
	char *subsys = NULL;
	int64_t cols = 0, rows = 0, status = 0;
	int has_cols = 0, has_rows = 0, has_status = 0;
	int has_open = 0, has_close = 0;
	sqlite3_stmt *s;
	int r = BST_ERR_INTERNAL;

	if (strcmp(kind, "channel-open") == 0) {
		if ((type = jget_str(d, "type")) == NULL)
			type = "session";
		has_open = 1;
	} else if (strcmp(kind, "request") == 0) {
		/* A refused request did not change the channel. */
		if (!jget_bool(d, "accepted", 1) ||
		    (rtype = jget_str(d, "type")) == NULL)
			return 0;
		if (strcmp(rtype, "exec") == 0) {
			type = "exec";
			command = jget_str(d, "command");
		} else if (strcmp(rtype, "shell") == 0)
			type = "shell";
		else if (strcmp(rtype, "subsystem") == 0) {
			subsys = xasprintf("subsystem:%s",
			    jget_str(d, "name") ? jget_str(d, "name") : "");
			type = subsys;
		} else if (strcmp(rtype, "pty-req") == 0) {
			term = jget_str(d, "term");
			has_cols = jget_int(d, "cols", &cols) == 0;
			has_rows = jget_int(d, "rows", &rows) == 0;
		} else
			return 0;
	} else if (strcmp(kind, "exit-status") == 0) {
		if (jget_int(d, "status", &status) != 0)
			return 0;
		has_status = 1;
	} else if (strcmp(kind, "exit-signal") == 0) {
		if ((signame = jget_str(d, "signal")) == NULL)
			signame = "?";
	} else if (strcmp(kind, "channel-close") == 0)
		has_close = 1;
	else
		return 0;

	if ((s = stmt(rec, ST_CHANNEL_ENSURE)) == NULL) {
		r = BST_ERR_DB;
		goto out;
	}
	sqlite3_bind_int64(s, 1, sid);
	sqlite3_bind_int(s, 2, channel);
	if ((r = step_done(rec, s, "inserting channel")) != 0)
		goto out;
	if ((s = stmt(rec, ST_CHANNEL_UPDATE)) == NULL) {
		r = BST_ERR_DB;
		goto out;
	}
	bind_text_or_null(s, 1, type);
	bind_text_or_null(s, 2, command);
	bind_text_or_null(s, 3, term);
	if (has_cols)
		sqlite3_bind_int64(s, 4, cols);
	if (has_rows)
		sqlite3_bind_int64(s, 5, rows);
	if (has_open)
		sqlite3_bind_int64(s, 6, abs_us);
	if (has_close)
		sqlite3_bind_int64(s, 7, abs_us);
	if (has_status)
		sqlite3_bind_int64(s, 8, status);
	bind_text_or_null(s, 9, signame);
	sqlite3_bind_int64(s, 10, sid);
	sqlite3_bind_int(s, 11, channel);
	if ((r = step_done(rec, s, "updating channel")) != 0)
		goto out;
	r = 0;
 out:
	free(subsys);
	return r;
}

int
rec_meta(struct rec *rec, int64_t sid, int32_t channel, const char *kind,
    struct json_object *detail)
{
	struct op_saved saved;
	struct live *l;
	int64_t abs_us = 0;
	int r;

	if (kind == NULL || *kind == '\0' || strlen(kind) > REC_MAX_KIND ||
	    reserved_kind(kind)) {
		log_error("recorder: invalid metadata kind \"%s\"",
		    kind ? kind : "(null)");
		return BST_ERR_INTERNAL;
	}
	if ((l = live_get(rec, sid, kind)) == NULL)
		return BST_ERR_NOTFOUND;
	if (channel == REC_NO_CHANNEL)
		return append_json(rec, l, channel, kind, detail, NULL);
	if ((r = op_begin(rec, l, &saved)) != 0)
		return r;
	if ((r = append_json(rec, l, channel, kind, detail, &abs_us)) != 0 ||
	    (r = channel_update(rec, sid, channel, kind, detail,
	    abs_us)) != 0 || (r = op_release(rec)) != 0) {
		op_abort(rec, sid, &saved);
		return r;
	}
	return 0;
}

int
rec_session_end(struct rec *rec, int64_t sid, const char *reason,
    const char *detail)
{
	struct json_object *o = NULL;
	struct op_saved saved;
	struct live *l;
	sqlite3_stmt *s;
	char hex[REC_HASH_LEN * 2 + 1], text[SEAL_TEXT_MAX];
	char sig[SEAL_SIG_HEXLEN + 1];
	int64_t abs_us = 0;
	size_t len;
	int r = BST_ERR_INTERNAL, rc;

	if ((l = live_find(rec, sid)) == NULL) {
		if ((s = stmt(rec, ST_SESSION_STATE)) == NULL)
			return BST_ERR_DB;
		sqlite3_bind_int64(s, 1, sid);
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW && !col_null(s, 0)) {
			log_error("recorder: session %" PRId64 " ended twice",
			    sid);
			r = BST_ERR_INTERNAL;
		} else if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
			log_error("recorder: end of session %" PRId64 ", "
			    "which is not live", sid);
			r = BST_ERR_NOTFOUND;
		} else
			r = db_fail(rec, "reading session");
		st_done(s);
		return r;
	}
	if (reason == NULL || *reason == '\0')
		reason = "closed";
	if ((r = op_begin(rec, l, &saved)) != 0)
		return r;
	o = json_object_new_object();
	json_object_object_add(o, "reason", json_object_new_string(reason));
	json_object_object_add(o, "detail", json_str_or_null(detail));
	if ((r = append_json(rec, l, REC_NO_CHANNEL, "end", o, &abs_us)) != 0)
		goto fail;
	hex_encode(l->cur.head, REC_HASH_LEN, hex);
	if (rec->seal != NULL) {
		len = seal_text(text, sizeof(text), sid, l->cur.nevents, hex);
		if (sealkey_sign(rec->seal, text, len, sig) != 0) {
			log_error("recorder: session %" PRId64 ": signing the "
			    "seal failed", sid);
			r = BST_ERR_INTERNAL;
			goto fail;
		}
	}
	if ((s = stmt(rec, ST_SESSION_END)) == NULL) {
		r = BST_ERR_DB;
		goto fail;
	}
	sqlite3_bind_int64(s, 1, abs_us);
	sqlite3_bind_text(s, 2, reason, -1, SQLITE_STATIC);
	bind_text_or_null(s, 3, detail);
	sqlite3_bind_int64(s, 4, l->cur.nevents);
	sqlite3_bind_int64(s, 5, l->cur.bytes_in);
	sqlite3_bind_int64(s, 6, l->cur.bytes_out);
	sqlite3_bind_text(s, 7, hex, -1, SQLITE_STATIC);
	bind_text_or_null(s, 8, rec->seal != NULL ? sig : NULL);
	sqlite3_bind_int64(s, 9, sid);
	if ((r = step_done(rec, s, "sealing session")) != 0)
		goto fail;
	if ((r = op_release(rec)) != 0)
		goto fail;
	l->dirty = 0;	/* the row is final */
	if ((r = batch_commit(rec)) != 0)
		goto out;
	/* Committed: forget it. */
	if ((l = live_find(rec, sid)) != NULL)
		live_remove(rec, l);
	r = 0;
	goto out;
 fail:
	op_abort(rec, sid, &saved);
 out:
	json_object_put(o);
	return r;
}

int
rec_session_seal(struct rec *rec, int64_t sid, char *hex, size_t hexsz,
    int64_t *nevents, int *is_signed)
{
	sqlite3_stmt *s;
	const unsigned char *h;
	int rc, r = BST_ERR_NOTFOUND;

	if ((s = stmt(rec, ST_SESSION_SEAL)) == NULL)
		return BST_ERR_DB;
	sqlite3_bind_int64(s, 1, sid);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW && (h = sqlite3_column_text(s, 0)) != NULL) {
		snprintf(hex, hexsz, "%s", (const char *)h);
		*nevents = sqlite3_column_int64(s, 1);
		*is_signed = sqlite3_column_type(s, 2) != SQLITE_NULL;
		r = 0;
	} else if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		r = db_fail(rec, "reading the seal");
	st_done(s);
	return r;
}

/* ---- read side ---- */

/*
 * On the writer's handle, commit the batch first: the session rows'
 * counters are written at commit, and readers should see what another
 * connection would.
 */
static int
read_prepare(struct rec *rec)
{
	return batch_commit(rec);
}

static int
snapshot_begin(struct rec *rec)
{
	return exec_stmt(rec, ST_SNAP_BEGIN, "SAVEPOINT");
}

static void
snapshot_end(struct rec *rec)
{
	(void)exec_stmt(rec, ST_SNAP_END, "RELEASE");
}

/* The list fields of the current row of a session search or ST_SESSION_ROW. */
static struct json_object *
session_json(sqlite3_stmt *s)
{
	struct json_object *o = json_object_new_object();
	int64_t started = sqlite3_column_int64(s, LC_STARTED);
	char *client = NULL;
	const char *addr = col_text(s, LC_CLIENT_ADDR);

	json_object_object_add(o, "id",
	    json_object_new_int64(sqlite3_column_int64(s, LC_ID)));
	json_object_object_add(o, "started", json_iso_or_null(started, 0));
	json_object_object_add(o, "ended",
	    json_iso_or_null(sqlite3_column_int64(s, LC_ENDED),
	    col_null(s, LC_ENDED)));
	json_object_object_add(o, "started_us", json_object_new_int64(started));
	json_object_object_add(o, "ended_us", col_json(s, LC_ENDED));
	if (!col_null(s, LC_ENDED))
		json_object_object_add(o, "duration",
		    json_object_new_double((double)(sqlite3_column_int64(s,
		    LC_ENDED) - started) / 1e6));
	else
		json_object_object_add(o, "duration", NULL);
	json_object_object_add(o, "login", col_json(s, LC_LOGIN));
	json_object_object_add(o, "identity", col_json(s, LC_IDENTITY));
	json_object_object_add(o, "owner", col_json(s, LC_OWNER));
	json_object_object_add(o, "key_type", col_json(s, LC_KEY_TYPE));
	json_object_object_add(o, "key_fingerprint", col_json(s, LC_KEY_FP));
	if (addr != NULL) {
		client = xasprintf(strchr(addr, ':') != NULL ? "[%s]:%d" :
		    "%s:%d", addr, sqlite3_column_int(s, LC_CLIENT_PORT));
	}
	json_object_object_add(o, "client", json_str_or_null(client));
	free(client);
	json_object_object_add(o, "client_addr", col_json(s, LC_CLIENT_ADDR));
	json_object_object_add(o, "client_port", col_json(s, LC_CLIENT_PORT));
	json_object_object_add(o, "target", col_json(s, LC_TARGET));
	json_object_object_add(o, "target_user", col_json(s, LC_TARGET_USER));
	json_object_object_add(o, "target_host", col_json(s, LC_TARGET_HOST));
	json_object_object_add(o, "target_port", col_json(s, LC_TARGET_PORT));
	json_object_object_add(o, "end_reason", col_json(s, LC_END_REASON));
	json_object_object_add(o, "channels", col_json(s, LC_NCHANNELS));
	json_object_object_add(o, "exit_status", col_json(s, LC_EXIT_STATUS));
	json_object_object_add(o, "exit_signal", col_json(s, LC_EXIT_SIGNAL));
	json_object_object_add(o, "events", col_json(s, LC_EVENT_COUNT));
	json_object_object_add(o, "bytes_in", col_json(s, LC_BYTES_IN));
	json_object_object_add(o, "bytes_out", col_json(s, LC_BYTES_OUT));
	json_object_object_add(o, "sealed", json_object_new_boolean(
	    sqlite3_column_int(s, LC_SEALED) != 0));
	return o;
}

int
rec_list_sessions(struct rec *rec, int limit, struct json_object **out)
{
	struct rec_filter f;

	memset(&f, 0, sizeof(f));
	f.limit = limit;
	return rec_search_sessions(rec, &f, out);
}

/*
 * grep over a session's streams: each channel's in, out and err are
 * searched as the continuous byte streams they were, so a match that
 * straddles two recorded chunks is found too.
 */
struct grep_tail {
	int32_t		 channel;
	int		 stream;
	size_t		 len;
	uint8_t		*buf;		/* the stream's last nlen - 1 bytes */
};

struct grep_state {
	const uint8_t		*needle;
	size_t			 nlen;
	struct grep_tail	*tails;
	size_t			 ntails;
	uint8_t			*join;		/* 2 * (nlen - 1) bytes */
};

static void
grep_reset(struct grep_state *g)
{
	size_t i;

	for (i = 0; i < g->ntails; i++)
		free(g->tails[i].buf);
	free(g->tails);
	g->tails = NULL;
	g->ntails = 0;
}

/* rec_event_cb: 1 (stop) once the needle is found. */
static int
grep_cb(void *arg, int64_t seq, int64_t t_us, int32_t channel,
    const char *kind, const void *data, size_t len)
{
	static const char *const streams[] = { "in", "out", "err" };
	struct grep_state *g = arg;
	struct grep_tail *tl = NULL;
	size_t i, keep = g->nlen - 1, head, old;
	int k;

	(void)seq; (void)t_us;
	for (k = 0; k < 3 && strcmp(kind, streams[k]) != 0; k++)
		;
	if (k == 3 || len == 0)
		return 0;
	if (memmem(data, len, g->needle, g->nlen) != NULL)
		return 1;
	if (keep == 0)
		return 0;
	for (i = 0; i < g->ntails; i++)
		if (g->tails[i].channel == channel && g->tails[i].stream == k)
			tl = &g->tails[i];
	if (tl == NULL) {
		g->tails = xrealloc(g->tails, (g->ntails + 1) *
		    sizeof(*g->tails));
		tl = &g->tails[g->ntails++];
		tl->channel = channel;
		tl->stream = k;
		tl->len = 0;
		tl->buf = xmalloc(keep);
	}
	/* Across the boundary: the stream's tail, then this chunk's head. */
	head = len < keep ? len : keep;
	memcpy(g->join, tl->buf, tl->len);
	memcpy(g->join + tl->len, data, head);
	if (memmem(g->join, tl->len + head, g->needle, g->nlen) != NULL)
		return 1;
	/* The new tail: the last keep bytes of tail + chunk. */
	if (len >= keep) {
		memcpy(tl->buf, (const uint8_t *)data + len - keep, keep);
		tl->len = keep;
	} else {
		old = tl->len + len > keep ? keep - len : tl->len;
		memmove(tl->buf, tl->buf + tl->len - old, old);
		memcpy(tl->buf + old, data, len);
		tl->len = old + len;
	}
	return 0;
}

/* 1 if session sid's streams hold the bytes g looks for, 0 if not, or BST_ERR_*. */
static int
session_has_bytes(struct rec *rec, int64_t sid, struct grep_state *g)
{
	int r = rec_foreach_event(rec, sid, grep_cb, g);

	grep_reset(g);
	return r;	/* grep_cb's 1, 0, or a negative error */
}

int
rec_search_sessions(struct rec *rec, const struct rec_filter *f,
    struct json_object **out)
{
	/* Each condition binds one value; values are never part of the SQL. */
	static const char *const conds[] = {
		" AND s.identity = ?",
		" AND s.target = ?",
		" AND s.target_user = ?",
		" AND s.end_reason = ?",
		/* (an edited event that is not JSON must not fail the query) */
		" AND (EXISTS (SELECT 1 FROM events e WHERE e.session_id = "
		"s.id AND e.kind = 'policy' AND instr(CASE WHEN "
		"json_valid(e.data) THEN json_extract(e.data, '$.command') END, "
		":cmd) > 0) OR EXISTS (SELECT 1 FROM channels c WHERE "
		"c.session_id = s.id AND instr(c.command, :cmd) > 0))",
		" AND s.started_us >= ?",
		" AND s.started_us < ?",
	};
	const char *texts[] = { f->identity, f->target, f->target_user,
	    f->end_reason, f->command };
	struct grep_state g = { f->grep, f->grep_len, NULL, 0, NULL };
	struct json_object *arr = NULL;
	char sql[4096];
	sqlite3_stmt *s = NULL;
	int r = BST_ERR_INTERNAL, rc = SQLITE_DONE, i, n = 0, found;
	int count = 0;

	*out = NULL;
	if ((r = read_prepare(rec)) != 0)
		return r;
	snprintf(sql, sizeof(sql), "SELECT %s FROM sessions s WHERE 1",
	    LIST_COLUMNS);
	/* (fits: 4096 > all of them) */
	for (i = 0; i < 5; i++)
		if (texts[i] != NULL)
			strcat(sql, conds[i]);
	if (f->since_us != 0)
		strcat(sql, conds[5]);
	if (f->until_us != 0)
		strcat(sql, conds[6]);
	strcat(sql, " ORDER BY s.id DESC LIMIT ?");
	if (sqlite3_prepare_v2(rec->db, sql, -1, &s, NULL) != SQLITE_OK) {
		r = db_fail(rec, "preparing the session search");
		goto out;
	}
	/* Bound in the order the conditions stand (:cmd is one parameter). */
	for (i = 0; i < 5; i++)
		if (texts[i] != NULL)
			sqlite3_bind_text(s, ++n, texts[i], -1, SQLITE_STATIC);
	if (f->since_us != 0)
		sqlite3_bind_int64(s, ++n, f->since_us);
	if (f->until_us != 0)
		sqlite3_bind_int64(s, ++n, f->until_us);
	/* With grep the limit counts the sessions that pass it. */
	sqlite3_bind_int64(s, ++n, f->limit > 0 && f->grep == NULL ?
	    f->limit : -1);
	if (f->grep != NULL) {
		if (f->grep_len == 0) {
			r = BST_ERR_INTERNAL;
			goto out;
		}
		g.join = xmalloc(2 * f->grep_len);
	}
	arr = json_object_new_array();
	while ((f->limit <= 0 || count < f->limit) &&
	    (rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (f->grep != NULL) {
			found = session_has_bytes(rec,
			    sqlite3_column_int64(s, LC_ID), &g);
			if (found < 0) {
				r = found;
				goto out;
			}
			if (!found)
				continue;
		}
		json_object_array_add(arr, session_json(s));
		count++;
	}
	if (f->limit > 0 && count >= f->limit)
		rc = SQLITE_DONE;
	if (rc != SQLITE_DONE) {
		r = db_fail(rec, "listing sessions");
		goto out;
	}
	*out = arr;
	arr = NULL; /* transferred */
	r = 0;
 out:
	sqlite3_finalize(s);
	free(g.join);
	json_object_put(arr);
	return r;
}

static int
show_channels(struct rec *rec, int64_t sid, struct json_object *o)
{
	struct json_object *arr = json_object_new_array(), *c;
	sqlite3_stmt *s;
	int rc;

	json_object_object_add(o, "channels", arr);
	if ((s = stmt(rec, ST_CHANNELS)) == NULL)
		return BST_ERR_DB;
	sqlite3_bind_int64(s, 1, sid);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		c = json_object_new_object();
		json_object_object_add(c, "channel", col_json(s, 0));
		json_object_object_add(c, "type", col_json(s, 1));
		json_object_object_add(c, "command", col_json(s, 2));
		json_object_object_add(c, "term", col_json(s, 3));
		json_object_object_add(c, "cols", col_json(s, 4));
		json_object_object_add(c, "rows", col_json(s, 5));
		json_object_object_add(c, "opened", json_iso_or_null(
		    sqlite3_column_int64(s, 6), col_null(s, 6)));
		json_object_object_add(c, "closed", json_iso_or_null(
		    sqlite3_column_int64(s, 7), col_null(s, 7)));
		json_object_object_add(c, "exit_status", col_json(s, 8));
		json_object_object_add(c, "exit_signal", col_json(s, 9));
		json_object_array_add(arr, c);
	}
	st_done(s);
	if (rc != SQLITE_DONE)
		return db_fail(rec, "reading channels");
	return 0;
}

static int
show_log(struct rec *rec, int64_t sid, struct json_object *o)
{
	struct json_object *arr = json_object_new_array(), *e, *d;
	sqlite3_stmt *s;
	int64_t t;
	int rc;

	json_object_object_add(o, "log", arr);
	if ((s = stmt(rec, ST_LOG)) == NULL)
		return BST_ERR_DB;
	sqlite3_bind_int64(s, 1, sid);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		e = json_object_new_object();
		t = sqlite3_column_int64(s, 1);
		json_object_object_add(e, "seq", col_json(s, 0));
		json_object_object_add(e, "t", json_object_new_double(
		    (double)t / 1e6));
		json_object_object_add(e, "t_us", json_object_new_int64(t));
		json_object_object_add(e, "channel",
		    sqlite3_column_int(s, 2) == REC_NO_CHANNEL ? NULL :
		    col_json(s, 2));
		json_object_object_add(e, "kind", col_json(s, 3));
		/* Stored by us as JSON text; anything else shows as a string. */
		if ((d = json_tokener_parse(col_text(s, 4) ? col_text(s, 4) :
		    "null")) == NULL && !col_null(s, 4))
			d = col_json(s, 4);
		json_object_object_add(e, "detail", d);
		json_object_array_add(arr, e);
	}
	st_done(s);
	if (rc != SQLITE_DONE)
		return db_fail(rec, "reading events");
	return 0;
}

static int show_requests(struct rec *, int64_t, struct json_object *);

int
rec_show_session(struct rec *rec, int64_t sid, struct json_object **out)
{
	struct json_object *o = NULL;
	sqlite3_stmt *s;
	int r = BST_ERR_INTERNAL, rc;

	*out = NULL;
	if ((r = read_prepare(rec)) != 0 || (r = snapshot_begin(rec)) != 0)
		return r;
	if ((s = stmt(rec, ST_SESSION_ROW)) == NULL) {
		r = BST_ERR_DB;
		goto out;
	}
	sqlite3_bind_int64(s, 1, sid);
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		st_done(s);
		r = BST_ERR_NOTFOUND;
		goto out;
	} else if (rc != SQLITE_ROW) {
		st_done(s);
		r = db_fail(rec, "reading session");
		goto out;
	}
	o = session_json(s);
	json_object_object_add(o, "end_detail", col_json(s, LC_END_DETAIL));
	json_object_object_add(o, "final_hash", col_json(s, LC_FINAL_HASH));
	st_done(s);
	if (rec->version >= 4) {
		if ((s = stmt(rec, ST_SEAL_SIGNATURE)) == NULL) {
			r = BST_ERR_DB;
			goto out;
		}
		sqlite3_bind_int64(s, 1, sid);
		if (sqlite3_step(s) == SQLITE_ROW)
			json_object_object_add(o, "seal_signature",
			    col_json(s, 0));
		st_done(s);
	}
	if ((r = show_channels(rec, sid, o)) != 0 ||
	    (r = show_log(rec, sid, o)) != 0 ||
	    (r = show_requests(rec, sid, o)) != 0)
		goto out;
	*out = o;
	o = NULL; /* transferred */
	r = 0;
 out:
	snapshot_end(rec);
	json_object_put(o);
	return r;
}

/* 0 if the session exists, BST_ERR_NOTFOUND if not. */
static int
session_exists(struct rec *rec, int64_t sid)
{
	sqlite3_stmt *s;
	int rc;

	if ((s = stmt(rec, ST_SESSION_STATE)) == NULL)
		return BST_ERR_DB;
	sqlite3_bind_int64(s, 1, sid);
	rc = sqlite3_step(s);
	st_done(s);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc == SQLITE_DONE)
		return BST_ERR_NOTFOUND;
	return db_fail(rec, "reading session");
}

int
rec_foreach_event(struct rec *rec, int64_t sid, rec_event_cb cb, void *arg)
{
	return rec_foreach_event_after(rec, sid, 0, cb, arg);
}

int
rec_foreach_event_after(struct rec *rec, int64_t sid, int64_t after,
    rec_event_cb cb, void *arg)
{
	static const char sql[] = "SELECT seq, t_us, channel, kind, data "
	    "FROM events WHERE session_id = ? AND seq > ? ORDER BY seq";
	sqlite3_stmt *s = NULL;
	int r = BST_ERR_INTERNAL, rc;

	/*
	 * Its own statement (not a cached one), so that cb may use this
	 * handle; a single statement reads one snapshot.
	 */
	if ((r = read_prepare(rec)) != 0 ||
	    (r = session_exists(rec, sid)) != 0)
		return r;
	if (sqlite3_prepare_v2(rec->db, sql, -1, &s, NULL) != SQLITE_OK)
		return db_fail(rec, "reading events");
	sqlite3_bind_int64(s, 1, sid);
	sqlite3_bind_int64(s, 2, after);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *kind = col_text(s, 3);
		const void *data = sqlite3_column_blob(s, 4);
		size_t len = (size_t)sqlite3_column_bytes(s, 4);

		if ((r = cb(arg, sqlite3_column_int64(s, 0),
		    sqlite3_column_int64(s, 1), sqlite3_column_int(s, 2),
		    kind ? kind : "", data, len)) != 0)
			goto out;
	}
	if (rc != SQLITE_DONE) {
		r = db_fail(rec, "reading events");
		goto out;
	}
	r = 0;
 out:
	sqlite3_finalize(s);
	return r;
}

/* Compares a text column of the session row with a chained fact. */
static int
check_text(sqlite3_stmt *s, int col, const char *name,
    struct json_object *fact, const char *key, const char *evname,
    char **cause)
{
	const char *row = col_text(s, col), *chained = jget_str(fact, key);

	if (streq_null(row, chained))
		return 0;
	set_cause(cause, "session row: %s %s%s%s does not match the "
	    "chained %s event (%s%s%s)", name,
	    row ? "\"" : "", row ? row : "NULL", row ? "\"" : "", evname,
	    chained ? "\"" : "", chained ? chained : "NULL",
	    chained ? "\"" : "");
	return BST_ERR_TAMPERED;
}

static int
check_int(sqlite3_stmt *s, int col, const char *name,
    struct json_object *fact, const char *key, const char *evname,
    char **cause)
{
	int64_t chained = 0;
	int has = fact != NULL && jget_int(fact, key, &chained) == 0;

	if (col_null(s, col) && !has)
		return 0;
	if (!col_null(s, col) && has &&
	    sqlite3_column_int64(s, col) == chained)
		return 0;
	set_cause(cause, "session row: %s %s does not match the chained %s "
	    "event (%s)", name, col_null(s, col) ? "NULL" :
	    (const char *)sqlite3_column_text(s, col), evname,
	    has ? json_object_get_string(json_object_object_get(fact, key)) :
	    "NULL");
	return BST_ERR_TAMPERED;
}

/* The session row against what the chain says.  0 or BST_ERR_TAMPERED. */
static int
check_row(sqlite3_stmt *s, struct walk *w, int *live, char **cause)
{
	char hex[REC_HASH_LEN * 2 + 1];
	int64_t started = sqlite3_column_int64(s, LC_STARTED);
	int sealed = sqlite3_column_int(s, LC_SEALED);
	const char *final = col_text(s, LC_FINAL_HASH);
	int r;

	*live = 0;
	if (sqlite3_column_int64(s, LC_EVENT_COUNT) != w->st.nevents) {
		set_cause(cause, "session row: event_count %" PRId64 " but "
		    "%" PRId64 " events stored",
		    sqlite3_column_int64(s, LC_EVENT_COUNT), w->st.nevents);
		return BST_ERR_TAMPERED;
	}
	if (sqlite3_column_int64(s, LC_BYTES_IN) != w->st.bytes_in ||
	    sqlite3_column_int64(s, LC_BYTES_OUT) != w->st.bytes_out) {
		set_cause(cause, "session row: bytes in/out %" PRId64 "/%"
		    PRId64 " but events hold %" PRId64 "/%" PRId64,
		    sqlite3_column_int64(s, LC_BYTES_IN),
		    sqlite3_column_int64(s, LC_BYTES_OUT),
		    w->st.bytes_in, w->st.bytes_out);
		return BST_ERR_TAMPERED;
	}
	if ((r = check_text(s, LC_CLIENT_ADDR, "client_addr", w->connect,
	    "client_addr", "connect", cause)) != 0 ||
	    (r = check_int(s, LC_CLIENT_PORT, "client_port", w->connect,
	    "client_port", "connect", cause)) != 0 ||
	    (r = check_text(s, LC_LOGIN, "login", w->auth_any, "login",
	    "auth", cause)) != 0 ||
	    (r = check_text(s, LC_IDENTITY, "identity", w->auth, "identity",
	    "accepted auth", cause)) != 0 ||
	    (r = check_text(s, LC_OWNER, "owner", w->auth, "owner",
	    "accepted auth", cause)) != 0 ||
	    (r = check_text(s, LC_KEY_TYPE, "key_type", w->auth, "key_type",
	    "accepted auth", cause)) != 0 ||
	    (r = check_text(s, LC_KEY_FP, "key_fingerprint", w->auth,
	    "key_fingerprint", "accepted auth", cause)) != 0 ||
	    (r = check_text(s, LC_TARGET, "target", w->target, "target",
	    "target", cause)) != 0 ||
	    (r = check_text(s, LC_TARGET_USER, "target_user", w->target,
	    "target_user", "target", cause)) != 0 ||
	    (r = check_text(s, LC_TARGET_HOST, "target_host", w->target,
	    "target_host", "target", cause)) != 0 ||
	    (r = check_int(s, LC_TARGET_PORT, "target_port", w->target,
	    "target_port", "target", cause)) != 0)
		return r;

	if (w->end_seq == 0) {
		/* Live: nothing may claim otherwise. */
		if (sealed || final != NULL || !col_null(s, LC_ENDED) ||
		    !col_null(s, LC_END_REASON)) {
			set_cause(cause, "session row: ended or sealed but "
			    "there is no end event");
			return BST_ERR_TAMPERED;
		}
		*live = 1;
		return 0;
	}
	if (!sealed || final == NULL || col_null(s, LC_ENDED)) {
		set_cause(cause, "session row: not sealed but event %" PRId64
		    " ends the session", w->end_seq);
		return BST_ERR_TAMPERED;
	}
	hex_encode(w->st.head, REC_HASH_LEN, hex);
	if (strcmp(final, hex) != 0) {
		set_cause(cause, "session row: final hash does not match the "
		    "chain");
		return BST_ERR_TAMPERED;
	}
	if (sqlite3_column_int64(s, LC_ENDED) != started + w->end_t) {
		set_cause(cause, "session row: ended_us does not match the "
		    "time of end event %" PRId64, w->end_seq);
		return BST_ERR_TAMPERED;
	}
	if ((r = check_text(s, LC_END_REASON, "end_reason", w->end, "reason",
	    "end", cause)) != 0 ||
	    (r = check_text(s, LC_END_DETAIL, "end_detail", w->end, "detail",
	    "end", cause)) != 0)
		return r;
	return 0;
}

static int check_seal_signature(struct rec *, int64_t, const struct walk *,
    int *, char **);

int
rec_verify_session(struct rec *rec, int64_t sid, int *flags, char **cause)
{
	sqlite3_stmt *s = NULL;
	struct walk w;
	int r = BST_ERR_INTERNAL, rc, live = 0;

	if (cause != NULL)
		*cause = NULL;
	*flags = 0;
	memset(&w, 0, sizeof(w));
	if ((r = read_prepare(rec)) != 0 || (r = snapshot_begin(rec)) != 0)
		return r;
	if ((s = stmt(rec, ST_SESSION_ROW)) == NULL) {
		r = BST_ERR_DB;
		goto out;
	}
	sqlite3_bind_int64(s, 1, sid);
	if ((rc = sqlite3_step(s)) == SQLITE_DONE) {
		r = BST_ERR_NOTFOUND;
		goto out;
	} else if (rc != SQLITE_ROW) {
		r = db_fail(rec, "reading session");
		goto out;
	}
	if ((r = walk_chain(rec, sid, sqlite3_column_int64(s, LC_STARTED),
	    &w)) != 0)
		goto out;
	if (w.bad_seq != 0) {
		set_cause(cause, "%s", w.problem);
		r = BST_ERR_TAMPERED;
		goto out;
	}
	if ((r = check_row(s, &w, &live, cause)) != 0)
		goto out;
	if (live)
		*flags |= REC_VERIFY_LIVE;
	else if (rec->seal != NULL &&
	    (r = check_seal_signature(rec, sid, &w, flags, cause)) != 0)
		goto out;
	r = 0;
 out:
	st_done(s);
	snapshot_end(rec);
	walk_free(&w);
	return r;
}

/*
 * The seal of a sealed session whose chain verified (w) is signed by the
 * key set with rec_set_seal_public_key(), if the session comes at or
 * after the key's first session (REC_VERIFY_SIGNED).  One before it may
 * have no signature (REC_VERIFY_BEFORE_KEY).  Inside the snapshot.
 */
static int
check_seal_signature(struct rec *rec, int64_t sid, const struct walk *w,
    int *flags, char **cause)
{
	char hex[REC_HASH_LEN * 2 + 1], text[SEAL_TEXT_MAX], fp[64];
	const char *sig = NULL;
	sqlite3_stmt *s = NULL;
	size_t len;
	int rc, r, row;

	if (!rec->seal_first_known) {
		sealkey_fingerprint(rec->seal, fp, sizeof(fp));
		if ((r = seal_first_session(rec, fp, &rec->seal_first,
		    &row)) != 0)
			return r;
		rec->seal_first_known = 1;
	}
	if (rec->version >= 4) {
		if ((s = stmt(rec, ST_SEAL_SIGNATURE)) == NULL)
			return BST_ERR_DB;
		sqlite3_bind_int64(s, 1, sid);
		if ((rc = sqlite3_step(s)) != SQLITE_ROW) {
			r = db_fail(rec, "reading the seal signature");
			st_done(s);
			return r;
		}
		sig = (const char *)sqlite3_column_text(s, 0);
	}
	hex_encode(w->st.head, REC_HASH_LEN, hex);
	len = seal_text(text, sizeof(text), sid, w->st.nevents, hex);
	if (sid < rec->seal_first) {
		*flags |= sig != NULL && sealkey_verify(rec->seal, text, len,
		    sig) ? REC_VERIFY_SIGNED : REC_VERIFY_BEFORE_KEY;
		r = 0;
	} else if (sig == NULL) {
		set_cause(cause, "seal not signed (a seal key is in use)");
		r = BST_ERR_TAMPERED;
	} else if (!sealkey_verify(rec->seal, text, len, sig)) {
		set_cause(cause, "seal signature does not match the seal key "
		    "(a rewritten session, or another key)");
		r = BST_ERR_TAMPERED;
	} else {
		*flags |= REC_VERIFY_SIGNED;
		r = 0;
	}
	st_done(s);
	return r;
}

int
rec_set_seal_public_key(struct rec *rec, const char *path, char **cause)
{
	struct sealkey *k;
	const char *why;
	int r;

	if (cause != NULL)
		*cause = NULL;
	if ((r = sealkey_load_public(path, &k, &why)) != 0) {
		set_cause(cause, "%s: %s", path, why);
		return r;
	}
	sealkey_free(rec->seal);
	rec->seal = k;
	rec->seal_first_known = 0;
	return 0;
}

/* ---- approval requests ---- */

static const char *const req_status_names[] = {
	[REC_REQ_PENDING] = "pending",
	[REC_REQ_APPROVED] = "approved",
	[REC_REQ_DENIED] = "denied",
	[REC_REQ_EXPIRED] = "expired",
	[REC_REQ_CANCELLED] = "cancelled",
	[REC_REQ_USED] = "used",
};
#define REQ_NSTATUS	((int)(sizeof(req_status_names) / \
			    sizeof(req_status_names[0])))

const char *
rec_req_status_name(enum rec_req_status st)
{
	if ((int)st < 0 || (int)st >= REQ_NSTATUS)
		return "unknown";
	return req_status_names[st];
}

/* What the write side needs to know about a request. */
struct req_state {
	int64_t	sid;
	int32_t	channel;
	char	status[16];
	int64_t	timeout;
	int	deferred;
	int64_t	valid_until;	/* -1: NULL */
	char	sha256[REC_HASH_LEN * 2 + 1];
};

static int
req_state(struct rec *rec, int64_t id, struct req_state *st)
{
	sqlite3_stmt *s;
	int rc, r;

	memset(st, 0, sizeof(*st));
	if ((s = stmt(rec, ST_REQ_STATE)) == NULL)
		return BST_ERR_DB;
	sqlite3_bind_int64(s, 1, id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		st->sid = sqlite3_column_int64(s, 0);
		st->channel = sqlite3_column_int(s, 1);
		snprintf(st->status, sizeof(st->status), "%s",
		    col_text(s, 2) ? col_text(s, 2) : "");
		st->timeout = sqlite3_column_int64(s, 3);
		st->deferred = sqlite3_column_int(s, 4) != 0;
		st->valid_until = col_null(s, 5) ? -1 :
		    sqlite3_column_int64(s, 5);
		snprintf(st->sha256, sizeof(st->sha256), "%s",
		    col_text(s, 6) ? col_text(s, 6) : "");
		r = 0;
	} else if (rc == SQLITE_DONE) {
		log_error("recorder: no approval request %" PRId64, id);
		r = BST_ERR_NOTFOUND;
	} else
		r = db_fail(rec, "reading approval request");
	st_done(s);
	return r;
}

static int
sha256_hex(struct rec *rec, const char *text, char hex[REC_HASH_LEN * 2 + 1])
{
	uint8_t h[REC_HASH_LEN];
	unsigned int len = 0;

	if (EVP_DigestInit_ex(rec->md, rec->sha256, NULL) != 1 ||
	    EVP_DigestUpdate(rec->md, text, strlen(text)) != 1 ||
	    EVP_DigestFinal_ex(rec->md, h, &len) != 1 ||
	    len != REC_HASH_LEN) {
		log_error("recorder: SHA-256 failed");
		return BST_ERR_INTERNAL;
	}
	hex_encode(h, REC_HASH_LEN, hex);
	return 0;
}

/*
 * {"request":id,"event":event}, to be completed by the caller and
 * appended by req_chain().
 */
static struct json_object *
req_event(int64_t id, const char *event)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "request", json_object_new_int64(id));
	json_object_object_add(o, "event", json_object_new_string(event));
	return o;
}

/*
 * Appends an "approval" event to session sid's chain if this recorder is
 * writing that session; a session that has ended (a deferred request
 * decided later) is sealed and only the tables change.  Inside an op.
 */
static int
req_chain(struct rec *rec, int64_t sid, int32_t channel,
    struct json_object *detail)
{
	struct live *l;

	if ((l = live_find(rec, sid)) == NULL)
		return 0;
	return append_json(rec, l, channel, "approval", detail, NULL);
}

int
rec_request_create(struct rec *rec, struct rec_request *req, int64_t *id)
{
	struct json_object *o = NULL;
	struct op_saved saved;
	sqlite3_stmt *s;
	char hex[REC_HASH_LEN * 2 + 1], when[64];
	const char *analysis = NULL;
	int64_t created, expires, rid = 0;
	int r = BST_ERR_INTERNAL;

	*id = 0;
	if (req->command == NULL || req->count < 0 || req->timeout < 0) {
		log_error("recorder: approval request for session %" PRId64
		    ": no command or a negative count/timeout",
		    req->session_id);
		return BST_ERR_INTERNAL;
	}
	if ((r = sha256_hex(rec, req->command, hex)) != 0)
		return r;
	if (req->analysis != NULL && (analysis =
	    json_object_to_json_string_ext(req->analysis,
	    REC_JSON_FLAGS)) == NULL)
		return BST_ERR_NOMEM;
	if ((r = op_begin(rec, live_find(rec, req->session_id), &saved)) != 0)
		return r;
	created = now_real_us();
	expires = created + (int64_t)req->timeout * 1000000;
	if ((s = stmt(rec, ST_REQ_INSERT)) == NULL) {
		r = BST_ERR_DB;
		goto fail;
	}
	sqlite3_bind_int64(s, 1, req->session_id);
	sqlite3_bind_int(s, 2, req->channel);
	bind_text_or_null(s, 3, req->identity);
	bind_text_or_null(s, 4, req->owner);
	bind_text_or_null(s, 5, req->target);
	bind_text_or_null(s, 6, req->target_user);
	sqlite3_bind_text(s, 7, req->command, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 8, hex, -1, SQLITE_STATIC);
	bind_text_or_null(s, 9, req->rule);
	bind_text_or_null(s, 10, req->reason);
	sqlite3_bind_text(s, 11, req->groups ? req->groups : "", -1,
	    SQLITE_STATIC);
	sqlite3_bind_int(s, 12, req->count);
	sqlite3_bind_int(s, 13, req->timeout);
	sqlite3_bind_int(s, 14, req->deferred != 0);
	bind_text_or_null(s, 15, analysis);
	sqlite3_bind_int64(s, 16, created);
	sqlite3_bind_int64(s, 17, expires);
	if ((r = step_done(rec, s, "inserting approval request")) != 0)
		goto fail;
	rid = sqlite3_last_insert_rowid(rec->db);
	o = req_event(rid, "created");
	json_object_object_add(o, "command",
	    json_object_new_string(req->command));
	json_object_object_add(o, "command_sha256",
	    json_object_new_string(hex));
	json_object_object_add(o, "identity", json_str_or_null(req->identity));
	json_object_object_add(o, "owner", json_str_or_null(req->owner));
	json_object_object_add(o, "target", json_str_or_null(req->target));
	json_object_object_add(o, "target_user",
	    json_str_or_null(req->target_user));
	json_object_object_add(o, "rule", json_str_or_null(req->rule));
	json_object_object_add(o, "reason", json_str_or_null(req->reason));
	json_object_object_add(o, "groups",
	    json_object_new_string(req->groups ? req->groups : ""));
	json_object_object_add(o, "count", json_object_new_int(req->count));
	json_object_object_add(o, "timeout",
	    json_object_new_int(req->timeout));
	json_object_object_add(o, "deferred",
	    json_object_new_boolean(req->deferred != 0));
	fmt_iso(expires, when, sizeof(when));
	json_object_object_add(o, "expires", json_object_new_string(when));
	if (req->analysis != NULL)
		json_object_object_add(o, "analysis",
		    json_object_get(req->analysis));
	if ((r = req_chain(rec, req->session_id, req->channel, o)) != 0 ||
	    (r = op_release(rec)) != 0)
		goto fail;
	if ((r = batch_commit(rec)) != 0)
		goto out;
	req->id = rid;
	*id = rid;
	r = 0;
	goto out;
 fail:
	op_abort(rec, req->session_id, &saved);
 out:
	json_object_put(o);
	return r;
}

int
rec_request_vote(struct rec *rec, int64_t id, const char *approver,
    int approve, const char *reason)
{
	struct json_object *o = NULL;
	struct req_state st;
	struct op_saved saved;
	sqlite3_stmt *s;
	const char *vote = approve ? "approve" : "deny";
	int r = BST_ERR_INTERNAL, rc;

	if (approver == NULL || *approver == '\0') {
		log_error("recorder: vote on request %" PRId64 " without an "
		    "approver name", id);
		return BST_ERR_INTERNAL;
	}
	if ((r = req_state(rec, id, &st)) != 0)
		return r;
	if (strcmp(st.status, "pending") != 0) {
		log_error("recorder: vote by %s on request %" PRId64 ", which "
		    "is %s, not pending", approver, id, st.status);
		return BST_ERR_DENIED;
	}
	if ((r = op_begin(rec, live_find(rec, st.sid), &saved)) != 0)
		return r;
	if ((s = stmt(rec, ST_VOTE_INSERT)) == NULL) {
		r = BST_ERR_DB;
		goto fail;
	}
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_text(s, 2, approver, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, vote, -1, SQLITE_STATIC);
	bind_text_or_null(s, 4, reason);
	sqlite3_bind_int64(s, 5, now_real_us());
	rc = sqlite3_step(s);
	st_done(s);
	if (rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
		/*
		 * Only this statement failed: undo the operation and commit
		 * the rest of the batch, as success would have.
		 */
		log_error("recorder: %s has already voted on request %" PRId64,
		    approver, id);
		op_abort(rec, st.sid, &saved);
		if ((r = batch_commit(rec)) == 0)
			r = BST_ERR_DENIED;
		goto out;
	} else if (rc != SQLITE_DONE) {
		r = db_fail(rec, "inserting vote");
		goto fail;
	}
	o = req_event(id, "vote");
	json_object_object_add(o, "approver", json_object_new_string(approver));
	json_object_object_add(o, "vote", json_object_new_string(vote));
	json_object_object_add(o, "reason", json_str_or_null(reason));
	if ((r = req_chain(rec, st.sid, st.channel, o)) != 0 ||
	    (r = op_release(rec)) != 0)
		goto fail;
	r = batch_commit(rec);
	goto out;
 fail:
	op_abort(rec, st.sid, &saved);
 out:
	json_object_put(o);
	return r;
}

int
rec_request_finish(struct rec *rec, int64_t id, enum rec_req_status status,
    const char *decided_by, const char *detail)
{
	struct json_object *o = NULL;
	struct req_state st;
	struct op_saved saved;
	sqlite3_stmt *s;
	char when[64];
	int64_t now, valid_until = 0;
	int r = BST_ERR_INTERNAL;

	/* "used" is rec_request_use()'s: it names the session that ran it. */
	if (status != REC_REQ_APPROVED && status != REC_REQ_DENIED &&
	    status != REC_REQ_EXPIRED && status != REC_REQ_CANCELLED) {
		log_error("recorder: request %" PRId64 " cannot be finished "
		    "as %s", id, rec_req_status_name(status));
		return BST_ERR_INTERNAL;
	}
	if ((r = req_state(rec, id, &st)) != 0)
		return r;
	if (strcmp(st.status, "pending") != 0) {
		log_error("recorder: request %" PRId64 " is already %s; "
		    "cannot make it %s", id, st.status,
		    rec_req_status_name(status));
		return BST_ERR_DENIED;
	}
	if ((r = op_begin(rec, live_find(rec, st.sid), &saved)) != 0)
		return r;
	now = now_real_us();
	if (status == REC_REQ_APPROVED)
		valid_until = now + st.timeout * 1000000;
	if ((s = stmt(rec, ST_REQ_FINISH)) == NULL) {
		r = BST_ERR_DB;
		goto fail;
	}
	sqlite3_bind_text(s, 1, rec_req_status_name(status), -1,
	    SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, now);
	bind_text_or_null(s, 3, decided_by);
	bind_text_or_null(s, 4, detail);
	if (status == REC_REQ_APPROVED)
		sqlite3_bind_int64(s, 5, valid_until);
	sqlite3_bind_int64(s, 6, id);
	if ((r = step_one_request(rec, s, "finishing approval request", id)) != 0)
		goto fail;
	o = req_event(id, "finished");
	json_object_object_add(o, "status",
	    json_object_new_string(rec_req_status_name(status)));
	json_object_object_add(o, "decided_by", json_str_or_null(decided_by));
	json_object_object_add(o, "detail", json_str_or_null(detail));
	if (status == REC_REQ_APPROVED) {
		fmt_iso(valid_until, when, sizeof(when));
		json_object_object_add(o, "valid_until",
		    json_object_new_string(when));
	}
	if ((r = req_chain(rec, st.sid, st.channel, o)) != 0 ||
	    (r = op_release(rec)) != 0)
		goto fail;
	r = batch_commit(rec);
	goto out;
 fail:
	op_abort(rec, st.sid, &saved);
 out:
	json_object_put(o);
	return r;
}

int
rec_request_find_deferred(struct rec *rec, const char *identity,
    const char *target, const char *target_user, const char *command,
    int64_t now_us, int64_t *id)
{
	sqlite3_stmt *s;
	int r, rc;

	*id = 0;
	if (command == NULL)
		return BST_ERR_NOTFOUND;
	if ((s = stmt(rec, ST_REQ_FIND)) == NULL)
		return BST_ERR_DB;
	sqlite3_bind_int64(s, 1, now_us);
	bind_text_or_null(s, 2, identity);
	bind_text_or_null(s, 3, target);
	bind_text_or_null(s, 4, target_user);
	sqlite3_bind_text(s, 5, command, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*id = sqlite3_column_int64(s, 0);
		r = 0;
	} else if (rc == SQLITE_DONE)
		r = BST_ERR_NOTFOUND;
	else
		r = db_fail(rec, "finding a deferred approval");
	st_done(s);
	return r;
}

int
rec_request_use(struct rec *rec, int64_t id, int64_t sid)
{
	struct json_object *o = NULL;
	struct req_state st;
	struct op_saved saved;
	sqlite3_stmt *s;
	int64_t now;
	int r = BST_ERR_INTERNAL;

	if ((r = req_state(rec, id, &st)) != 0)
		return r;
	now = now_real_us();
	if (strcmp(st.status, "approved") != 0) {
		log_error("recorder: session %" PRId64 " cannot use request "
		    "%" PRId64 ": it is %s", sid, id, st.status);
		return BST_ERR_DENIED;
	}
	if (st.deferred && st.valid_until < now) {
		log_error("recorder: session %" PRId64 " cannot use request "
		    "%" PRId64 ": its approval ran out", sid, id);
		return BST_ERR_DENIED;
	}
	if ((r = op_begin(rec, live_find(rec, sid), &saved)) != 0)
		return r;
	if ((s = stmt(rec, ST_REQ_USE)) == NULL) {
		r = BST_ERR_DB;
		goto fail;
	}
	sqlite3_bind_int64(s, 1, sid);
	sqlite3_bind_int64(s, 2, now);
	sqlite3_bind_int64(s, 3, id);
	if ((r = step_one_request(rec, s, "using approval request", id)) != 0)
		goto fail;
	o = req_event(id, "used");
	json_object_object_add(o, "session", json_object_new_int64(st.sid));
	json_object_object_add(o, "command_sha256",
	    json_object_new_string(st.sha256));
	if ((r = req_chain(rec, sid, REC_NO_CHANNEL, o)) != 0 ||
	    (r = op_release(rec)) != 0)
		goto fail;
	r = batch_commit(rec);
	goto out;
 fail:
	op_abort(rec, sid, &saved);
 out:
	json_object_put(o);
	return r;
}

int
rec_request_close_stale(struct rec *rec, int *n)
{
	static const char detail[] = "the bastion restarted while the "
	    "request was pending; the command did not run";
	struct op_saved saved;
	sqlite3_stmt *s;
	int changed, r = BST_ERR_INTERNAL;

	*n = 0;
	/* Their sessions were sealed as monitor-restart: tables only. */
	if ((r = op_begin(rec, NULL, &saved)) != 0)
		return r;
	if ((s = stmt(rec, ST_REQ_STALE)) == NULL) {
		r = BST_ERR_DB;
		goto fail;
	}
	sqlite3_bind_int64(s, 1, now_real_us());
	sqlite3_bind_text(s, 2, detail, -1, SQLITE_STATIC);
	if ((r = step_done(rec, s, "closing stale approval requests")) != 0)
		goto fail;
	changed = sqlite3_changes(rec->db);
	if ((r = op_release(rec)) != 0)
		goto fail;
	if ((r = batch_commit(rec)) != 0)
		return r;
	if (changed > 0)
		log_warn("recorder: %d approval request%s pending at the last "
		    "shutdown denied (monitor-restart)", changed,
		    changed == 1 ? "" : "s");
	*n = changed;
	return 0;
 fail:
	op_abort(rec, 0, &saved);
	return r;
}

int
rec_policy_put(struct rec *rec, const char *sha256, const char *text,
    const char *source, int64_t now_us)
{
	struct op_saved saved;
	sqlite3_stmt *s;
	int r;

	if ((r = op_begin(rec, NULL, &saved)) != 0)
		return r;
	if ((s = stmt(rec, ST_POLICY_PUT)) == NULL) {
		r = BST_ERR_DB;
		goto fail;
	}
	sqlite3_bind_text(s, 1, sha256, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 2, text, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 3, source, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 4, now_us);
	sqlite3_bind_int64(s, 5, now_us);
	if ((r = step_done(rec, s, "recording the policy")) != 0)
		goto fail;
	if ((s = stmt(rec, ST_POLICY_LOADED)) == NULL) {
		r = BST_ERR_DB;
		goto fail;
	}
	sqlite3_bind_int64(s, 1, now_us);
	sqlite3_bind_text(s, 2, source, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 3, sha256, -1, SQLITE_TRANSIENT);
	if ((r = step_done(rec, s, "recording the policy")) != 0)
		goto fail;
	if ((r = op_release(rec)) != 0)
		goto fail;
	return batch_commit(rec);
 fail:
	op_abort(rec, 0, &saved);
	return r;
}

/* One row of ST_POLICY_LIST as JSON, its text checked against its name. */
static struct json_object *
policy_row_json(struct rec *rec, sqlite3_stmt *s)
{
	struct json_object *o = json_object_new_object(), *pol;
	const char *sha = (const char *)sqlite3_column_text(s, 0);
	const char *text = (const char *)sqlite3_column_text(s, 1);
	const char *src = (const char *)sqlite3_column_text(s, 2);
	char hex[REC_HASH_LEN * 2 + 1] = "";

	if (text != NULL && sha256_hex(rec, text, hex) != 0)
		hex[0] = '\0';
	json_object_object_add(o, "sha256", json_object_new_string(
	    sha != NULL ? sha : ""));
	json_object_object_add(o, "source", json_object_new_string(
	    src != NULL ? src : ""));
	json_object_object_add(o, "first_loaded", json_iso_or_null(
	    sqlite3_column_int64(s, 3), 0));
	json_object_object_add(o, "first_loaded_us", json_object_new_int64(
	    sqlite3_column_int64(s, 3)));
	json_object_object_add(o, "last_loaded", json_iso_or_null(
	    sqlite3_column_int64(s, 4), 0));
	json_object_object_add(o, "last_loaded_us", json_object_new_int64(
	    sqlite3_column_int64(s, 4)));
	/* The row names itself: a text edited afterwards no longer does. */
	json_object_object_add(o, "text_matches_sha256", json_object_new_boolean(
	    sha != NULL && strcmp(sha, hex) == 0));
	pol = text != NULL ? json_tokener_parse(text) : NULL;
	json_object_object_add(o, "policy", pol != NULL ? pol :
	    json_object_new_string(text != NULL ? text : ""));
	return o;
}

int
rec_policy_list(struct rec *rec, struct json_object **out)
{
	struct json_object *arr = json_object_new_array();
	sqlite3_stmt *s;
	int r, rc;

	*out = NULL;
	if (rec->version < 5) {
		*out = arr;	/* no policy versions before schema 5 */
		return 0;
	}
	if ((r = read_prepare(rec)) != 0 || (r = snapshot_begin(rec)) != 0)
		goto fail;
	if ((s = stmt(rec, ST_POLICY_LIST)) == NULL)
		r = BST_ERR_DB;
	else {
		while ((rc = sqlite3_step(s)) == SQLITE_ROW)
			json_object_array_add(arr, policy_row_json(rec, s));
		st_done(s);
		if (rc != SQLITE_DONE)
			r = db_fail(rec, "listing policies");
	}
	snapshot_end(rec);
	if (r != 0)
		goto fail;
	*out = arr;
	return 0;
 fail:
	json_object_put(arr);
	return r;
}

/*
 * The rows of statement st for request id as a JSON array of objects:
 * names[i] for column i; the column after the last name is a time in
 * microseconds, added as "time" (ISO 8601) and, with time_us, as itself.
 */
static int
req_rows(struct rec *rec, enum rec_stmt st, int64_t id,
    const char *const *names, int time_us, const char *what,
    struct json_object **out)
{
	struct json_object *arr = json_object_new_array(), *v;
	sqlite3_stmt *s;
	int rc, i;

	*out = arr;
	if ((s = stmt(rec, st)) == NULL)
		return BST_ERR_DB;
	sqlite3_bind_int64(s, 1, id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		v = json_object_new_object();
		for (i = 0; names[i] != NULL; i++)
			json_object_object_add(v, names[i], col_json(s, i));
		json_object_object_add(v, "time", json_iso_or_null(
		    sqlite3_column_int64(s, i), col_null(s, i)));
		if (time_us)
			json_object_object_add(v, "time_us", col_json(s, i));
		json_object_array_add(arr, v);
	}
	st_done(s);
	if (rc != SQLITE_DONE)
		return db_fail(rec, what);
	return 0;
}

/* The votes on request id as a JSON array. */
static int
req_votes(struct rec *rec, int64_t id, struct json_object **out)
{
	static const char *const names[] = {
		"approver", "vote", "reason", NULL
	};

	return req_rows(rec, ST_VOTES, id, names, 1, "reading votes", out);
}

/* How the notification channels fared, as a JSON array. */
static int
req_notify(struct rec *rec, int64_t id, struct json_object **out)
{
	static const char *const names[] = {
		"channel", "status", "detail", "attempts", NULL
	};

	return req_rows(rec, ST_NOTIFY_GET, id, names, 0,
	    "reading notification status", out);
}

int
rec_request_notify(struct rec *rec, int64_t id, const char *channel,
    const char *status, const char *detail, int attempts)
{
	struct op_saved saved;
	sqlite3_stmt *s;
	int r;

	if ((r = op_begin(rec, NULL, &saved)) != 0)
		return r;
	if ((s = stmt(rec, ST_NOTIFY_SET)) == NULL) {
		r = BST_ERR_DB;
		goto fail;
	}
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_text(s, 2, channel, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, status, -1, SQLITE_STATIC);
	bind_text_or_null(s, 4, detail);
	sqlite3_bind_int(s, 5, attempts);
	sqlite3_bind_int64(s, 6, now_real_us());
	if ((r = step_done(rec, s, "recording notification status")) != 0 ||
	    (r = op_release(rec)) != 0)
		goto fail;
	return batch_commit(rec);
 fail:
	op_abort(rec, 0, &saved);
	return r;
}

int
rec_session_tail(struct rec *rec, int64_t sid, size_t max, char **out,
    size_t *lenp)
{
	sqlite3_stmt *s;
	char *buf;
	size_t len = 0, n;
	int r, rc;

	*out = NULL;
	*lenp = 0;
	if ((r = read_prepare(rec)) != 0)
		return r;
	if ((s = stmt(rec, ST_TAIL)) == NULL)
		return BST_ERR_DB;
	buf = xmalloc(max + 1);
	sqlite3_bind_int64(s, 1, sid);
	sqlite3_bind_int(s, 2, 256);
	/* Chunks newest first: fill buf from its end. */
	while (len < max && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		const uint8_t *d = sqlite3_column_blob(s, 0);

		n = (size_t)sqlite3_column_bytes(s, 0);
		if (d == NULL || n == 0)
			continue;
		if (n > max - len) {
			d += n - (max - len);
			n = max - len;
		}
		memcpy(buf + max - len - n, d, n);
		len += n;
	}
	st_done(s);
	memmove(buf, buf + max - len, len);
	buf[len] = '\0';
	*out = buf;
	*lenp = len;
	return 0;
}

static void
add_time(struct json_object *o, const char *name, sqlite3_stmt *s, int col)
{
	char key[32];

	json_object_object_add(o, name, json_iso_or_null(
	    sqlite3_column_int64(s, col), col_null(s, col)));
	snprintf(key, sizeof(key), "%s_us", name);
	json_object_object_add(o, key, col_json(s, col));
}

/* The current row of a REQ_COLUMNS query, with its votes. */
static int
request_json(struct rec *rec, sqlite3_stmt *s, struct json_object **out)
{
	struct json_object *o = json_object_new_object(), *votes = NULL, *a;
	const void *text = sqlite3_column_text(s, RC_ANALYSIS);
	int r;

	json_object_object_add(o, "id", col_json(s, RC_ID));
	json_object_object_add(o, "session_id", col_json(s, RC_SESSION));
	json_object_object_add(o, "channel", col_json(s, RC_CHANNEL));
	json_object_object_add(o, "identity", col_json(s, RC_IDENTITY));
	json_object_object_add(o, "owner", col_json(s, RC_OWNER));
	json_object_object_add(o, "target", col_json(s, RC_TARGET));
	json_object_object_add(o, "target_user", col_json(s, RC_TARGET_USER));
	json_object_object_add(o, "command", col_json(s, RC_COMMAND));
	json_object_object_add(o, "command_sha256", col_json(s, RC_SHA256));
	json_object_object_add(o, "rule", col_json(s, RC_RULE));
	json_object_object_add(o, "reason", col_json(s, RC_REASON));
	json_object_object_add(o, "groups", col_json(s, RC_GROUPS));
	json_object_object_add(o, "count", col_json(s, RC_COUNT));
	json_object_object_add(o, "timeout", col_json(s, RC_TIMEOUT));
	json_object_object_add(o, "deferred", json_object_new_boolean(
	    sqlite3_column_int(s, RC_DEFERRED) != 0));
	/* Stored by us as JSON text; anything else shows as a string. */
	if ((a = parse_json_len(text, (size_t)sqlite3_column_bytes(s,
	    RC_ANALYSIS))) == NULL)
		a = col_json(s, RC_ANALYSIS);
	json_object_object_add(o, "analysis", a);
	json_object_object_add(o, "status", col_json(s, RC_STATUS));
	add_time(o, "created", s, RC_CREATED);
	add_time(o, "expires", s, RC_EXPIRES);
	add_time(o, "decided", s, RC_DECIDED);
	json_object_object_add(o, "decided_by", col_json(s, RC_DECIDED_BY));
	json_object_object_add(o, "detail", col_json(s, RC_DETAIL));
	add_time(o, "valid_until", s, RC_VALID_UNTIL);
	json_object_object_add(o, "used_by_session", col_json(s, RC_USED_BY));
	add_time(o, "used", s, RC_USED);
	r = req_votes(rec, sqlite3_column_int64(s, RC_ID), &votes);
	json_object_object_add(o, "votes", votes);
	if (r == 0 && rec->version >= 3) {
		r = req_notify(rec, sqlite3_column_int64(s, RC_ID), &votes);
		json_object_object_add(o, "notify", votes);
	}
	if (r != 0) {
		json_object_put(o);
		return r;
	}
	*out = o;
	return 0;
}

/* Every row of a REQ_COLUMNS statement (bound, reset here) into arr. */
static int
requests_json(struct rec *rec, sqlite3_stmt *s, struct json_object *arr,
    const char *what)
{
	struct json_object *o;
	int r = 0, rc;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if ((r = request_json(rec, s, &o)) != 0)
			break;
		json_object_array_add(arr, o);
	}
	st_done(s);
	if (r == 0 && rc != SQLITE_DONE)
		r = db_fail(rec, what);
	return r;
}

int
rec_request_get(struct rec *rec, int64_t id, struct json_object **out)
{
	struct json_object *o = NULL;
	sqlite3_stmt *s;
	int r = BST_ERR_INTERNAL, rc;

	*out = NULL;
	if (rec->version < 2)
		return BST_ERR_NOTFOUND;
	if ((r = read_prepare(rec)) != 0 || (r = snapshot_begin(rec)) != 0)
		return r;
	if ((s = stmt(rec, ST_REQ_ROW)) == NULL) {
		r = BST_ERR_DB;
		goto out;
	}
	sqlite3_bind_int64(s, 1, id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		r = request_json(rec, s, &o);
	else if (rc == SQLITE_DONE)
		r = BST_ERR_NOTFOUND;
	else
		r = db_fail(rec, "reading approval request");
	st_done(s);
	if (r != 0)
		goto out;
	*out = o;
	o = NULL; /* transferred */
 out:
	snapshot_end(rec);
	json_object_put(o);
	return r;
}

int
rec_request_list(struct rec *rec, int status, struct json_object **out)
{
	struct json_object *arr = NULL;
	sqlite3_stmt *s;
	int r = BST_ERR_INTERNAL;

	*out = NULL;
	if (status >= REQ_NSTATUS) {
		log_error("recorder: no request status %d", status);
		return BST_ERR_INTERNAL;
	}
	arr = json_object_new_array();
	if (rec->version < 2) {
		*out = arr;	/* no requests before schema version 2 */
		return 0;
	}
	if ((r = read_prepare(rec)) != 0 || (r = snapshot_begin(rec)) != 0)
		goto fail;
	if ((s = stmt(rec, ST_REQ_LIST)) == NULL)
		r = BST_ERR_DB;
	else {
		if (status >= 0)
			sqlite3_bind_text(s, 1, req_status_names[status], -1,
			    SQLITE_STATIC);
		r = requests_json(rec, s, arr, "listing approval requests");
	}
	snapshot_end(rec);
	if (r != 0)
		goto fail;
	*out = arr;
	return 0;
 fail:
	json_object_put(arr);
	return r;
}

/* "requests" of rec_show_session(): made in session sid or used by it. */
static int
show_requests(struct rec *rec, int64_t sid, struct json_object *o)
{
	struct json_object *arr = json_object_new_array();
	sqlite3_stmt *s;

	json_object_object_add(o, "requests", arr);
	if (rec->version < 2)
		return 0;
	if ((s = stmt(rec, ST_REQ_SESSION)) == NULL)
		return BST_ERR_DB;
	sqlite3_bind_int64(s, 1, sid);
	return requests_json(rec, s, arr, "reading approval requests");
}
