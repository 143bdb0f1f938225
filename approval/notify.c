/*
 * notify.c: the outgoing side of the approval channels (see notify.h).
 *
 * Per open request, a small state: the Slack message's channel and ts
 * once posted, whether a post or update is in flight, and whether the
 * request changed since (dirty).  Slack messages are never sent twice at
 * once: a change during a call is folded into one chat.update when the
 * call ends, rendered from the database at that moment, so the message
 * always converges on the request's latest state.  Teams cards and
 * webhook events are independent posts.  The state is dropped once the
 * request is final and nothing is in flight for it.
 *
 * Secrets (bot token, webhook secrets, the Teams URL) go into headers,
 * signatures and URLs only; logs name channels, never those values.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/rand.h>

#include "approval/httpc.h"
#include "approval/notify.h"
#include "approval/render.h"
#include "common/config.h"
#include "common/err.h"
#include "common/hmac.h"
#include "common/log.h"
#include "common/strv.h"
#include "common/util.h"
#include "recorder/recorder.h"

#define TAIL_READ	(16 * 1024)	/* transcript bytes read for the tail */
#define JSON_FLAGS	(JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
#define LINK_KEY_LEN	32
#define SLACK_HOOKS	"https://hooks.slack.com/"

struct nreq {
	int64_t		 id;
	char		 channel[32];	/* Slack message, once posted */
	char		 ts[32];
	int		 busy;		/* a Slack post/update in flight */
	int		 dirty;		/* changed during it */
	int		 final;
	int		 refs;		/* HTTP requests holding this */
	struct nreq	*next;
};

struct notify {
	const struct cfg	*cfg;
	struct rec		*rec;
	struct httpc		*http;
	struct nreq		*reqs;
	uint8_t			 link_key[LINK_KEY_LEN];
	uint64_t		 delivery;	/* webhook delivery counter */
};

/* What a completion callback needs; one per HTTP request. */
enum nkind { NK_SLACK_POST, NK_SLACK_UPDATE, NK_TEAMS, NK_WEBHOOK,
	NK_REPLY };

struct ncall {
	struct notify	*n;
	struct nreq	*r;		/* NULL for NK_REPLY */
	enum nkind	 kind;
	int64_t		 id;
	char		 chan[32];	/* recorded channel name */
};

static void slack_send(struct notify *, struct nreq *);

struct notify *
notify_new(const struct cfg *cfg, struct rec *rec, struct httpc *http)
{
	struct notify *n = xcalloc(1, sizeof(*n));

	n->cfg = cfg;
	n->rec = rec;
	n->http = http;
	if (RAND_bytes(n->link_key, sizeof(n->link_key)) != 1)
		fatal("RAND_bytes failed");
	return n;
}

void
notify_set_cfg(struct notify *n, const struct cfg *cfg)
{
	n->cfg = cfg;
}

void
notify_free(struct notify *n)
{
	struct nreq *r;

	if (n == NULL)
		return;
	while ((r = n->reqs) != NULL) {
		n->reqs = r->next;
		free(r);
	}
	explicit_bzero(n->link_key, sizeof(n->link_key));
	free(n);
}

/* ---- links ---- */

static void
link_key(const struct notify *n, int64_t id, char out[33])
{
	char idtext[32], hex[HMAC_SHA256_HEXLEN + 1];

	snprintf(idtext, sizeof(idtext), "request:%lld", (long long)id);
	if (hmac_sha256_hex(n->link_key, sizeof(n->link_key), idtext,
	    strlen(idtext), hex) != 0)
		fatal("HMAC failed");
	memcpy(out, hex, 32);
	out[32] = '\0';
}

char *
notify_link(const struct notify *n, int64_t id)
{
	char k[33];

	if (n->cfg->public_url == NULL)
		return NULL;
	link_key(n, id, k);
	return xasprintf("%s/requests/%lld?k=%s", n->cfg->public_url,
	    (long long)id, k);
}

int
notify_link_ok(const struct notify *n, int64_t id, const char *key)
{
	char k[33];

	if (key == NULL)
		return 0;
	link_key(n, id, k);
	return hmac_str_equal(k, key);
}

/* ---- per-request state ---- */

static struct nreq *
nreq_find(struct notify *n, int64_t id)
{
	struct nreq *r;

	for (r = n->reqs; r != NULL; r = r->next)
		if (r->id == id)
			return r;
	return NULL;
}

static void
nreq_maybe_free(struct notify *n, struct nreq *r)
{
	struct nreq **pp;

	if (!r->final || r->busy || r->dirty || r->refs > 0)
		return;
	for (pp = &n->reqs; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == r) {
			*pp = r->next;
			free(r);
			return;
		}
	}
}

int
notify_slack_message(const struct notify *n, int64_t id,
    const char **channel, const char **ts)
{
	const struct nreq *r;

	for (r = n->reqs; r != NULL; r = r->next) {
		if (r->id == id && r->ts[0] != '\0') {
			*channel = r->channel;
			*ts = r->ts;
			return 1;
		}
	}
	return 0;
}

static void
record(struct notify *n, int64_t id, const char *chan, const char *status,
    const char *detail, int attempts)
{
	int r;

	if ((r = rec_request_notify(n->rec, id, chan, status, detail,
	    attempts)) != 0)
		log_error("request %lld: cannot record the %s status: %s",
		    (long long)id, chan, bst_strerror(r));
}

/* The request as JSON and its session's last lines (cleaned). */
static int
load(struct notify *n, int64_t id, json_object **req, char **tail)
{
	json_object *sid;
	char *raw = NULL;
	size_t len = 0;
	int r;

	*tail = NULL;
	if ((r = rec_request_get(n->rec, id, req)) != 0) {
		log_error("request %lld: cannot read it to notify: %s",
		    (long long)id, bst_strerror(r));
		return r;
	}
	if (json_object_object_get_ex(*req, "session_id", &sid) &&
	    rec_session_tail(n->rec, json_object_get_int64(sid), TAIL_READ,
	    &raw, &len) == 0)
		*tail = rnd_term_tail(raw, len, RND_TAIL_LINES, RND_TAIL_MAX);
	else
		*tail = xstrdup("");
	free(raw);
	return 0;
}

/* ---- sending ---- */

/* "HTTP 503: <cut body>" / the transport error, for the record. */
static char *
failure_text(const struct httpc_res *res, const char *slack_error)
{
	char body[121];

	if (slack_error != NULL)
		return xasprintf("Slack error \"%s\"", slack_error);
	if (res->status == 0)
		return xasprintf("%s", res->error[0] ? res->error :
		    "no answer");
	log_sanitize(body, sizeof(body), res->body, res->len);
	return xasprintf("HTTP %ld%s%s", res->status, body[0] ? ": " : "",
	    body);
}

static int on_done(void *arg, const struct httpc_res *res);

/*
 * Queues one POST; the callback (on_done) gets the ncall.  Returns 0 or
 * an error (nothing queued, nothing held).
 */
static int
send_json(struct notify *n, struct nreq *r, enum nkind kind, int64_t id,
    const char *chan, const char *url, char **headers, const char *text,
    int attempts)
{
	struct ncall *c = xcalloc(1, sizeof(*c));

	c->n = n;
	c->r = r;
	c->kind = kind;
	c->id = id;
	snprintf(c->chan, sizeof(c->chan), "%s", chan);
	if (httpc_post(n->http, url, headers, text, strlen(text), attempts,
	    on_done, c) != 0) {
		free(c);
		return BST_ERR_INTERNAL;
	}
	if (r != NULL)
		r->refs++;
	return 0;
}

/* Slack's JSON answer: 1 ok (ts/channel copied), 0 not ok (*err), -1 bad. */
static int
slack_answer(const struct httpc_res *res, struct nreq *r, char *err,
    size_t errsz)
{
	json_object *o, *v;
	const char *s;
	int ok = -1;

	err[0] = '\0';
	if ((o = json_tokener_parse(res->body)) == NULL ||
	    !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, "ok", &v)) {
		json_object_put(o);
		snprintf(err, errsz, "invalid answer");
		return -1;
	}
	ok = json_object_get_boolean(v) ? 1 : 0;
	if (!ok) {
		s = json_object_object_get_ex(o, "error", &v) ?
		    json_object_get_string(v) : "unknown";
		log_sanitize(err, errsz, s, strlen(s));
	} else if (r != NULL) {
		if (json_object_object_get_ex(o, "ts", &v) &&
		    json_object_is_type(v, json_type_string) &&
		    strlen(json_object_get_string(v)) < sizeof(r->ts) &&
		    strspn(json_object_get_string(v), "0123456789.") ==
		    strlen(json_object_get_string(v)))
			snprintf(r->ts, sizeof(r->ts), "%s",
			    json_object_get_string(v));
		if (json_object_object_get_ex(o, "channel", &v) &&
		    json_object_is_type(v, json_type_string) &&
		    strlen(json_object_get_string(v)) < sizeof(r->channel) &&
		    strspn(json_object_get_string(v),
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") ==
		    strlen(json_object_get_string(v)))
			snprintf(r->channel, sizeof(r->channel), "%s",
			    json_object_get_string(v));
		if (r->ts[0] == '\0') {
			snprintf(err, errsz, "answer without ts");
			ok = -1;
		}
	}
	json_object_put(o);
	return ok;
}

/* Slack "ok":false errors worth another try. */
static int
slack_retryable(const char *err)
{
	static const char *const retry[] = { "ratelimited", "internal_error",
	    "fatal_error", "service_unavailable", "request_timeout", NULL };
	int i;

	for (i = 0; retry[i] != NULL; i++)
		if (strcmp(err, retry[i]) == 0)
			return 1;
	return 0;
}

static int
on_done(void *arg, const struct httpc_res *res)
{
	struct ncall *c = arg;
	struct notify *n = c->n;
	struct nreq *r = c->r;
	char err[128], *why = NULL, *ok_detail = NULL;
	int success = 0, retry = 0, sa = 0;

	err[0] = '\0';
	if (res->status >= 200 && res->status < 300) {
		if (c->kind == NK_SLACK_POST || c->kind == NK_SLACK_UPDATE ||
		    c->kind == NK_REPLY) {
			/* response_url answers "ok" as text or JSON */
			sa = c->kind == NK_REPLY ? 1 : slack_answer(res,
			    c->kind == NK_SLACK_POST ? r : NULL, err,
			    sizeof(err));
			success = sa == 1;
			retry = sa == 0 && slack_retryable(err);
			if (!success)
				why = failure_text(res, err[0] ? err : NULL);
		} else
			success = 1;
	} else {
		retry = httpc_retryable(res);
		why = failure_text(res, NULL);
	}
	if (!success && retry && !res->last) {
		char *d = xasprintf("attempt %d of %d failed: %s; retrying",
		    res->attempt, NOTIFY_ATTEMPTS, why);

		log_warn("request %lld: %s: %s", (long long)c->id, c->chan, d);
		if (c->kind != NK_REPLY)
			record(n, c->id, c->chan, "retrying", d, res->attempt);
		free(d);
		free(why);
		return HTTPC_RETRY;
	}
	if (success) {
		switch (c->kind) {
		case NK_SLACK_POST:
			ok_detail = xasprintf("posted to %s (ts %s)",
			    r->channel, r->ts);
			break;
		case NK_SLACK_UPDATE:
			ok_detail = xasprintf("message updated (ts %s)",
			    r->ts);
			break;
		default:
			ok_detail = xasprintf("delivered (HTTP %ld)",
			    res->status);
		}
		log_debug("request %lld: %s: %s in %lld us", (long long)c->id,
		    c->chan, ok_detail, (long long)res->elapsed_us);
		if (c->kind != NK_REPLY)
			record(n, c->id, c->chan, "ok", ok_detail,
			    res->attempt);
	} else {
		log_error("request %lld: %s: giving up after %d attempt(s): %s",
		    (long long)c->id, c->chan, res->attempt, why);
		if (c->kind != NK_REPLY)
			record(n, c->id, c->chan, "failed", why, res->attempt);
	}
	if (r != NULL) {
		r->refs--;
		if (c->kind == NK_SLACK_POST || c->kind == NK_SLACK_UPDATE) {
			r->busy = 0;
			/* Changed meanwhile, or posted only now: catch up. */
			if (r->dirty && (r->ts[0] != '\0' || !r->final))
				slack_send(n, r);
			else if (r->dirty)
				r->dirty = 0;
		}
		nreq_maybe_free(n, r);
	}
	free(why);
	free(ok_detail);
	free(c);
	return HTTPC_DONE;
}

/* chat.postMessage, or chat.update once the message exists. */
static void
slack_send(struct notify *n, struct nreq *r)
{
	const struct cfg_slack *sl = n->cfg->slack;
	json_object *req = NULL, *msg;
	char *tail = NULL, *link = NULL, *url, *hdr[3];
	int update = r->ts[0] != '\0';

	r->dirty = 0;
	/* Slack may have been taken out of the configuration (SIGHUP). */
	if (sl == NULL || sl->bot_token == NULL || load(n, r->id, &req, &tail) != 0)
		return;
	link = notify_link(n, r->id);
	msg = rnd_slack_message(req, update && r->channel[0] ? r->channel :
	    sl->channel, tail, link);
	if (update)
		json_object_object_add(msg, "ts", json_object_new_string(r->ts));
	url = xasprintf("%s/%s", sl->api_url, update ? "chat.update" :
	    "chat.postMessage");
	hdr[0] = xasprintf("Authorization: Bearer %s", sl->bot_token);
	hdr[1] = "Content-Type: application/json; charset=utf-8";
	hdr[2] = NULL;
	if (send_json(n, r, update ? NK_SLACK_UPDATE : NK_SLACK_POST, r->id,
	    "slack", url, hdr, json_object_to_json_string_ext(msg,
	    JSON_FLAGS), NOTIFY_ATTEMPTS) == 0) {
		r->busy = 1;
		record(n, r->id, "slack", "sending", update ?
		    "chat.update" : "chat.postMessage", 0);
	} else
		record(n, r->id, "slack", "failed", "cannot start the call", 0);
	freezero(hdr[0], strlen(hdr[0]));
	free(url);
	free(link);
	free(tail);
	json_object_put(msg);
	json_object_put(req);
}

static void
teams_send(struct notify *n, struct nreq *r, json_object *req,
    const char *tail)
{
	char *link = notify_link(n, r->id), *hdr[2];
	json_object *card = rnd_teams_card(req, tail, link);

	hdr[0] = "Content-Type: application/json";
	hdr[1] = NULL;
	if (send_json(n, r, NK_TEAMS, r->id, "teams", n->cfg->teams_url, hdr,
	    json_object_to_json_string_ext(card, JSON_FLAGS),
	    NOTIFY_ATTEMPTS) == 0)
		record(n, r->id, "teams", "sending", NULL, 0);
	json_object_put(card);
	free(link);
}

static void
webhooks_send(struct notify *n, struct nreq *r, json_object *req,
    const char *event)
{
	char *link = notify_link(n, r->id), *hdr[6], chan[32], ts[24];
	char sig[HMAC_SHA256_HEXLEN + 1];
	json_object *ev;
	const char *text;
	size_t i;

	ev = rnd_event(req, event, link);
	snprintf(ts, sizeof(ts), "%lld", (long long)(now_real_us() / 1000000));
	json_object_object_add(ev, "timestamp", json_object_new_string(ts));
	text = json_object_to_json_string_ext(ev, JSON_FLAGS);
	for (i = 0; i < n->cfg->nwebhooks; i++) {
		const struct cfg_webhook *w = &n->cfg->webhooks[i];
		char *signed_text;

		if (w->url == NULL || w->secret == NULL)
			continue;
		snprintf(chan, sizeof(chan), "webhook:%zu", i + 1);
		signed_text = xasprintf("v1:%s:%s", ts, text);
		if (hmac_sha256_hex(w->secret, strlen(w->secret), signed_text,
		    strlen(signed_text), sig) != 0) {
			free(signed_text);
			continue;
		}
		free(signed_text);
		hdr[0] = "Content-Type: application/json";
		hdr[1] = xasprintf("X-Bastion-Event: %s", event);
		hdr[2] = xasprintf("X-Bastion-Delivery: %lld-%llu",
		    (long long)r->id, (unsigned long long)++n->delivery);
		hdr[3] = xasprintf("X-Bastion-Timestamp: %s", ts);
		hdr[4] = xasprintf("X-Bastion-Signature: v1=%s", sig);
		hdr[5] = NULL;
		if (send_json(n, r, NK_WEBHOOK, r->id, chan, w->url, hdr, text,
		    NOTIFY_ATTEMPTS) == 0)
			record(n, r->id, chan, "sending", event, 0);
		free(hdr[1]);
		free(hdr[2]);
		free(hdr[3]);
		free(hdr[4]);
	}
	json_object_put(ev);
	free(link);
}

void
notify_observe(void *arg, int64_t id, enum appr_event ev)
{
	struct notify *n = arg;
	struct nreq *r;
	json_object *req = NULL, *st;
	char *tail = NULL, *event;
	int need_load = n->cfg->teams_url != NULL || n->cfg->nwebhooks > 0;

	if ((r = nreq_find(n, id)) == NULL) {
		if (ev != APPR_EV_HELD && n->cfg->slack == NULL && !need_load)
			return;
		r = xcalloc(1, sizeof(*r));
		r->id = id;
		r->next = n->reqs;
		n->reqs = r;
	}
	if (ev == APPR_EV_FINAL)
		r->final = 1;
	if (n->cfg->slack != NULL) {
		if (r->busy)
			r->dirty = 1;
		else if (ev == APPR_EV_HELD || r->ts[0] != '\0' || !r->final)
			slack_send(n, r);
	}
	if (need_load && load(n, id, &req, &tail) == 0) {
		if (json_object_object_get_ex(req, "status", &st))
			event = xasprintf("request.%s", ev == APPR_EV_HELD ?
			    "held" : ev == APPR_EV_VOTE ? "vote" :
			    json_object_get_string(st));
		else
			event = xstrdup("request.unknown");
		if (n->cfg->teams_url != NULL && ev != APPR_EV_VOTE)
			teams_send(n, r, req, tail);
		if (n->cfg->nwebhooks > 0)
			webhooks_send(n, r, req, event);
		free(event);
	}
	json_object_put(req);
	free(tail);
	nreq_maybe_free(n, r);
}

/* "scheme://host[:port]/" prefix of url, for the origin check. */
static size_t
origin_len(const char *url)
{
	const char *p = strstr(url, "://");

	if (p == NULL)
		return 0;
	p = strchr(p + 3, '/');
	return p == NULL ? strlen(url) : (size_t)(p - url) + 1;
}

void
notify_slack_reply(struct notify *n, const char *response_url,
    const char *text)
{
	const struct cfg_slack *sl = n->cfg->slack;
	json_object *o;
	char *api = NULL, *hdr[2];
	size_t ol;
	int ok;

	if (sl == NULL || response_url == NULL || *response_url == '\0')
		return;
	api = xasprintf("%s/", sl->api_url);
	ol = origin_len(api);
	ok = strncmp(response_url, SLACK_HOOKS, strlen(SLACK_HOOKS)) == 0 ||
	    (ol > 0 && strncmp(response_url, api, ol) == 0);
	free(api);
	if (!ok) {
		log_warn("slack: not replying to a response_url outside "
		    "hooks.slack.com and the configured api_url");
		return;
	}
	o = rnd_slack_ephemeral(text);
	hdr[0] = "Content-Type: application/json; charset=utf-8";
	hdr[1] = NULL;
	(void)send_json(n, NULL, NK_REPLY, 0, "slack-reply", response_url, hdr,
	    json_object_to_json_string_ext(o, JSON_FLAGS), 3);
	json_object_put(o);
}
