/*
 * broker.c: approval requests (see broker.h).  The database is the
 * record; the in-memory list holds what is still open (pending, or
 * approved-and-deferred until its validity passes) so the monitor loop can
 * expire requests and notify waiting workers without querying.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/crypto.h>

#include "approval/broker.h"
#include "common/config.h"
#include "common/err.h"
#include "common/hmac.h"
#include "common/log.h"
#include "common/proto.h"
#include "common/strv.h"
#include "common/util.h"
#include "recorder/recorder.h"

struct pending {
	int64_t		 id;
	int64_t		 sid;
	uint32_t	 channel;
	int		 waiting;	/* a worker channel waits for it */
	int64_t		 expires_mono;	/* monotonic deadline */
	int		 timeout;
	int		 count;
	char		**groups;	/* NULL-terminated; empty = any approver */
	char		*owner;
	char		*identity;
	char		**approvals;	/* names of approvers who approved */
	char		**voters;	/* everyone who voted */
	struct pending	*next;
};

struct appr_broker {
	struct rec		*rec;
	const struct cfg	*cfg;
	appr_notify_fn		 notify;
	void			*arg;
	appr_terminate_fn	 terminate;	/* the monitor's */
	void			*terminate_arg;
	appr_observe_fn		 observe;	/* channels: Slack, webhooks... */
	void			*observe_arg;
	struct pending		*open;
};

/* Tells the observer (if any) what happened; after it is committed. */
static void
observe(struct appr_broker *b, int64_t id, enum appr_event ev)
{
	if (b->observe != NULL)
		b->observe(b->observe_arg, id, ev);
}

void
appr_set_observer(struct appr_broker *b, appr_observe_fn fn, void *arg)
{
	b->observe = fn;
	b->observe_arg = arg;
}

static void
pending_free(struct pending *p)
{
	strv_free(p->groups);
	strv_free(p->approvals);
	strv_free(p->voters);
	free(p->owner);
	free(p->identity);
	free(p);
}

struct appr_broker *
appr_broker_new(struct rec *rec, const struct cfg *cfg, appr_notify_fn notify,
    void *arg)
{
	struct appr_broker *b = xcalloc(1, sizeof(*b));

	b->rec = rec;
	b->cfg = cfg;
	b->notify = notify;
	b->arg = arg;
	return b;
}

void
appr_broker_free(struct appr_broker *b)
{
	struct pending *p;

	if (b == NULL)
		return;
	while ((p = b->open) != NULL) {
		b->open = p->next;
		pending_free(p);
	}
	free(b);
}

int
appr_hold(struct appr_broker *b, struct rec_request *req, int waiting,
    int64_t *id, char **message)
{
	struct pending *p;
	char *gt;
	int r;

	*message = NULL;
	req->deferred = !waiting;
	if ((r = rec_request_create(b->rec, req, id)) != 0)
		return r;
	p = xcalloc(1, sizeof(*p));
	p->id = *id;
	p->sid = req->session_id;
	p->channel = (uint32_t)req->channel;
	p->waiting = waiting;
	p->timeout = req->timeout;
	p->count = req->count > 0 ? req->count : 1;
	p->expires_mono = now_mono_us() + (int64_t)req->timeout * 1000000;
	p->groups = strv_split(req->groups);
	p->owner = xstrdup(req->owner ? req->owner : "");
	p->identity = xstrdup(req->identity ? req->identity : "");
	p->approvals = xcalloc(1, sizeof(char *));
	p->voters = xcalloc(1, sizeof(char *));
	p->next = b->open;
	b->open = p;
	gt = strv_join(p->groups, ",");
	*message = xasprintf("held for approval: request %lld, rule \"%s\", "
	    "needs %d of %s, expires in %ds%s", (long long)*id,
	    req->rule ? req->rule : "?", p->count, *gt ? gt : "any approver",
	    req->timeout, waiting ? "" : "; not waiting (BASTION_WAIT=0): "
	    "re-run the same command once it is approved");
	free(gt);
	log_info("session %lld: request %lld held: %s", (long long)p->sid,
	    (long long)*id, req->reason ? req->reason : "");
	observe(b, *id, APPR_EV_HELD);
	return 0;
}

static void
unlink_pending(struct appr_broker *b, struct pending *p)
{
	struct pending **pp;

	for (pp = &b->open; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			return;
		}
	}
}

static struct pending *
find_pending(struct appr_broker *b, int64_t id)
{
	struct pending *p;

	for (p = b->open; p != NULL; p = p->next)
		if (p->id == id)
			return p;
	return NULL;
}

static int vote_as(struct appr_broker *, int64_t,
    const struct cfg_approver *, int, const char *, json_object **);

/* Finishes p with st, tells its worker, forgets it. */
static int
finish(struct appr_broker *b, struct pending *p, enum rec_req_status st,
    const char *by, const char *detail, int verdict, int code,
    const char *message)
{
	int64_t id;
	int r;

	if ((r = rec_request_finish(b->rec, p->id, st, by, detail)) != 0)
		log_error("request %lld: cannot record its outcome: %s",
		    (long long)p->id, bst_strerror(r));
	/* Fail closed: a run is only sent when the outcome is recorded. */
	if (p->waiting && (r == 0 || verdict != VERDICT_RUN))
		b->notify(b->arg, p->sid, p->channel, verdict, code,
		    (uint64_t)p->id, message);
	else if (p->waiting)
		b->notify(b->arg, p->sid, p->channel, VERDICT_DENIED,
		    PROTO_EXIT_SOFTWARE, (uint64_t)p->id,
		    "internal error: the approval could not be recorded");
	id = p->id;
	unlink_pending(b, p);
	pending_free(p);
	if (r == 0)
		observe(b, id, APPR_EV_FINAL);
	return r;
}

static const struct cfg_approver *
approver_by_token(const struct cfg *cfg, const char *token)
{
	char hex[HMAC_SHA256_HEXLEN + 1];
	size_t i;

	if (token == NULL || *token == '\0')
		return NULL;
	if (sha256_hex_of(token, strlen(token), hex) != 0)
		return NULL;
	for (i = 0; i < cfg->napprovers; i++) {
		const char *want = cfg->approvers[i].token_sha256;

		if (want != NULL && strlen(want) == 64 &&
		    CRYPTO_memcmp(want, hex, 64) == 0)
			return &cfg->approvers[i];
	}
	return NULL;
}

static int
approver_in_groups(const struct cfg_approver *a, char **groups)
{
	char **g;

	if (groups == NULL || groups[0] == NULL)
		return 1;	/* any configured approver */
	for (g = groups; *g != NULL; g++)
		if (strv_contains(a->groups, *g))
			return 1;
	return 0;
}

const struct cfg_approver *
appr_approver_by_token(const struct appr_broker *b, const char *token)
{
	return approver_by_token(b->cfg, token);
}

const struct cfg_approver *
appr_approver_by_slack(const struct appr_broker *b, const char *slack_user)
{
	return cfg_find_approver_by_slack(b->cfg, slack_user);
}

void
appr_set_terminator(struct appr_broker *b, appr_terminate_fn fn, void *arg)
{
	b->terminate = fn;
	b->terminate_arg = arg;
}

int
appr_terminate(struct appr_broker *b, int64_t sid, const char *token,
    const char *reason, json_object **reply)
{
	if (b->terminate == NULL) {
		*reply = appr_error_reply(APPR_E_INTERNAL, "sessions cannot "
		    "be ended here");
		return 0;
	}
	return b->terminate(b->terminate_arg, sid, token, reason, reply);
}

void
appr_broker_set_cfg(struct appr_broker *b, const struct cfg *cfg)
{
	b->cfg = cfg;
}

json_object *
appr_error_vreply(const char *code, const char *fmt, va_list ap)
{
	json_object *o = json_object_new_object();
	char buf[512];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	json_object_object_add(o, "ok", json_object_new_boolean(0));
	json_object_object_add(o, "error", json_object_new_string(buf));
	if (code != NULL)
		json_object_object_add(o, "code", json_object_new_string(code));
	return o;
}

json_object *
appr_error_reply(const char *code, const char *fmt, ...)
{
	json_object *o;
	va_list ap;

	va_start(ap, fmt);
	o = appr_error_vreply(code, fmt, ap);
	va_end(ap);
	return o;
}

static json_object *
reply_ok(const char *status, const char *message)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "ok", json_object_new_boolean(1));
	json_object_object_add(o, "status", json_object_new_string(status));
	json_object_object_add(o, "message", json_object_new_string(message));
	return o;
}

int
appr_vote(struct appr_broker *b, int64_t id, const char *token, int approve,
    const char *reason, json_object **reply)
{
	const struct cfg_approver *a;

	*reply = NULL;
	if ((a = approver_by_token(b->cfg, token)) == NULL) {
		*reply = appr_error_reply(APPR_E_TOKEN, "unknown approver token");
		return 0;
	}
	return vote_as(b, id, a, approve, reason, reply);
}

int
appr_vote_by_approver(struct appr_broker *b, int64_t id, const char *name,
    int approve, const char *reason, json_object **reply)
{
	const struct cfg_approver *a;

	*reply = NULL;
	if (name == NULL || (a = cfg_find_approver(b->cfg, name)) == NULL) {
		*reply = appr_error_reply(APPR_E_TOKEN, "unknown approver");
		return 0;
	}
	return vote_as(b, id, a, approve, reason, reply);
}

/* The rules, whatever the channel the vote came through. */
static int
vote_as(struct appr_broker *b, int64_t id, const struct cfg_approver *a,
    int approve, const char *reason, json_object **reply)
{
	const struct cfg_identity *cur;
	struct pending *p;
	json_object *req = NULL, *st;
	char *names = NULL, *msg = NULL, *gt = NULL;
	int r = 0;

	p = find_pending(b, id);
	if (p == NULL) {
		/* Say what it is, if it exists at all. */
		if (rec_request_get(b->rec, id, &req) != 0) {
			*reply = appr_error_reply(APPR_E_NOTFOUND, "no request %lld",
			    (long long)id);
			return 0;
		}
		json_object_object_get_ex(req, "status", &st);
		*reply = appr_error_reply(APPR_E_FINAL, "request %lld is already "
		    "%s: a decided "
		    "request is final", (long long)id,
		    json_object_get_string(st));
		json_object_put(req);
		return 0;
	}
	/* The owner when it was held, and the owner now (SIGHUP). */
	if (strcmp(a->name, p->owner) == 0 ||
	    ((cur = cfg_find_identity(b->cfg, p->identity)) != NULL &&
	    strcmp(a->name, cur->owner) == 0)) {
		*reply = appr_error_reply(APPR_E_SELF, "%s owns %s: self-approval "
		    "is not "
		    "allowed; another approver must decide", a->name,
		    p->identity);
		return 0;
	}
	if (!approver_in_groups(a, p->groups)) {
		gt = strv_join(p->groups, ",");
		*reply = appr_error_reply(APPR_E_GROUP, "%s is not in the required "
		    "group(s) %s", a->name, gt);
		free(gt);
		return 0;
	}
	if (strv_contains(p->voters, a->name)) {
		*reply = appr_error_reply(APPR_E_VOTED, "%s has already voted on "
		    "request %lld", a->name, (long long)id);
		return 0;
	}
	if ((r = rec_request_vote(b->rec, id, a->name, approve,
	    reason ? reason : "")) != 0) {
		*reply = appr_error_reply(APPR_E_INTERNAL, "cannot record the vote: "
		    "%s", bst_strerror(r));
		return r;
	}
	strv_add(&p->voters, a->name);
	log_info("request %lld: %s by %s%s%s", (long long)id,
	    approve ? "approved" : "denied", a->name,
	    reason && *reason ? ": " : "", reason ? reason : "");
	if (!approve) {
		msg = xasprintf("denied by %s (request %lld)%s%s", a->name,
		    (long long)id, reason && *reason ? ": " : "",
		    reason ? reason : "");
		*reply = reply_ok("denied", msg);
		r = finish(b, p, REC_REQ_DENIED, a->name, reason, VERDICT_DENIED,
		    PROTO_EXIT_NOPERM, msg);
		free(msg);
		return r;
	}
	strv_add(&p->approvals, a->name);
	if ((int)strv_len(p->approvals) < p->count) {
		msg = xasprintf("request %lld: approval %d of %d recorded",
		    (long long)id, (int)strv_len(p->approvals), p->count);
		*reply = reply_ok("pending", msg);
		free(msg);
		observe(b, id, APPR_EV_VOTE);
		return 0;
	}
	names = strv_join(p->approvals, ",");
	msg = xasprintf("approved by %s (request %lld)", names,
	    (long long)id);
	*reply = reply_ok("approved", msg);
	if (p->waiting)
		r = finish(b, p, REC_REQ_APPROVED, names, reason, VERDICT_RUN, 0,
		    msg);
	else {
		/* Deferred: the agent re-runs it; the recorder keeps the window. */
		r = rec_request_finish(b->rec, p->id, REC_REQ_APPROVED, names,
		    reason);
		unlink_pending(b, p);
		pending_free(p);
		if (r == 0)
			observe(b, id, APPR_EV_FINAL);
	}
	free(names);
	free(msg);
	return r;
}

void
appr_pending_ids(const struct appr_broker *b, int64_t **ids, size_t *n)
{
	const struct pending *p;
	size_t i;

	*n = 0;
	for (p = b->open; p != NULL; p = p->next)
		(*n)++;
	*ids = xcalloc(*n + 1, sizeof(**ids));
	/* appr_hold() puts the newest first: fill from the end */
	for (p = b->open, i = *n; p != NULL; p = p->next)
		(*ids)[--i] = p->id;
}

int
appr_deny_by_policy(struct appr_broker *b, int64_t id, const char *detail,
    const char *message)
{
	struct pending *p = find_pending(b, id);

	if (p == NULL)
		return BST_ERR_NOTFOUND;
	log_info("request %lld denied: %s", (long long)id, detail);
	return finish(b, p, REC_REQ_DENIED, "policy", detail, VERDICT_DENIED,
	    PROTO_EXIT_NOPERM, message);
}

void
appr_tick(struct appr_broker *b, int64_t now_us)
{
	struct pending *p, *next;
	char *msg;

	for (p = b->open; p != NULL; p = next) {
		next = p->next;
		if (now_us < p->expires_mono)
			continue;
		msg = xasprintf("expired: request %lld was not approved within "
		    "%ds", (long long)p->id, p->timeout);
		log_info("request %lld expired", (long long)p->id);
		(void)finish(b, p, REC_REQ_EXPIRED, "expiry", "not decided in "
		    "time", VERDICT_EXPIRED, PROTO_EXIT_TEMPFAIL, msg);
		free(msg);
	}
}

int64_t
appr_next_deadline(const struct appr_broker *b)
{
	const struct pending *p;
	int64_t next = INT64_MAX;

	for (p = b->open; p != NULL; p = p->next)
		if (p->expires_mono < next)
			next = p->expires_mono;
	return next;
}

void
appr_channel_gone(struct appr_broker *b, int64_t sid, uint32_t channel)
{
	struct pending *p, *next;

	for (p = b->open; p != NULL; p = next) {
		next = p->next;
		if (p->sid != sid || p->channel != channel || !p->waiting)
			continue;
		p->waiting = 0;
		(void)finish(b, p, REC_REQ_CANCELLED, "agent", "the agent "
		    "closed the channel before a decision", VERDICT_DENIED, 0,
		    "");
	}
}

void
appr_session_ending(struct appr_broker *b, int64_t sid, const char *by,
    const char *why)
{
	struct pending *p, *next;
	char *msg;

	for (p = b->open; p != NULL; p = next) {
		next = p->next;
		if (p->sid != sid || !p->waiting)
			continue;
		msg = xasprintf("%s; request %lld was cancelled and the "
		    "session ended", why, (long long)p->id);
		log_info("request %lld cancelled: %s", (long long)p->id, why);
		(void)finish(b, p, REC_REQ_CANCELLED, by, why, VERDICT_DENIED,
		    PROTO_EXIT_NOPERM, msg);
		free(msg);
	}
}

void
appr_session_gone(struct appr_broker *b, int64_t sid)
{
	struct pending *p, *next;

	for (p = b->open; p != NULL; p = next) {
		next = p->next;
		if (p->sid != sid || !p->waiting)
			continue;
		p->waiting = 0;
		(void)finish(b, p, REC_REQ_CANCELLED, "agent", "the session "
		    "ended before a decision", VERDICT_DENIED, 0, "");
	}
}
