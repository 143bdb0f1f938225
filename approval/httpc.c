/*
 * httpc.c: libcurl multi driven by the monitor's poll loop (see httpc.h).
 *
 * curl tells us which sockets to watch (CURLMOPT_SOCKETFUNCTION) and when
 * to call it back (CURLMOPT_TIMERFUNCTION); the monitor polls those
 * sockets with its own, and httpc_handle() hands the events back with
 * curl_multi_socket_action().  Retries wait in a list with their due
 * time.  Only http and https, no redirects, no signals.
 */
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "approval/httpc.h"
#include "common/err.h"
#include "common/log.h"
#include "common/strv.h"
#include "common/util.h"

#define HTTPC_MAX_SOCKETS	256

struct hreq {
	struct httpc	*h;
	CURL		*easy;
	struct curl_slist *headers;
	char		*url;
	char		*body;
	size_t		 len;
	char		*resp;
	size_t		 resplen;
	int		 attempt;
	int		 max_attempts;
	int64_t		 first_us;
	int64_t		 due_us;	/* waiting for a retry: when */
	char		 errbuf[CURL_ERROR_SIZE];
	httpc_fn	 fn;
	void		*arg;
	struct hreq	*next;		/* in h->waiting or h->running */
};

struct hsock {
	curl_socket_t	 fd;
	int		 what;		/* CURL_POLL_* */
};

struct httpc {
	CURLM		*multi;
	struct hsock	 socks[HTTPC_MAX_SOCKETS];
	int		 nsocks;
	int64_t		 timer_us;	/* curl's timer, INT64_MAX if none */
	struct hreq	*waiting;	/* retries not yet due */
	struct hreq	*running;
	int		 nreq;
};

static void
hreq_free(struct hreq *q)
{
	if (q->easy != NULL) {
		curl_multi_remove_handle(q->h->multi, q->easy);
		curl_easy_cleanup(q->easy);
	}
	curl_slist_free_all(q->headers);
	free(q->url);
	if (q->body != NULL)
		freezero(q->body, q->len);
	free(q->resp);
	q->h->nreq--;
	free(q);
}

static void
list_remove(struct hreq **head, struct hreq *q)
{
	for (; *head != NULL; head = &(*head)->next) {
		if (*head == q) {
			*head = q->next;
			q->next = NULL;
			return;
		}
	}
}

static int
sock_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct httpc *h = userp;
	int i;

	(void)easy;
	(void)socketp;
	for (i = 0; i < h->nsocks; i++)
		if (h->socks[i].fd == s)
			break;
	if (what == CURL_POLL_REMOVE) {
		if (i < h->nsocks)
			h->socks[i] = h->socks[--h->nsocks];
		return 0;
	}
	if (i == h->nsocks) {
		if (h->nsocks >= HTTPC_MAX_SOCKETS) {
			log_error("httpc: too many sockets");
			return -1;
		}
		h->nsocks++;
	}
	h->socks[i].fd = s;
	h->socks[i].what = what;
	return 0;
}

static int
timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct httpc *h = userp;

	(void)multi;
	h->timer_us = timeout_ms < 0 ? INT64_MAX :
	    now_mono_us() + (int64_t)timeout_ms * 1000;
	return 0;
}

static size_t
write_cb(char *data, size_t size, size_t nmemb, void *userp)
{
	struct hreq *q = userp;
	size_t n = size * nmemb, room;

	room = HTTPC_MAX_BODY - q->resplen;
	if (n < room)
		room = n;
	if (room > 0) {
		memcpy(q->resp + q->resplen, data, room);
		q->resplen += room;
		q->resp[q->resplen] = '\0';
	}
	return n;	/* the rest is dropped, not an error */
}

struct httpc *
httpc_new(void)
{
	struct httpc *h;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return NULL;
	h = xcalloc(1, sizeof(*h));
	h->timer_us = INT64_MAX;
	if ((h->multi = curl_multi_init()) == NULL) {
		free(h);
		return NULL;
	}
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
	curl_multi_setopt(h->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, 32L);
	return h;
}

void
httpc_free(struct httpc *h)
{
	struct hreq *q;

	if (h == NULL)
		return;
	while ((q = h->running) != NULL) {
		h->running = q->next;
		hreq_free(q);
	}
	while ((q = h->waiting) != NULL) {
		h->waiting = q->next;
		hreq_free(q);
	}
	curl_multi_cleanup(h->multi);
	free(h);
	curl_global_cleanup();
}

/* Starts (or restarts) an attempt. */
static int
start(struct hreq *q)
{
	CURL *e;

	if (q->easy != NULL) {
		curl_multi_remove_handle(q->h->multi, q->easy);
		curl_easy_cleanup(q->easy);
		q->easy = NULL;
	}
	if ((e = curl_easy_init()) == NULL)
		return BST_ERR_INTERNAL;
	q->resplen = 0;
	q->resp[0] = '\0';
	q->errbuf[0] = '\0';
	q->attempt++;
	curl_easy_setopt(e, CURLOPT_URL, q->url);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_POST, 1L);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, q->body);
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)q->len);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, q->headers);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)HTTPC_ATTEMPT_MS);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)HTTPC_CONNECT_MS);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, q);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, q->errbuf);
	curl_easy_setopt(e, CURLOPT_PRIVATE, q);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "bastion-approvals/1");
	curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
	if (curl_multi_add_handle(q->h->multi, e) != CURLM_OK) {
		curl_easy_cleanup(e);
		return BST_ERR_INTERNAL;
	}
	q->easy = e;
	q->next = q->h->running;
	q->h->running = q;
	return 0;
}

int
httpc_post(struct httpc *h, const char *url, char *const *headers,
    const char *body, size_t len, int max_attempts, httpc_fn fn, void *arg)
{
	struct hreq *q = xcalloc(1, sizeof(*q));
	char *const *hp;

	q->h = h;
	h->nreq++;
	q->url = xstrdup(url);
	q->body = xmalloc(len + 1);
	memcpy(q->body, body, len);
	q->body[len] = '\0';
	q->len = len;
	q->resp = xmalloc(HTTPC_MAX_BODY + 1);
	q->max_attempts = max_attempts > 0 ? max_attempts : 1;
	q->fn = fn;
	q->arg = arg;
	q->first_us = now_mono_us();
	/* "Expect: 100-continue" would cost a round trip on large bodies. */
	q->headers = curl_slist_append(NULL, "Expect:");
	for (hp = headers; hp != NULL && *hp != NULL; hp++)
		q->headers = curl_slist_append(q->headers, *hp);
	if (q->headers == NULL || start(q) != 0) {
		hreq_free(q);
		return BST_ERR_INTERNAL;
	}
	/*
	 * Start connecting now rather than on the next loop turn.  This
	 * only drives sockets: completions are read in httpc_handle(), so
	 * fn is not called from here.
	 */
	{
		int running;

		curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0,
		    &running);
	}
	return 0;
}

int
httpc_retryable(const struct httpc_res *res)
{
	return res->status == 0 || res->status == 408 || res->status == 429 ||
	    res->status >= 500;
}

int
httpc_pollfds(struct httpc *h, struct pollfd *pfds, int max)
{
	int i, n = 0;

	for (i = 0; i < h->nsocks && n < max; i++) {
		pfds[n].fd = h->socks[i].fd;
		pfds[n].events = 0;
		if (h->socks[i].what & CURL_POLL_IN)
			pfds[n].events |= POLLIN;
		if (h->socks[i].what & CURL_POLL_OUT)
			pfds[n].events |= POLLOUT;
		pfds[n++].revents = 0;
	}
	return n;
}

int64_t
httpc_next_deadline(const struct httpc *h)
{
	const struct hreq *q;
	int64_t next = h->timer_us;

	for (q = h->waiting; q != NULL; q = q->next)
		if (q->due_us < next)
			next = q->due_us;
	return next;
}

int
httpc_busy(const struct httpc *h)
{
	return h->nreq;
}

/* An attempt ended: ask the caller, then retry or forget. */
static void
attempt_done(struct httpc *h, struct hreq *q, CURLcode cc)
{
	struct httpc_res res;
	curl_off_t ra = 0;
	long status = 0;
	int64_t delay_ms;
	int want, shift;

	list_remove(&h->running, q);
	memset(&res, 0, sizeof(res));
	if (cc == CURLE_OK)
		curl_easy_getinfo(q->easy, CURLINFO_RESPONSE_CODE, &status);
	if (curl_easy_getinfo(q->easy, CURLINFO_RETRY_AFTER, &ra) !=
	    CURLE_OK || ra < 0)
		ra = 0;
	res.attempt = q->attempt;
	res.last = q->attempt >= q->max_attempts;
	res.status = status;
	res.body = q->resp;
	res.len = q->resplen;
	res.error = cc == CURLE_OK ? "" : (q->errbuf[0] ? q->errbuf :
	    curl_easy_strerror(cc));
	res.retry_after_s = (int64_t)ra;
	res.elapsed_us = now_mono_us() - q->first_us;
	want = q->fn(q->arg, &res);
	if (want != HTTPC_RETRY || res.last) {
		hreq_free(q);
		return;
	}
	shift = q->attempt - 1 < 10 ? q->attempt - 1 : 10;
	delay_ms = (int64_t)HTTPC_BACKOFF_MS << shift;
	if (delay_ms > HTTPC_BACKOFF_MAX_MS)
		delay_ms = HTTPC_BACKOFF_MAX_MS;
	if (ra > 0) {
		if (ra > HTTPC_RETRY_AFTER_MAX_S)
			ra = HTTPC_RETRY_AFTER_MAX_S;
		if ((int64_t)ra * 1000 > delay_ms)
			delay_ms = (int64_t)ra * 1000;
	}
	curl_multi_remove_handle(h->multi, q->easy);
	curl_easy_cleanup(q->easy);
	q->easy = NULL;
	q->due_us = now_mono_us() + delay_ms * 1000;
	q->next = h->waiting;
	h->waiting = q;
}

static void
read_done(struct httpc *h)
{
	CURLMsg *msg;
	struct hreq *q;
	int left;

	while ((msg = curl_multi_info_read(h->multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		q = NULL;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
		    (char **)&q);
		if (q != NULL)
			attempt_done(h, q, msg->data.result);
	}
}

void
httpc_handle(struct httpc *h, const struct pollfd *pfds, int n)
{
	struct hreq *q, *next, *due = NULL;
	int i, running, flags;
	int64_t now;

	for (i = 0; i < n; i++) {
		if (pfds[i].revents == 0)
			continue;
		flags = 0;
		if (pfds[i].revents & (POLLIN | POLLHUP))
			flags |= CURL_CSELECT_IN;
		if (pfds[i].revents & POLLOUT)
			flags |= CURL_CSELECT_OUT;
		if (pfds[i].revents & (POLLERR | POLLNVAL))
			flags |= CURL_CSELECT_ERR;
		curl_multi_socket_action(h->multi, pfds[i].fd, flags,
		    &running);
	}
	now = now_mono_us();
	if (h->timer_us <= now) {
		h->timer_us = INT64_MAX;
		curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0,
		    &running);
	}
	read_done(h);
	/* Retries that are due (collected first: start() may call back). */
	for (q = h->waiting; q != NULL; q = next) {
		next = q->next;
		if (q->due_us <= now) {
			list_remove(&h->waiting, q);
			q->next = due;
			due = q;
		}
	}
	for (q = due; q != NULL; q = next) {
		next = q->next;
		q->next = NULL;
		if (start(q) != 0) {
			struct httpc_res res;

			memset(&res, 0, sizeof(res));
			res.attempt = q->attempt;
			res.last = 1;
			res.error = "cannot start a request";
			res.body = "";
			(void)q->fn(q->arg, &res);
			hreq_free(q);
		}
	}
	read_done(h);
}
