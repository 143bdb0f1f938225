/*
 * verify.c: walks a session's stored events and recomputes its hash
 * chain (for `bastionctl verify` and for sealing sessions a previous
 * monitor left open), cross-checks the session row against the chained
 * facts, and checks seal signatures.  Trusts nothing it reads from the
 * database: every byte is recomputed or compared.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <sqlite3.h>

#include "common/err.h"
#include "common/log.h"
#include "common/sealkey.h"
#include "common/util.h"
#include "recorder/rec_int.h"

void
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
struct json_object *
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
int
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
