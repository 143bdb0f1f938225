/*
 * requests.c: approval requests, votes and notification state, and
 * the policy versions table.  Each decision is also an event in the
 * session's chain.  Trusts the broker's facts; rows read back are
 * untrusted text for the caller.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/evp.h>
#include <sqlite3.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "recorder/rec_int.h"

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
int
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
