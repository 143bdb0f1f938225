/*
 * rec_int.h: what the recorder's own files share and nobody else sees: the
 * limits, the prepared statements, the in-memory state of a writer and of a
 * chain walk, and the helpers the files call across (recorder.c: opening,
 * transactions, the chain and the write side; schema.c: the schema and the
 * SQL; verify.c: walking and verifying chains; read.c: listing, searching
 * and showing sessions; requests.c: approval requests and policy rows).
 * Trusts its callers, the recorder's files.
 */
#ifndef BST_REC_INT_H
#define BST_REC_INT_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>
#include <openssl/evp.h>
#include <sqlite3.h>

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

/* The schema, one step per version (schema.c). */
extern const char *const rec_schema_steps[REC_SCHEMA_VERSION];

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

extern const char *const rec_sql[ST_MAX];

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

/* recorder.c: helpers, statements, transactions, the chain */
int streq_null(const char *a, const char *b);
void fmt_iso(int64_t us, char *buf, size_t sz);
struct json_object *json_str_or_null(const char *s);
struct json_object *json_iso_or_null(int64_t us, int isnull);
struct json_object *col_json(sqlite3_stmt *s, int i);
const char *col_text(sqlite3_stmt *s, int i);
int col_null(sqlite3_stmt *s, int i);
const char *jget_str(struct json_object *o, const char *key);
int jget_int(struct json_object *o, const char *key, int64_t *out);
int jget_bool(struct json_object *o, const char *key, int dflt);
void set_cause(char **cause, const char *fmt, ...);
sqlite3_stmt *stmt(struct rec *rec, enum rec_stmt id);
void st_done(sqlite3_stmt *s);
void bind_text_or_null(sqlite3_stmt *s, int i, const char *v);
struct live *live_find(struct rec *rec, int64_t sid);
int db_fail(struct rec *rec, const char *what);
int step_done(struct rec *rec, sqlite3_stmt *s, const char *what);
int step_one_request(struct rec *rec, sqlite3_stmt *s, const char *what,
    int64_t id);
int exec_stmt(struct rec *rec, enum rec_stmt id, const char *what);
int op_begin(struct rec *rec, const struct live *l, struct op_saved *saved);
int op_release(struct rec *rec);
void op_abort(struct rec *rec, int64_t sid, const struct op_saved *saved);
int chain_genesis(struct rec *rec, int64_t sid, int64_t started_us,
    uint8_t out[REC_HASH_LEN]);
int chain_next(struct rec *rec, const uint8_t prev[REC_HASH_LEN], int64_t seq,
    int64_t t_us, int32_t channel, const char *kind, size_t klen,
    const void *data, size_t len, uint8_t out[REC_HASH_LEN]);
int append_json(struct rec *rec, struct live *l, int32_t channel,
    const char *kind, struct json_object *detail, int64_t *abs_us);
int seal_first_session(struct rec *rec, const char *fp, int64_t *first,
    int *row);
int batch_commit(struct rec *rec);

/* verify.c: walking a stored chain */
void walk_free(struct walk *w);
struct json_object *parse_json_len(const void *data, size_t len);
int walk_chain(struct rec *rec, int64_t sid, int64_t started_us,
    struct walk *w);

/* read.c: reading under one snapshot */
int read_prepare(struct rec *rec);
int snapshot_begin(struct rec *rec);
void snapshot_end(struct rec *rec);

/* requests.c */
int show_requests(struct rec *rec, int64_t sid, struct json_object *o);

#endif
