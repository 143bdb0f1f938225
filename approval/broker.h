/*
 * broker.h: approval requests in the monitor: holding a command, votes,
 * expiry, and telling the waiting worker the outcome.
 *
 * The rules (DESIGN.md invariant 3): only a named approver whose token
 * matches; in one of the required groups (or any approver when none);
 * never the requesting identity's owner; `count` distinct approvals; one
 * deny decides; expiry means no; a decided request is final.  Every vote
 * and outcome is committed to the database before anyone acts on it.
 * Channels (bastionctl, the HTTP API, Slack) all come through
 * appr_vote() or appr_vote_by_approver(), so the rules live in one place;
 * the notification channels watch through appr_set_observer().
 *
 * Trusts: the configuration, the recorder.  Does not trust: tokens and
 * ids from clients.
 */
#ifndef BST_BROKER_H
#define BST_BROKER_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

struct appr_broker;
struct cfg;
struct cfg_approver;
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

/*
 * The same, for channels that authenticate the approver themselves
 * (Slack: a signed callback whose user maps to an approver by
 * slack_user).  name must be a configured approver's name.
 */
int appr_vote_by_approver(struct appr_broker *b, int64_t id,
    const char *name, int approve, const char *reason,
    struct json_object **reply);

/* Refusals carry "code", one of these, so channels can map them. */
#define APPR_E_TOKEN	"unknown-approver"
#define APPR_E_NOTFOUND	"not-found"
#define APPR_E_FINAL	"final"
#define APPR_E_SELF	"self-approval"
#define APPR_E_GROUP	"wrong-group"
#define APPR_E_VOTED	"already-voted"
#define APPR_E_INTERNAL	"internal"

/*
 * {"ok":false,"error":TEXT,"code":CODE}: the error answer of the API and
 * of bastionctl (code: one of APPR_E_*, or NULL for none).
 */
struct json_object *appr_error_vreply(const char *code, const char *fmt,
    va_list ap) __attribute__((format(printf, 2, 0)));
struct json_object *appr_error_reply(const char *code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The approver whose token this is (SHA-256, constant-time), or NULL. */
const struct cfg_approver *appr_approver_by_token(
    const struct appr_broker *b, const char *token);
/* The approver whose slack_user this is, or NULL. */
const struct cfg_approver *appr_approver_by_slack(
    const struct appr_broker *b, const char *slack_user);

/*
 * A reloaded configuration (SIGHUP): its approvers decide every vote from
 * now on.  Pending requests keep their rule's groups and count; votes
 * already cast stand.  cfg must outlive the broker or the next call.
 */
void appr_broker_set_cfg(struct appr_broker *b, const struct cfg *cfg);

/*
 * Ending a live session on an approver's word (bastionctl terminate, the
 * HTTP API) is the monitor's job: it registers fn, and channels call
 * appr_terminate(), which answers like appr_vote() (refusal codes
 * APPR_E_TOKEN, APPR_E_NOTFOUND, APPR_E_FINAL).  reason: one line of
 * printable text of at most PROTO_MAX_TERMINATE_REASON bytes, or "".
 */
typedef int (*appr_terminate_fn)(void *arg, int64_t sid, const char *token,
    const char *reason, struct json_object **reply);
void appr_set_terminator(struct appr_broker *b, appr_terminate_fn fn,
    void *arg);
int appr_terminate(struct appr_broker *b, int64_t sid, const char *token,
    const char *reason, struct json_object **reply);

/*
 * An observer of request changes (the notification channels), called
 * after each change is committed: HELD once a request is recorded, VOTE
 * for a vote that did not decide, FINAL when it was decided (approved,
 * denied, expired, cancelled).  It reads the request from the recorder;
 * it must not call back into the broker.
 */
enum appr_event { APPR_EV_HELD, APPR_EV_VOTE, APPR_EV_FINAL };
typedef void (*appr_observe_fn)(void *arg, int64_t id, enum appr_event ev);
void appr_set_observer(struct appr_broker *b, appr_observe_fn fn, void *arg);

/*
 * The ids of the requests still pending, oldest first: *ids malloc'd,
 * *n of them (a reloaded policy judges each again).
 */
void appr_pending_ids(const struct appr_broker *b, int64_t **ids, size_t *n);
/*
 * Denies pending request id on the broker's own authority (decided_by
 * "policy": a reloaded policy denies what it asks), detail recorded, the
 * waiting worker told message (exit 77).  Returns 0, BST_ERR_NOTFOUND if
 * it is no longer pending, or the recorder's error.
 */
int appr_deny_by_policy(struct appr_broker *b, int64_t id, const char *detail,
    const char *message);
/* Expires what is due.  Call every loop turn. */
void appr_tick(struct appr_broker *b, int64_t now_us);
/* Microseconds (monotonic) of the next expiry, or INT64_MAX. */
int64_t appr_next_deadline(const struct appr_broker *b);

/* The channel / session that waited went away: cancel what it waited for. */
void appr_channel_gone(struct appr_broker *b, int64_t sid, uint32_t channel);
void appr_session_gone(struct appr_broker *b, int64_t sid);
/*
 * The monitor ends session sid (its access was revoked by a reload, or an
 * approver terminated it; why says so in one line): each request it
 * waits for is cancelled, decided by by, and its channel told why (exit
 * 77).
 */
void appr_session_ending(struct appr_broker *b, int64_t sid, const char *by,
    const char *why);

#endif
