/*
 * notify.h: telling approvers about requests, through the configured
 * channels: the Slack message (chat.postMessage, then chat.update after
 * each vote, at the outcome and at expiry), a Teams card per request and
 * per outcome, and a signed JSON event per request, vote and outcome to
 * each generic webhook.  Watches the broker (appr_set_observer) and sends
 * through httpc, so nothing here blocks the monitor.  How each channel
 * fared is recorded per request (rec_request_notify), which is what
 * `bastionctl pending` shows in its NOTIFY column.
 *
 * Trusts: the configuration, the recorder.  Does not trust: the answers
 * of Slack, Teams and webhook receivers (parsed with bounds; an error is
 * logged and recorded, never a reason to decide a request).
 */
#ifndef BST_NOTIFY_H
#define BST_NOTIFY_H

#include <stdint.h>

#include "approval/broker.h"

struct cfg;
struct rec;
struct httpc;
struct notify;

/* Attempts per message before a channel is recorded as failed. */
#define NOTIFY_ATTEMPTS		6

struct notify *notify_new(const struct cfg *cfg, struct rec *rec,
    struct httpc *http);
void notify_free(struct notify *n);
/* A reloaded configuration's channel settings (appr_channels_adopt). */
void notify_set_cfg(struct notify *n, const struct cfg *cfg);

/* The broker's observer (appr_observe_fn); arg is the struct notify. */
void notify_observe(void *arg, int64_t id, enum appr_event ev);

/*
 * The review page link for request id, public_url + "/requests/ID?k=KEY",
 * KEY an HMAC of the id under a key made at start (so links cannot be
 * guessed and die with the process).  malloc'd; NULL without public_url.
 */
char *notify_link(const struct notify *n, int64_t id);
/* 1 if key (the k parameter) is the link key of request id. */
int notify_link_ok(const struct notify *n, int64_t id, const char *key);

/*
 * The Slack message of request id, if it was posted: 1 and its channel
 * and ts; else 0.  Lets a click be checked against the message it came
 * from.
 */
int notify_slack_message(const struct notify *n, int64_t id,
    const char **channel, const char **ts);

/*
 * Sends text as an ephemeral reply to a Slack click through its
 * response_url, if that URL is Slack's (https://hooks.slack.com/) or on
 * the configured api_url's origin (a test's fake Slack); else only logs.
 */
void notify_slack_reply(struct notify *n, const char *response_url,
    const char *text);

#endif
