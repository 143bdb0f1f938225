/*
 * broker.h: approval requests in the monitor: holding a command, votes,
 * expiry, and telling the waiting worker the outcome.
 *
 * The rules (DESIGN.md invariant 3): only a named approver whose token
 * matches; in one of the required groups (or any approver when none);
 * never the requesting identity's owner; `count` distinct approvals; one
 * deny decides; expiry means no; a decided request is final.  Every vote
 * and outcome is committed to the database before anyone acts on it.
 * Channels (bastionctl, and later Slack, HTTP, the web page) all come
 * through appr_vote(), so the rules live in one place.
 *
 * Trusts: the configuration, the recorder.  Does not trust: tokens and
 * ids from clients.
 */
#ifndef BST_BROKER_H
#define BST_BROKER_H

#include <stdint.h>

struct appr_broker;
struct cfg;
struct rec;
struct rec_request;
struct json_object;

/* Tells the worker of session sid the outcome for channel (MON_VERDICT). */
typedef void (*appr_notify_fn)(void *arg, int64_t sid, uint32_t channel,
    int verdict, int exit_status, uint64_t request, const char *message);

struct appr_broker *appr_broker_new(struct rec *rec, const struct cfg *cfg,
    appr_notify_fn notify, void *arg);
void appr_broker_free(struct appr_broker *b);

/*
 * Holds a command: records the request (committed) and remembers it.
 * waiting=0 (BASTION_WAIT=0): the agent is told to re-run after approval;
 * the request stays open after its session ends.  *message is the line for
 * the agent (malloc'd).
 */
int appr_hold(struct appr_broker *b, struct rec_request *req, int waiting,
    int64_t *id, char **message);

/*
 * One vote from an approver identified by token (plain text, compared by
 * SHA-256 with the configured token_sha256).  On success *reply is
 * {"ok":true,"status":...,"message":...}; on refusal {"ok":false,
 * "error":...} and nothing changed.  Returns 0 either way unless the
 * database failed.
 */
int appr_vote(struct appr_broker *b, int64_t id, const char *token,
    int approve, const char *reason, struct json_object **reply);

/* Expires what is due.  Call every loop turn. */
void appr_tick(struct appr_broker *b, int64_t now_us);
/* Microseconds (monotonic) of the next expiry, or INT64_MAX. */
int64_t appr_next_deadline(const struct appr_broker *b);

/* The channel / session that waited went away: cancel what it waited for. */
void appr_channel_gone(struct appr_broker *b, int64_t sid, uint32_t channel);
void appr_session_gone(struct appr_broker *b, int64_t sid);

#endif
