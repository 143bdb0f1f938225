/*
 * http.h: the bastion's HTTP listener (libmicrohttpd in external-poll
 * mode inside the monitor's loop: no thread of its own), serving
 *
 *   GET  /api/requests[?status=all]      approver token (Bearer)
 *   GET  /api/requests/ID                approver token
 *   POST /api/requests/ID/approve|deny   approver token, {"reason": "..."}
 *   GET  /requests/ID?k=KEY              the review page (link key or token)
 *   POST /requests/ID                    its form: token, vote, reason
 *   POST /slack/actions                  Slack interactivity (signed)
 *
 * and nothing else (404, or 405 for another method on a known path).
 * Votes go through the broker (appr_vote, appr_vote_by_approver), so the
 * approval rules are the same as bastionctl's.  Errors are JSON
 * {"ok":false,"error":...}.  Limits: request bodies (16 KiB for the API,
 * 64 KiB for Slack), per-connection memory, connection count (total and
 * per client address) and an idle timeout.
 *
 * Trusts: the configuration, the broker and recorder.  Does not trust:
 * anything that arrives on the socket.  Never logs tokens, signatures,
 * link keys or bodies.
 */
#ifndef BST_HTTP_H
#define BST_HTTP_H

#include <poll.h>
#include <stdint.h>

struct appr_broker;
struct cfg;
struct notify;
struct rec;
struct appr_http;

#define HTTP_API_MAX_BODY	(16 * 1024)
#define HTTP_SLACK_MAX_BODY	(64 * 1024)
#define HTTP_CONN_TIMEOUT_S	10
#define HTTP_CONN_MEMORY	(32 * 1024)
#define HTTP_MAX_CONNS		64
#define HTTP_MAX_CONNS_PER_IP	16
#define HTTP_REPLAY_SLOTS	4096	/* Slack signatures remembered */
/* GnuTLS priorities for HTTPS: its NORMAL set, TLS 1.2 and 1.3 only. */
#define HTTP_TLS_PRIORITIES	"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

/*
 * Listens on cfg->http_host:http_port.  Returns 0 and *out, or an error
 * with *cause (malloc'd).  notify may be NULL (no Slack replies, no
 * review links).
 */
int appr_http_open(const struct cfg *cfg, struct rec *rec,
    struct appr_broker *broker, struct notify *notify,
    struct appr_http **out, char **cause);
void appr_http_close(struct appr_http *h);
/*
 * A reloaded configuration (appr_channels_adopt): its Slack signing
 * secret, public_url and certificate paths from now on.  The listening
 * address stays.
 */
void appr_http_set_cfg(struct appr_http *h, const struct cfg *cfg);
/*
 * Reads the TLS certificate and key again (SIGHUP) and serves the new
 * ones; keeps the old ones, with an error logged, if the files do not
 * check.  Nothing to do without TLS.
 */
void appr_http_reload_tls(struct appr_http *h);

/* Poll integration, as httpc.h. */
int appr_http_pollfds(struct appr_http *h, struct pollfd *pfds, int max);
int64_t appr_http_next_deadline(struct appr_http *h);
void appr_http_handle(struct appr_http *h, const struct pollfd *pfds, int n);

#endif
