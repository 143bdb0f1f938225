/*
 * schema.c: the recording database's schema (each version's step, with
 * the comments auditors read in sqlite_master) and every SQL statement the
 * recorder prepares.  Data only; trusts nothing and is trusted by the
 * recorder's files.
 */
#include "recorder/rec_int.h"

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
const char *const rec_schema_steps[REC_SCHEMA_VERSION] = {
	rec_schema,
	rec_schema_v2,
	rec_schema_v3,
	rec_schema_v4,
	rec_schema_v5,
};

const char *const rec_sql[ST_MAX] = {
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
