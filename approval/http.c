/*
 * http.c: the HTTP listener (see http.h).
 *
 * libmicrohttpd runs with MHD_USE_EPOLL and no internal thread: its epoll
 * descriptor sits in the monitor's poll set and MHD_run() is called when
 * it is readable or MHD's timeout passes.  Handlers answer at once (a
 * vote is a few SQLite statements), so every connection is served within
 * one loop turn after its body arrived.
 *
 * With http.tls_cert and http.tls_key it serves HTTPS: libmicrohttpd's
 * TLS (GnuTLS), TLS 1.2 and 1.3, the PEM files checked with OpenSSL first
 * (common/tlscert.h) and read again on SIGHUP (appr_http_reload_tls).
 *
 * Each request is matched against a table of routes (method, path
 * pattern, body limit, handler).  Bodies are collected raw (bounded) for
 * the Slack signature, and the Slack form is decoded by MHD's post
 * processor; no HTTP parsing of our own.
 */
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <microhttpd.h>

#include "approval/broker.h"
#include "approval/http.h"
#include "approval/notify.h"
#include "approval/render.h"
#include "approval/slackproto.h"
#include "common/config.h"
#include "common/err.h"
#include "common/log.h"
#include "common/proto.h"
#include "common/tlscert.h"
#include "common/util.h"
#include "recorder/recorder.h"

#define JSON_FLAGS	(JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
#define REASON_MAX	2000
#define PP_BUFFER	1024

struct replay {
	char	 sig[3 + 64 + 1];
	int64_t	 until_s;
};

struct appr_http {
	const struct cfg	*cfg;
	struct rec		*rec;
	struct appr_broker	*broker;
	struct notify		*notify;
	struct MHD_Daemon	*d;
	int			 lfd;
	int			 epfd;
	struct tls_pem		 pem;		/* cert == NULL: plain HTTP */
	struct replay		*seen;		/* HTTP_REPLAY_SLOTS */
};

struct hconn;
typedef void (*route_fn)(struct appr_http *, struct hconn *,
    struct MHD_Connection *);

struct route {
	const char	*method;
	const char	*pattern;	/* '#' matches one decimal id segment */
	size_t		 max_body;
	route_fn	 fn;
};

/* Per request (MHD's con_cls). */
struct hconn {
	const struct route	*route;
	int64_t			 id;		/* the '#' of the path */
	char			*body;
	size_t			 len;
	struct MHD_PostProcessor *pp;
	char			*payload;	/* Slack's form field */
	size_t			 plen;
	int			 npayload;	/* "payload" fields seen */
	char			*f_token;	/* the review page's form */
	char			*f_reason;
	char			*f_vote;
	int			 form_bad;
	int			 answered;
};

/* ---- answers ---- */

/* 1 when c arrived on the HTTPS listener. */
static int
is_tls(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci;
	const union MHD_DaemonInfo *di;

	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_DAEMON);
	if (ci == NULL || ci->daemon == NULL)
		return 0;
	di = MHD_get_daemon_info(ci->daemon, MHD_DAEMON_INFO_FLAGS);
	return di != NULL && (di->flags & MHD_USE_TLS) != 0;
}

static enum MHD_Result
answer(struct MHD_Connection *c, unsigned int status, const char *type,
    const char *body, size_t len)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(len, (void *)body,
	    MHD_RESPMEM_MUST_COPY);
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(r, "X-Frame-Options", "DENY");
	if (is_tls(c))
		MHD_add_response_header(r, "Strict-Transport-Security",
		    "max-age=31536000");
	if (strncmp(type, "text/html", 9) == 0)
		MHD_add_response_header(r, "Content-Security-Policy",
		    "default-src 'none'; style-src 'unsafe-inline'; "
		    "form-action 'self'; frame-ancestors 'none'");
	if (status == MHD_HTTP_UNAUTHORIZED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
		    "Bearer");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static void
answer_json(struct hconn *hc, struct MHD_Connection *c, unsigned int status,
    json_object *o)
{
	const char *text = json_object_to_json_string_ext(o, JSON_FLAGS);
	char *line = xasprintf("%s\n", text);

	(void)answer(c, status, "application/json", line, strlen(line));
	hc->answered = 1;
	free(line);
	json_object_put(o);
}

static void answer_error(struct hconn *, struct MHD_Connection *,
    unsigned int, const char *, ...) __attribute__((format(printf, 4, 5)));

static void
answer_error(struct hconn *hc, struct MHD_Connection *c, unsigned int status,
    const char *fmt, ...)
{
	json_object *o;
	va_list ap;

	va_start(ap, fmt);
	o = appr_error_vreply(NULL, fmt, ap);
	va_end(ap);
	answer_json(hc, c, status, o);
}

/* ---- authentication ---- */

/* The approver of the request's Bearer token, or NULL (401 answered). */
static const struct cfg_approver *
bearer(struct appr_http *h, struct hconn *hc, struct MHD_Connection *c,
    const char **token)
{
	const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_AUTHORIZATION);
	const struct cfg_approver *a = NULL;

	*token = NULL;
	if (auth != NULL && strncmp(auth, "Bearer ", 7) == 0) {
		*token = auth + 7;
		a = appr_approver_by_token(h->broker, *token);
	}
	if (a == NULL)
		answer_error(hc, c, MHD_HTTP_UNAUTHORIZED, "%s",
		    auth == NULL ? "needs an approver token: Authorization: "
		    "Bearer TOKEN" : "unknown approver token");
	return a;
}

/* ---- the API ---- */

static void
api_list(struct appr_http *h, struct hconn *hc, struct MHD_Connection *c)
{
	const char *token, *st = MHD_lookup_connection_value(c,
	    MHD_GET_ARGUMENT_KIND, "status");
	json_object *arr = NULL, *o;
	int status = REC_REQ_PENDING, i, r;

	if (bearer(h, hc, c, &token) == NULL)
		return;
	if (st != NULL && strcmp(st, "all") == 0)
		status = -1;
	else if (st != NULL) {
		for (i = 0; i <= REC_REQ_USED; i++)
			if (strcmp(st, rec_req_status_name(i)) == 0)
				break;
		if (i > REC_REQ_USED) {
			answer_error(hc, c, MHD_HTTP_BAD_REQUEST, "status must "
			    "be all, pending, approved, denied, expired, "
			    "cancelled or used");
			return;
		}
		status = i;
	}
	if ((r = rec_request_list(h->rec, status, &arr)) != 0) {
		answer_error(hc, c, MHD_HTTP_INTERNAL_SERVER_ERROR,
		    "cannot list requests: %s", bst_strerror(r));
		return;
	}
	o = json_object_new_object();
	json_object_object_add(o, "ok", json_object_new_boolean(1));
	json_object_object_add(o, "requests", arr);
	answer_json(hc, c, MHD_HTTP_OK, o);
}

static void
api_get(struct appr_http *h, struct hconn *hc, struct MHD_Connection *c)
{
	const char *token;
	json_object *req = NULL, *o;
	int r;

	if (bearer(h, hc, c, &token) == NULL)
		return;
	if ((r = rec_request_get(h->rec, hc->id, &req)) != 0) {
		if (r == BST_ERR_NOTFOUND)
			answer_error(hc, c, MHD_HTTP_NOT_FOUND,
			    "no request %lld", (long long)hc->id);
		else
			answer_error(hc, c, MHD_HTTP_INTERNAL_SERVER_ERROR,
			    "cannot read request: %s", bst_strerror(r));
		return;
	}
	o = json_object_new_object();
	json_object_object_add(o, "ok", json_object_new_boolean(1));
	json_object_object_add(o, "request", req);
	answer_json(hc, c, MHD_HTTP_OK, o);
}

/* HTTP status for a broker refusal code. */
static unsigned int
refusal_status(const char *code)
{
	static const struct {
		const char	*code;
		unsigned int	 status;
	} map[] = {
		{ APPR_E_TOKEN, MHD_HTTP_UNAUTHORIZED },
		{ APPR_E_NOTFOUND, MHD_HTTP_NOT_FOUND },
		{ APPR_E_FINAL, MHD_HTTP_CONFLICT },
		{ APPR_E_VOTED, MHD_HTTP_CONFLICT },
		{ APPR_E_SELF, MHD_HTTP_FORBIDDEN },
		{ APPR_E_GROUP, MHD_HTTP_FORBIDDEN },
	};
	size_t i;

	for (i = 0; code != NULL && i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(map[i].code, code) == 0)
			return map[i].status;
	return MHD_HTTP_INTERNAL_SERVER_ERROR;
}

/* The HTTP status of a broker reply: 200, or its refusal's. */
static unsigned int
reply_status(json_object *reply)
{
	json_object *ok, *code;

	if (json_object_object_get_ex(reply, "ok", &ok) &&
	    json_object_get_boolean(ok))
		return MHD_HTTP_OK;
	return refusal_status(json_object_object_get_ex(reply, "code",
	    &code) ? json_object_get_string(code) : NULL);
}

/*
 * The optional body {"reason": "..."} of a vote or a termination: 0 with
 * *reason (in *body, which the caller puts; "" without one), or -1 once a
 * 400 is answered.  one_line: the reason must also be one printable line.
 */
static int
body_reason(struct hconn *hc, struct MHD_Connection *c, size_t max,
    int one_line, json_object **body, const char **reason)
{
	json_object *v;
	json_tokener *tok;

	*body = NULL;
	*reason = "";
	if (hc->len == 0)
		return 0;
	tok = json_tokener_new_ex(8);
	*body = json_tokener_parse_ex(tok, hc->body, (int)hc->len);
	if (*body == NULL || json_tokener_get_error(tok) !=
	    json_tokener_success ||
	    !json_object_is_type(*body, json_type_object)) {
		json_tokener_free(tok);
		json_object_put(*body);
		*body = NULL;
		answer_error(hc, c, MHD_HTTP_BAD_REQUEST, "the body must be a "
		    "JSON object: {\"reason\": \"...\"}");
		return -1;
	}
	json_tokener_free(tok);
	if (!json_object_object_get_ex(*body, "reason", &v) || v == NULL)
		return 0;
	if (!json_object_is_type(v, json_type_string) ||
	    (size_t)json_object_get_string_len(v) > max ||
	    (size_t)json_object_get_string_len(v) !=
	    strlen(json_object_get_string(v))) {
		answer_error(hc, c, MHD_HTTP_BAD_REQUEST, "\"reason\" must be "
		    "a string of at most %zu bytes", max);
		goto bad;
	}
	if (one_line && !is_one_line(json_object_get_string(v))) {
		answer_error(hc, c, MHD_HTTP_BAD_REQUEST, "\"reason\" must be "
		    "one line of printable text (the agent sees it)");
		goto bad;
	}
	*reason = json_object_get_string(v);
	return 0;
 bad:
	json_object_put(*body);
	*body = NULL;
	return -1;
}

/* Answers a broker reply (its status, reply_status()); NULL is a 500. */
static unsigned int
answer_reply(struct hconn *hc, struct MHD_Connection *c, json_object *reply)
{
	unsigned int status;

	if (reply == NULL) {
		answer_error(hc, c, MHD_HTTP_INTERNAL_SERVER_ERROR,
		    "internal error");
		return MHD_HTTP_INTERNAL_SERVER_ERROR;
	}
	status = reply_status(reply);
	answer_json(hc, c, status, reply);
	return status;
}

static void
api_vote(struct appr_http *h, struct hconn *hc, struct MHD_Connection *c,
    int approve)
{
	const struct cfg_approver *a;
	const char *token, *reason;
	json_object *body, *reply = NULL;

	if ((a = bearer(h, hc, c, &token)) == NULL)
		return;
	if (body_reason(hc, c, REASON_MAX, 0, &body, &reason) != 0)
		return;
	(void)appr_vote(h->broker, hc->id, token, approve, reason, &reply);
	log_info("http: %s %s request %lld: %s", a->name, approve ? "approves" :
	    "denies", (long long)hc->id, answer_reply(hc, c, reply) ==
	    MHD_HTTP_OK ? "recorded" : "refused");
	json_object_put(body);
}

static void
api_approve(struct appr_http *h, struct hconn *hc, struct MHD_Connection *c)
{
	api_vote(h, hc, c, 1);
}

static void
api_deny(struct appr_http *h, struct hconn *hc, struct MHD_Connection *c)
{
	api_vote(h, hc, c, 0);
}

/* POST /api/sessions/ID/terminate: an approver ends a live session. */
static void
api_terminate(struct appr_http *h, struct hconn *hc, struct MHD_Connection *c)
{
	const struct cfg_approver *a;
	const char *token, *reason;
	json_object *body, *reply = NULL;

	if ((a = bearer(h, hc, c, &token)) == NULL)
		return;
	if (body_reason(hc, c, PROTO_MAX_TERMINATE_REASON, 1, &body,
	    &reason) != 0)
		return;
	(void)appr_terminate(h->broker, hc->id, token, reason, &reply);
	log_info("http: %s terminates session %lld: %s", a->name,
	    (long long)hc->id, answer_reply(hc, c, reply) == MHD_HTTP_OK ?
	    "ending" : "refused");
	json_object_put(body);
}

/* ---- the review page ---- */

static void
review_page(struct appr_http *h, struct hconn *hc, struct MHD_Connection *c)
{
	const char *k = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND,
	    "k"), *token;
	json_object *req = NULL, *sid;
	char *raw = NULL, *tail = NULL, *page;
	size_t len = 0;

	if (k != NULL) {
		if (h->notify == NULL || !notify_link_ok(h->notify, hc->id, k)) {
			/* Same answer as an unknown id: nothing to probe. */
			answer_error(hc, c, MHD_HTTP_NOT_FOUND, "no such page");
			return;
		}
	} else if (bearer(h, hc, c, &token) == NULL)
		return;
	if (rec_request_get(h->rec, hc->id, &req) != 0) {
		answer_error(hc, c, MHD_HTTP_NOT_FOUND, "no such page");
		return;
	}
	if (json_object_object_get_ex(req, "session_id", &sid) &&
	    rec_session_tail(h->rec, json_object_get_int64(sid), 16 * 1024,
	    &raw, &len) == 0)
		tail = rnd_term_tail(raw, len, RND_TAIL_LINES, RND_TAIL_MAX);
	page = rnd_review_page(req, tail);
	(void)answer(c, MHD_HTTP_OK, "text/html; charset=utf-8", page,
	    strlen(page));
	hc->answered = 1;
	free(page);
	free(raw);
	free(tail);
	json_object_put(req);
}

/*
 * POST /requests/ID from the review page's form: token, vote
 * (approve|deny), reason.  The token authenticates the approver (the
 * page's link key is not needed, and not enough); the broker's rules
 * apply as for the API.  Answers an HTML page; the token is zeroed.
 */
static void
review_vote(struct appr_http *h, struct hconn *hc, struct MHD_Connection *c)
{
	const struct cfg_approver *a = NULL;
	json_object *reply = NULL, *msg;
	unsigned int status = MHD_HTTP_OK;
	const char *text;
	char *page, *err = NULL;
	int approve = 0, good;

	if (hc->form_bad || hc->f_vote == NULL ||
	    (strcmp(hc->f_vote, "approve") != 0 &&
	    strcmp(hc->f_vote, "deny") != 0))
		err = xstrdup("the form must say approve or deny");
	else if (hc->f_token == NULL || *hc->f_token == '\0')
		err = xstrdup("your approver token is required");
	else if ((a = appr_approver_by_token(h->broker, hc->f_token)) == NULL) {
		err = xstrdup("unknown approver token");
		status = MHD_HTTP_UNAUTHORIZED;
	}
	if (err != NULL) {
		if (status == MHD_HTTP_OK)
			status = MHD_HTTP_BAD_REQUEST;
		page = rnd_vote_page(hc->id, 0, err);
		(void)answer(c, status, "text/html; charset=utf-8", page,
		    strlen(page));
		hc->answered = 1;
		free(page);
		free(err);
		return;
	}
	approve = strcmp(hc->f_vote, "approve") == 0;
	(void)appr_vote(h->broker, hc->id, hc->f_token, approve,
	    hc->f_reason != NULL && *hc->f_reason != '\0' ? hc->f_reason :
	    "via the review page", &reply);
	if (reply == NULL) {
		answer_error(hc, c, MHD_HTTP_INTERNAL_SERVER_ERROR,
		    "internal error");
		return;
	}
	status = reply_status(reply);
	good = status == MHD_HTTP_OK;
	text = json_object_object_get_ex(reply, good ? "message" : "error",
	    &msg) ? json_object_get_string(msg) : "";
	log_info("http: review page: %s %s request %lld: %s", a->name,
	    approve ? "approves" : "denies", (long long)hc->id,
	    good ? "recorded" : "refused");
	page = rnd_vote_page(hc->id, good, text);
	(void)answer(c, status, "text/html; charset=utf-8", page,
	    strlen(page));
	hc->answered = 1;
	free(page);
	json_object_put(reply);
}

/* ---- Slack ---- */

/* 1 if sig was seen (replay); else remembers it.  -1: no room (refuse). */
static int
replay_check(struct appr_http *h, const char *sig, int64_t now_s)
{
	int i, free_slot = -1;

	for (i = 0; i < HTTP_REPLAY_SLOTS; i++) {
		struct replay *r = &h->seen[i];

		if (r->until_s < now_s) {
			if (free_slot < 0)
				free_slot = i;
			continue;
		}
		if (strcmp(r->sig, sig) == 0)
			return 1;
	}
	if (free_slot < 0)
		return -1;
	snprintf(h->seen[free_slot].sig, sizeof(h->seen[free_slot].sig), "%s",
	    sig);
	/* Past the window the timestamp check refuses it anyway. */
	h->seen[free_slot].until_s = now_s + 2 * SLACK_MAX_SKEW_S + 1;
	return 0;
}

static void
slack_refuse(struct appr_http *h, struct hconn *hc, struct MHD_Connection *c,
    const struct slack_action *a, const char *text)
{
	log_info("slack: click by %s on request %lld refused: %s", a->user_id,
	    (long long)a->request, text);
	if (h->notify != NULL)
		notify_slack_reply(h->notify, a->response_url, text);
	/* Slack wants 200: the refusal is told through response_url. */
	(void)answer(c, MHD_HTTP_OK, "text/plain", "", 0);
	hc->answered = 1;
}

static void
slack_actions(struct appr_http *h, struct hconn *hc, struct MHD_Connection *c)
{
	const struct cfg_slack *sl = h->cfg->slack;
	const struct cfg_approver *ap;
	struct slack_action a;
	const char *ts, *sig, *why, *mch, *mts;
	json_object *reply = NULL, *ok, *err, *st;
	char *text;
	int64_t now_s = now_real_us() / 1000000;
	int r;

	if (sl == NULL || sl->signing_secret == NULL) {
		answer_error(hc, c, MHD_HTTP_NOT_FOUND, "not found");
		return;
	}
	ts = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    "X-Slack-Request-Timestamp");
	sig = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    "X-Slack-Signature");
	if ((r = slack_verify(sl->signing_secret, ts, sig, hc->body, hc->len,
	    now_s, &why)) != 0) {
		log_warn("slack: refused a callback: %s", why);
		answer_error(hc, c, MHD_HTTP_UNAUTHORIZED, "%s", why);
		return;
	}
	if ((r = replay_check(h, sig, now_s)) != 0) {
		log_warn("slack: refused a callback: %s", r > 0 ? "replayed" :
		    "replay cache full");
		answer_error(hc, c, r > 0 ? MHD_HTTP_UNAUTHORIZED :
		    MHD_HTTP_SERVICE_UNAVAILABLE, "%s", r > 0 ?
		    "replayed request" : "too many requests; try again");
		return;
	}
	if (hc->form_bad || hc->npayload != 1 || hc->payload == NULL) {
		answer_error(hc, c, MHD_HTTP_BAD_REQUEST, "expected an "
		    "application/x-www-form-urlencoded body with one "
		    "\"payload\" field");
		return;
	}
	if (slack_parse_action(hc->payload, hc->plen, &a, &why) != 0) {
		log_warn("slack: refused a callback: %s", why);
		answer_error(hc, c, MHD_HTTP_BAD_REQUEST, "%s", why);
		return;
	}
	if (a.channel_id[0] != '\0' && strcmp(a.channel_id, sl->channel) != 0) {
		slack_refuse(h, hc, c, &a, "This message is not from the "
		    "bastion's approval channel; nothing changed.");
		return;
	}
	if (h->notify != NULL && a.message_ts[0] != '\0' &&
	    notify_slack_message(h->notify, a.request, &mch, &mts) &&
	    strcmp(mts, a.message_ts) != 0) {
		slack_refuse(h, hc, c, &a, "This button is not on the "
		    "request's message; nothing changed.");
		return;
	}
	if ((ap = appr_approver_by_slack(h->broker, a.user_id)) == NULL) {
		text = xasprintf("You (%s) are not a bastion approver: ask "
		    "the bastion's operators to add your slack_user.  "
		    "Nothing changed.", a.user_id);
		slack_refuse(h, hc, c, &a, text);
		free(text);
		return;
	}
	(void)appr_vote_by_approver(h->broker, a.request, ap->name,
	    a.vote == SLACK_APPROVE, "via Slack", &reply);
	if (reply == NULL || !json_object_object_get_ex(reply, "ok", &ok) ||
	    !json_object_get_boolean(ok)) {
		err = NULL;
		if (reply != NULL)
			json_object_object_get_ex(reply, "error", &err);
		text = xasprintf("Refused: %s.  Nothing changed.", err ?
		    json_object_get_string(err) : "internal error");
		slack_refuse(h, hc, c, &a, text);
		free(text);
		json_object_put(reply);
		return;
	}
	log_info("slack: %s (%s) %s request %lld", ap->name, a.user_id,
	    a.vote == SLACK_APPROVE ? "approves" : "denies",
	    (long long)a.request);
	if (json_object_object_get_ex(reply, "status", &st) &&
	    strcmp(json_object_get_string(st), "pending") == 0 &&
	    h->notify != NULL &&
	    json_object_object_get_ex(reply, "message", &err))
		notify_slack_reply(h->notify, a.response_url,
		    json_object_get_string(err));
	json_object_put(reply);
	(void)answer(c, MHD_HTTP_OK, "text/plain", "", 0);
	hc->answered = 1;
}

/* ---- dispatch ---- */

static const struct route routes[] = {
	{ "GET", "/api/requests", 0, api_list },
	{ "GET", "/api/requests/#", 0, api_get },
	{ "POST", "/api/requests/#/approve", HTTP_API_MAX_BODY, api_approve },
	{ "POST", "/api/requests/#/deny", HTTP_API_MAX_BODY, api_deny },
	{ "POST", "/api/sessions/#/terminate", HTTP_API_MAX_BODY,
	    api_terminate },
	{ "GET", "/requests/#", 0, review_page },
	{ "POST", "/requests/#", HTTP_API_MAX_BODY, review_vote },
	{ "POST", "/slack/actions", HTTP_SLACK_MAX_BODY, slack_actions },
};

/* 1 if path matches pattern ('#' = 1..15 digits, not 0), id set. */
static int
match(const char *pattern, const char *path, int64_t *id)
{
	int64_t v;
	int n;

	*id = 0;
	while (*pattern != '\0') {
		if (*pattern == '#') {
			for (v = 0, n = 0; path[n] >= '0' && path[n] <= '9';
			    n++) {
				if (n >= 15)
					return 0;
				v = v * 10 + (path[n] - '0');
			}
			if (n == 0 || v == 0)
				return 0;
			*id = v;
			path += n;
			pattern++;
			continue;
		}
		if (*pattern++ != *path++)
			return 0;
	}
	return *path == '\0';
}

static enum MHD_Result
payload_iter(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *filename, const char *content_type,
    const char *transfer_encoding, const char *data, uint64_t off,
    size_t size)
{
	struct hconn *hc = cls;

	(void)kind;
	(void)filename;
	(void)content_type;
	(void)transfer_encoding;
	if (key == NULL || strcmp(key, "payload") != 0)
		return MHD_YES;
	if (off == 0) {
		if (++hc->npayload > 1)
			return MHD_YES;
		if (hc->payload == NULL)
			hc->payload = xmalloc(SLACK_MAX_PAYLOAD + 1);
		hc->plen = 0;
	}
	if (hc->npayload > 1 || hc->payload == NULL)
		return MHD_YES;
	if (off != hc->plen || size > SLACK_MAX_PAYLOAD - hc->plen) {
		hc->form_bad = 1;
		return MHD_NO;
	}
	memcpy(hc->payload + hc->plen, data, size);
	hc->plen += size;
	hc->payload[hc->plen] = '\0';
	return MHD_YES;
}

/* The review page's form fields: each once, bounded. */
static enum MHD_Result
form_iter(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *filename, const char *content_type,
    const char *transfer_encoding, const char *data, uint64_t off,
    size_t size)
{
	struct hconn *hc = cls;
	char **field;
	size_t max, have;

	(void)kind;
	(void)filename;
	(void)content_type;
	(void)transfer_encoding;
	if (key == NULL)
		return MHD_YES;
	if (strcmp(key, "token") == 0) {
		field = &hc->f_token;
		max = 512;
	} else if (strcmp(key, "reason") == 0) {
		field = &hc->f_reason;
		max = REASON_MAX;
	} else if (strcmp(key, "vote") == 0) {
		field = &hc->f_vote;
		max = 16;
	} else
		return MHD_YES;		/* other fields: ignored */
	if (off == 0 && *field != NULL) {
		hc->form_bad = 1;	/* a field twice */
		return MHD_NO;
	}
	if (*field == NULL)
		*field = xcalloc(1, max + 1);
	have = strlen(*field);
	if (off != have || size > max - have || memchr(data, '\0',
	    size) != NULL) {
		hc->form_bad = 1;
		return MHD_NO;
	}
	memcpy(*field + have, data, size);
	(*field)[have + size] = '\0';
	return MHD_YES;
}

static void
hconn_free(struct hconn *hc)
{
	if (hc == NULL)
		return;
	if (hc->pp != NULL)
		MHD_destroy_post_processor(hc->pp);
	if (hc->body != NULL)
		freezero(hc->body, hc->len + 1);	/* may hold a token */
	free(hc->payload);
	if (hc->f_token != NULL)
		freezero(hc->f_token, 513);
	free(hc->f_reason);
	free(hc->f_vote);
	free(hc);
}

static void
completed(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)c;
	(void)toe;
	hconn_free(*con_cls);
	*con_cls = NULL;
}

static enum MHD_Result
access_handler(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_size, void **con_cls)
{
	struct appr_http *h = cls;
	struct hconn *hc = *con_cls;
	const char *cl;
	char path[128];
	size_t i;
	int64_t id;
	int path_known = 0;

	(void)version;
	if (hc == NULL) {
		hc = xcalloc(1, sizeof(*hc));
		*con_cls = hc;
		for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
			if (!match(routes[i].pattern, url, &id))
				continue;
			path_known = 1;
			if (strcmp(routes[i].method, method) == 0) {
				hc->route = &routes[i];
				hc->id = id;
				break;
			}
		}
		if (hc->route == NULL) {
			log_sanitize(path, sizeof(path), url, strlen(url));
			log_debug("http: %s %s: %s", method, path, path_known ?
			    "method not allowed" : "not found");
			answer_error(hc, c, path_known ?
			    MHD_HTTP_METHOD_NOT_ALLOWED : MHD_HTTP_NOT_FOUND,
			    "%s", path_known ? "method not allowed" :
			    "not found");
			return MHD_YES;
		}
		cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
		    MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl != NULL && (strlen(cl) > 9 ||
		    strtoul(cl, NULL, 10) > hc->route->max_body)) {
			answer_error(hc, c, MHD_HTTP_CONTENT_TOO_LARGE,
			    "the body may have at most %zu bytes",
			    hc->route->max_body);
			return MHD_YES;
		}
		if (hc->route->max_body > 0)
			hc->body = xmalloc(hc->route->max_body + 1);
		if (hc->route->fn == slack_actions &&
		    (hc->pp = MHD_create_post_processor(c, PP_BUFFER,
		    payload_iter, hc)) == NULL)
			hc->form_bad = 1;
		if (hc->route->fn == review_vote &&
		    (hc->pp = MHD_create_post_processor(c, PP_BUFFER,
		    form_iter, hc)) == NULL)
			hc->form_bad = 1;
		return MHD_YES;
	}
	if (hc->answered || hc->route == NULL) {
		*upload_size = 0;	/* answered early: drop the body */
		return MHD_YES;
	}
	if (*upload_size > 0) {
		if (*upload_size > hc->route->max_body - hc->len) {
			log_warn("http: body over %zu bytes: connection closed",
			    hc->route->max_body);
			return MHD_NO;
		}
		memcpy(hc->body + hc->len, upload, *upload_size);
		hc->len += *upload_size;
		hc->body[hc->len] = '\0';
		if (hc->pp != NULL && !hc->form_bad &&
		    MHD_post_process(hc->pp, upload, *upload_size) != MHD_YES)
			hc->form_bad = 1;
		*upload_size = 0;
		return MHD_YES;
	}
	if (hc->body != NULL)
		hc->body[hc->len] = '\0';
	hc->route->fn(h, hc, c);
	if (!hc->answered)
		answer_error(hc, c, MHD_HTTP_INTERNAL_SERVER_ERROR,
		    "internal error");
	return MHD_YES;
}

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[512], clean[512];
	size_t n;

	(void)cls;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	n = strlen(buf);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	log_sanitize(clean, sizeof(clean), buf, n);
	log_warn("http: %s", clean);
}

/* Reads and checks the certificate and key; warns of an expiry near. */
static int
load_tls(struct appr_http *h, struct tls_pem *pem, char **cause)
{
	const struct cfg *cfg = h->cfg;
	int64_t left;
	char *why;
	int r;

	if ((r = tls_pem_load(cfg->http_tls_cert, cfg->http_tls_key, pem,
	    &why)) != 0) {
		*cause = xasprintf("%s %s: %s", r == TLS_PEM_CERT ?
		    "http.tls_cert" : "http.tls_key", r == TLS_PEM_CERT ?
		    cfg->http_tls_cert : cfg->http_tls_key, why);
		free(why);
		return BST_ERR_CONFIG;
	}
	left = pem->not_after - (int64_t)time(NULL);
	if (left < 0)
		log_warn("http: the TLS certificate %s has expired: clients "
		    "will refuse it (renew it, then SIGHUP the bastion)",
		    cfg->http_tls_cert);
	else if (left < 14 * 86400)
		log_warn("http: the TLS certificate %s expires in %lld "
		    "day(s) (renew it, then SIGHUP the bastion)",
		    cfg->http_tls_cert, (long long)(left / 86400));
	return 0;
}

/*
 * Starts libmicrohttpd on h->lfd (which stays ours: closing is quiesce,
 * stop, close), with TLS when the config has a certificate.
 */
static int
start_daemon(struct appr_http *h, char **cause)
{
	const union MHD_DaemonInfo *info;
	struct MHD_OptionItem tls[] = {
		{ MHD_OPTION_HTTPS_MEM_CERT, 0, h->pem.cert },
		{ MHD_OPTION_HTTPS_MEM_KEY, 0, h->pem.key },
		{ MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)HTTP_TLS_PRIORITIES },
		{ MHD_OPTION_END, 0, NULL },
	};
	struct MHD_OptionItem none[] = { { MHD_OPTION_END, 0, NULL } };
	unsigned int flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;

	if (h->pem.cert != NULL)
		flags |= MHD_USE_TLS;
	h->d = MHD_start_daemon(flags, 0, NULL, NULL, access_handler, h,
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
	    MHD_OPTION_LISTEN_SOCKET, h->lfd,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)HTTP_CONN_TIMEOUT_S,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_CONN_MEMORY,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)HTTP_MAX_CONNS,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT,
	    (unsigned int)HTTP_MAX_CONNS_PER_IP,
	    MHD_OPTION_NOTIFY_COMPLETED, completed, h,
	    MHD_OPTION_ARRAY, h->pem.cert != NULL ? tls : none,
	    MHD_OPTION_END);
	if (h->d == NULL) {
		*cause = xasprintf("cannot start the HTTP%s listener on %s:%d",
		    h->pem.cert != NULL ? "S" : "", h->cfg->http_host,
		    h->cfg->http_port);
		return BST_ERR_INTERNAL;
	}
	info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_EPOLL_FD);
	if (info == NULL || info->epoll_fd < 0) {
		*cause = xasprintf("the HTTP listener has no epoll descriptor");
		(void)MHD_quiesce_daemon(h->d);
		MHD_stop_daemon(h->d);
		h->d = NULL;
		return BST_ERR_INTERNAL;
	}
	h->epfd = info->epoll_fd;
	return 0;
}

int
appr_http_open(const struct cfg *cfg, struct rec *rec,
    struct appr_broker *broker, struct notify *notify,
    struct appr_http **out, char **cause)
{
	struct appr_http *h;
	int r;

	*out = NULL;
	h = xcalloc(1, sizeof(*h));
	h->cfg = cfg;
	h->rec = rec;
	h->broker = broker;
	h->notify = notify;
	h->epfd = -1;
	h->seen = xcalloc(HTTP_REPLAY_SLOTS, sizeof(*h->seen));
	if ((h->lfd = tcp_listen(cfg->http_host, cfg->http_port, "http",
	    cause)) < 0) {
		appr_http_close(h);
		return BST_ERR_IO;
	}
	if (cfg->http_tls_cert != NULL && (r = load_tls(h, &h->pem,
	    cause)) != 0) {
		appr_http_close(h);
		return r;
	}
	if ((r = start_daemon(h, cause)) != 0) {
		appr_http_close(h);
		return r;
	}
	*out = h;
	return 0;
}

/*
 * SIGHUP: the certificate and key are read again (a renewed
 * certificate), and a new daemon takes over the listening socket.
 * Requests the old daemon was still serving are cut (approvers retry);
 * files that do not check leave the old certificate in service.
 */
void
appr_http_set_cfg(struct appr_http *h, const struct cfg *cfg)
{
	h->cfg = cfg;
}

void
appr_http_reload_tls(struct appr_http *h)
{
	struct MHD_Daemon *old = h->d;
	struct tls_pem pem;
	char *cause = NULL;

	if (h->cfg->http_tls_cert == NULL)
		return;
	if (load_tls(h, &pem, &cause) != 0) {
		log_error("http: %s; the listener keeps its certificate",
		    cause);
		free(cause);
		return;
	}
	/* old is NULL when an earlier reload could not start a daemon. */
	if (old != NULL && MHD_quiesce_daemon(old) == MHD_INVALID_SOCKET) {
		log_error("http: libmicrohttpd did not give the listening "
		    "socket back; the listener keeps its certificate");
		tls_pem_free(&pem);
		return;
	}
	if (old != NULL)
		MHD_stop_daemon(old);	/* leaves the quiesced socket open */
	h->d = NULL;
	h->epfd = -1;
	tls_pem_free(&h->pem);
	h->pem = pem;
	if (start_daemon(h, &cause) != 0) {
		log_error("http: %s: the HTTP listener is down until the "
		    "next SIGHUP or restart", cause);
		free(cause);
		return;
	}
	log_info("http: TLS certificate %s reloaded", h->cfg->http_tls_cert);
}

void
appr_http_close(struct appr_http *h)
{
	if (h == NULL)
		return;
	if (h->d != NULL) {
		(void)MHD_quiesce_daemon(h->d);	/* the socket stays ours */
		MHD_stop_daemon(h->d);
	}
	if (h->lfd >= 0)
		close(h->lfd);
	tls_pem_free(&h->pem);
	free(h->seen);
	free(h);
}

int
appr_http_pollfds(struct appr_http *h, struct pollfd *pfds, int max)
{
	if (max < 1 || h->d == NULL)
		return 0;
	pfds[0].fd = h->epfd;
	pfds[0].events = POLLIN;
	pfds[0].revents = 0;
	return 1;
}

int64_t
appr_http_next_deadline(struct appr_http *h)
{
	MHD_UNSIGNED_LONG_LONG ms;

	if (h->d == NULL || MHD_get_timeout(h->d, &ms) != MHD_YES)
		return INT64_MAX;
	if (ms > 3600 * 1000)
		ms = 3600 * 1000;
	return now_mono_us() + (int64_t)ms * 1000;
}

void
appr_http_handle(struct appr_http *h, const struct pollfd *pfds, int n)
{
	MHD_UNSIGNED_LONG_LONG ms;

	if (h->d == NULL)
		return;		/* down after a failed reload */
	if ((n > 0 && pfds[0].revents != 0) ||
	    (MHD_get_timeout(h->d, &ms) == MHD_YES && ms == 0))
		(void)MHD_run(h->d);
}
