/*
 * monitor.h: the privileged bastion process.
 *
 * One per host.  Owns the configuration, the host and target keys, the
 * recording database and the control socket; accepts agent connections
 * and hands each to a freshly exec'd session worker (build/bastion-session)
 * over a socketpair.  Single-threaded: one poll loop.  Never parses SSH.
 */
#ifndef BST_MONITOR_H
#define BST_MONITOR_H

#include <stdint.h>

struct cfg;
struct monitor;
struct json_object;

/*
 * Runs until SIGTERM/SIGINT.  Returns the process exit status.  policy is
 * the caller's and stays valid; SIGHUP replaces what it holds with the
 * policy of the config file as it is then (running_policy.h), if that
 * loads, and the caller frees whichever is there at the end.
 */
struct running_policy;
int monitor_run(struct cfg *cfg, struct running_policy *policy,
    const char *session_binary, int debug);

/* A vote from the control socket (see approval/broker.h appr_vote). */
int monitor_vote(struct monitor *m, int64_t id, const char *token,
    int approve, const char *reason, struct json_object **reply);

/*
 * An approver (token) ends live session sid now, with reason (one line of
 * printable text, at most PROTO_MAX_TERMINATE_REASON bytes; "" for none): the
 * agent is told on every open channel (exit 77), what the session waits
 * for is cancelled, and the session is recorded as ended by "terminated"
 * with "terminated by NAME: REASON".  *reply as monitor_vote's.
 */
int monitor_terminate(struct monitor *m, int64_t sid, const char *token,
    const char *reason, struct json_object **reply);

/* For the control socket: a JSON array describing live sessions. */
struct json_object *monitor_live_sessions(struct monitor *m);
int64_t monitor_started_us(const struct monitor *m);
/* For the control socket: {"sha256","source","rules","in_force_us"}. */
struct json_object *monitor_policy_json(struct monitor *m);

#endif
