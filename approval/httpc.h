/*
 * httpc.h: outgoing HTTP POSTs for the approval channels (Slack Web API,
 * Slack response_url, Teams and generic webhooks), run by libcurl's multi
 * interface inside the monitor's poll loop: nothing here blocks.  Each
 * attempt has a timeout; failed attempts are retried with exponential
 * backoff, honouring a 429's Retry-After.
 *
 * Trusts: its callers for URLs and headers.  Does not trust: the servers'
 * answers (bodies are cut to HTTPC_MAX_BODY; nothing is followed).
 */
#ifndef BST_HTTPC_H
#define BST_HTTPC_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#define HTTPC_MAX_BODY		(64 * 1024)	/* of an answer kept */
#define HTTPC_ATTEMPT_MS	10000		/* per attempt */
#define HTTPC_CONNECT_MS	5000
#define HTTPC_BACKOFF_MS	500		/* first retry delay, doubling */
#define HTTPC_BACKOFF_MAX_MS	30000
#define HTTPC_RETRY_AFTER_MAX_S	300		/* a longer Retry-After is cut */

struct httpc;

/* The outcome of one attempt. */
struct httpc_res {
	int		 attempt;	/* 1, 2, ... */
	int		 last;		/* no retry is possible after this one */
	long		 status;	/* HTTP status, 0 if none arrived */
	const char	*body;		/* NUL-terminated, at most HTTPC_MAX_BODY */
	size_t		 len;
	const char	*error;		/* transport error text, or "" */
	int64_t		 retry_after_s;	/* from a 429/503, else 0 */
	int64_t		 elapsed_us;	/* since the first attempt started */
};

#define HTTPC_DONE	0
#define HTTPC_RETRY	1

/*
 * Called after every attempt.  Returns HTTPC_RETRY to try again (ignored
 * when res->last: the request then ends) or HTTPC_DONE.  Never called
 * from inside httpc_post().
 */
typedef int (*httpc_fn)(void *arg, const struct httpc_res *res);

struct httpc *httpc_new(void);
/* Drops every request in flight without calling back. */
void httpc_free(struct httpc *h);

/*
 * Queues a POST of body (copied) to url with headers (NULL-terminated
 * "Name: value" lines, copied), tried at most max_attempts times.
 * Returns 0, or BST_ERR_INTERNAL if curl refused it (fn is then never
 * called).
 */
int httpc_post(struct httpc *h, const char *url, char *const *headers,
    const char *body, size_t len, int max_attempts, httpc_fn fn, void *arg);

/* The default retry rule: transport errors, 408, 429 and 5xx. */
int httpc_retryable(const struct httpc_res *res);

/* Poll integration: fills at most max pollfds, returns how many. */
int httpc_pollfds(struct httpc *h, struct pollfd *pfds, int max);
/* Monotonic microseconds of the next timer (curl's or a retry), or
 * INT64_MAX. */
int64_t httpc_next_deadline(const struct httpc *h);
/* After poll: the pollfds httpc_pollfds() filled (n of them). */
void httpc_handle(struct httpc *h, const struct pollfd *pfds, int n);
/* Requests queued or in flight. */
int httpc_busy(const struct httpc *h);

#endif
