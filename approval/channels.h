/*
 * channels.h: the approval channels as one thing for the monitor: the
 * outgoing HTTP client (httpc), the notifications it carries (notify:
 * Slack, Teams, webhooks) and the HTTP listener (http: API, review page,
 * Slack callbacks), each present only when configured.  Four calls fit
 * them into the monitor's single-threaded poll loop.
 *
 * Trusts: the configuration, the broker, the recorder.
 */
#ifndef BST_CHANNELS_H
#define BST_CHANNELS_H

#include <poll.h>
#include <stdint.h>

struct appr_broker;
struct appr_channels;
struct cfg;
struct rec;

/*
 * Starts what cfg asks for and registers the notifier as the broker's
 * observer.  Returns 0 and *out, or an error with *cause (malloc'd).
 */
int appr_channels_open(const struct cfg *cfg, struct rec *rec,
    struct appr_broker *broker, struct appr_channels **out, char **cause);
void appr_channels_close(struct appr_channels *ch);

/*
 * SIGHUP: the channels take their settings from cfg (Slack tokens and
 * channel, the Teams URL, webhooks and their secrets, public_url, the
 * certificate files) if what they started with allows it: the same HTTP
 * listener address, TLS on or off as before, and a notifier if cfg needs
 * one.  Returns 0, or -1 with why (one line, static) and nothing changed:
 * those keys then wait for a restart.  cfg must outlive the channels or
 * the next successful call.
 */
int appr_channels_adopt(struct appr_channels *ch, const struct cfg *cfg,
    const char **why);

/* SIGHUP: the HTTP listener reads its TLS certificate and key again. */
void appr_channels_reload_tls(struct appr_channels *ch);
/* Fills at most max pollfds; returns how many. */
int appr_channels_pollfds(struct appr_channels *ch, struct pollfd *pfds,
    int max);
/* Monotonic microseconds of the next timer, or INT64_MAX. */
int64_t appr_channels_next_deadline(struct appr_channels *ch);
/* After poll, with the n pollfds appr_channels_pollfds() filled. */
void appr_channels_handle(struct appr_channels *ch,
    const struct pollfd *pfds, int n);

#endif
