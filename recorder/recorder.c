/*
 * recorder.c: the session recording store.  One SQLite database in WAL
 * mode holds every session, its channels and every event of it, each
 * event chained to the previous one of its session by SHA-256 (see
 * recorder.h for the chain and schema.c for the columns).  This file
 * opens the store (migrations, recovery of sessions a previous monitor
 * left open, seal keys, the WAL's reset) and is its write side; reading
 * is read.c, verifying verify.c, approval requests requests.c, and
 * rec_int.h what they share.
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
#include "common/sealkey.h"
#include "common/util.h"
#include "recorder/checkpoint.h"
#include "recorder/rec_int.h"

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

int
streq_null(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/* "2024-05-01T12:00:00.123456Z" into buf (at least 32 bytes). */
void
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

struct json_object *
json_str_or_null(const char *s)
{
	return s == NULL ? NULL : json_object_new_string(s);
}

struct json_object *
json_iso_or_null(int64_t us, int isnull)
{
	char buf[64];

	if (isnull)
		return NULL;
	fmt_iso(us, buf, sizeof(buf));
	return json_object_new_string(buf);
}

/* Column as JSON: NULL, integer, or text. */
struct json_object *
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

const char *
col_text(sqlite3_stmt *s, int i)
{
	return (const char *)sqlite3_column_text(s, i);
}

int
col_null(sqlite3_stmt *s, int i)
{
	return sqlite3_column_type(s, i) == SQLITE_NULL;
}

/* A string member of a JSON object, or NULL. */
const char *
jget_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (o == NULL || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* An integer member; returns 0 and sets *out when present. */
int
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
int
jget_bool(struct json_object *o, const char *key, int dflt)
{
	struct json_object *v;

	if (o == NULL || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_boolean))
		return dflt;
	return json_object_get_boolean(v);
}

void
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

sqlite3_stmt *
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

void
st_done(sqlite3_stmt *s)
{
	if (s == NULL)
		return;
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
}

void
bind_text_or_null(sqlite3_stmt *s, int i, const char *v)
{
	if (v == NULL)
		sqlite3_bind_null(s, i);
	else
		sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
}

struct live *
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
int
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
int
step_done(struct rec *rec, sqlite3_stmt *s, const char *what)
{
	int rc = sqlite3_step(s);

	st_done(s);
	return rc == SQLITE_DONE ? 0 : db_fail(rec, what);
}

/* step_done() for an UPDATE that must change exactly request id's row. */
int
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
int
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
int
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

int
op_release(struct rec *rec)
{
	return exec_stmt(rec, ST_OP_RELEASE, "RELEASE");
}

/* Undoes the operation on session sid (its memory by sid: l may move). */
void
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

int
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

int
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
int
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
int
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
int
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
