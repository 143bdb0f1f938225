/*
 * read.c: the read side of the recording store: listing, searching
 * (metadata and recorded bytes), showing one session, iterating its
 * events, the tail of its output.  Every string read back is untrusted
 * text for the caller to sanitize before printing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <sqlite3.h>

#include "common/err.h"
#include "common/util.h"
#include "recorder/rec_int.h"

/* ---- read side ---- */

/*
 * On the writer's handle, commit the batch first: the session rows'
 * counters are written at commit, and readers should see what another
 * connection would.
 */
int
read_prepare(struct rec *rec)
{
	return batch_commit(rec);
}

int
snapshot_begin(struct rec *rec)
{
	return exec_stmt(rec, ST_SNAP_BEGIN, "SAVEPOINT");
}

void
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
