/*
 * channels.c: wires httpc, notify and http together (see channels.h).
 * The pollfds are laid out as [http listener][curl sockets...].
 */
#include <stdlib.h>
#include <string.h>

#include "approval/broker.h"
#include "approval/channels.h"
#include "approval/http.h"
#include "approval/httpc.h"
#include "approval/notify.h"
#include "common/config.h"
#include "common/err.h"
#include "common/log.h"
#include "common/util.h"

struct appr_channels {
	const struct cfg	*cfg;		/* the settings in use */
	struct appr_broker	*broker;
	struct httpc		*httpc;
	struct notify		*notify;
	struct appr_http	*http;
	int			 nhttp;		/* pollfds of the listener */
};

int
appr_channels_open(const struct cfg *cfg, struct rec *rec,
    struct appr_broker *broker, struct appr_channels **out, char **cause)
{
	struct appr_channels *ch = xcalloc(1, sizeof(*ch));
	int r;

	*out = NULL;
	ch->cfg = cfg;
	ch->broker = broker;
	if (cfg->slack != NULL || cfg->teams_url != NULL ||
	    cfg->nwebhooks > 0 || cfg->http_host != NULL) {
		if ((ch->httpc = httpc_new()) == NULL) {
			*cause = xasprintf("cannot initialise libcurl");
			appr_channels_close(ch);
			return BST_ERR_INTERNAL;
		}
		ch->notify = notify_new(cfg, rec, ch->httpc);
		appr_set_observer(broker, notify_observe, ch->notify);
	}
	if (cfg->http_host != NULL) {
		if ((r = appr_http_open(cfg, rec, broker, ch->notify, &ch->http,
		    cause)) != 0) {
			appr_channels_close(ch);
			return r;
		}
		log_info("http: serving %s:%d (links: %s)%s%s%s",
		    cfg->http_host, cfg->http_port, cfg->public_url,
		    cfg->slack ? ", Slack" : "", cfg->teams_url ? ", Teams" :
		    "", cfg->nwebhooks ? ", webhooks" : "");
	}
	*out = ch;
	return 0;
}

void
appr_channels_close(struct appr_channels *ch)
{
	if (ch == NULL)
		return;
	if (ch->notify != NULL)
		appr_set_observer(ch->broker, NULL, NULL);
	appr_http_close(ch->http);
	/* httpc first: it drops the calls that point into notify. */
	httpc_free(ch->httpc);
	notify_free(ch->notify);
	free(ch);
}

static int
same_str(const char *a, const char *b)
{
	return (a == NULL && b == NULL) ||
	    (a != NULL && b != NULL && strcmp(a, b) == 0);
}

int
appr_channels_adopt(struct appr_channels *ch, const struct cfg *cfg,
    const char **why)
{
	const struct cfg *old = ch->cfg;

	if (!same_str(old->http_host, cfg->http_host) ||
	    (cfg->http_host != NULL && old->http_port != cfg->http_port)) {
		*why = "the HTTP listener's address changed";
		return -1;
	}
	if ((old->http_tls_cert == NULL) != (cfg->http_tls_cert == NULL)) {
		*why = cfg->http_tls_cert ? "HTTPS was turned on" :
		    "HTTPS was turned off";
		return -1;
	}
	if (ch->notify == NULL && (cfg->slack != NULL ||
	    cfg->teams_url != NULL || cfg->nwebhooks > 0)) {
		*why = "notifications were added to a bastion started without "
		    "any";
		return -1;
	}
	ch->cfg = cfg;
	if (ch->notify != NULL)
		notify_set_cfg(ch->notify, cfg);
	if (ch->http != NULL)
		appr_http_set_cfg(ch->http, cfg);
	return 0;
}

void
appr_channels_reload_tls(struct appr_channels *ch)
{
	if (ch != NULL && ch->http != NULL)
		appr_http_reload_tls(ch->http);
}

int
appr_channels_pollfds(struct appr_channels *ch, struct pollfd *pfds, int max)
{
	int n = 0;

	ch->nhttp = 0;
	if (ch->http != NULL)
		n += ch->nhttp = appr_http_pollfds(ch->http, pfds, max);
	if (ch->httpc != NULL)
		n += httpc_pollfds(ch->httpc, pfds + n, max - n);
	return n;
}

int64_t
appr_channels_next_deadline(struct appr_channels *ch)
{
	int64_t next = INT64_MAX, t;

	if (ch->http != NULL && (t = appr_http_next_deadline(ch->http)) < next)
		next = t;
	if (ch->httpc != NULL && (t = httpc_next_deadline(ch->httpc)) < next)
		next = t;
	return next;
}

void
appr_channels_handle(struct appr_channels *ch, const struct pollfd *pfds,
    int n)
{
	if (ch->http != NULL)
		appr_http_handle(ch->http, pfds, ch->nhttp);
	if (ch->httpc != NULL)
		httpc_handle(ch->httpc, pfds + ch->nhttp, n - ch->nhttp);
}
