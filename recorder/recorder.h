/*
 * recorder.h: the session recording store (SQLite, WAL) with a per-session
 * SHA-256 hash chain.
 *
 * Write side: used only by the monitor, the single writer.  Events are
 * appended inside an open batch transaction; rec_flush() commits it (WAL,
 * synchronous=NORMAL: a committed batch survives a crash of any process).
 * Calls documented as "committed" commit before returning, so the caller
 * may act on them.  The recorder trusts its caller (the monitor) for the
 * facts it is given and trusts nothing it reads back (verify recomputes).
 *
 * Read side: used by bastionctl (read-only connection; safe while the
 * monitor writes).
 *
 * Hash chain (per session, documented in docs/ARCHITECTURE.md):
 *   h[0]   = SHA256("bastion-chain-v1" || be64(session_id) || be64(started_us))
 *   h[n]   = SHA256(h[n-1] || be64(seq) || be64(t_us) || be32(channel)
 *                   || be32(len(kind)) || kind || be64(len(data)) || data)
 * seq starts at 1.  Each event row stores its hash; the session row stores
 * the final hash once sealed (at session end).
 */
#ifndef BST_RECORDER_H
#define BST_RECORDER_H

#include <stddef.h>
#include <stdint.h>

struct rec;
struct json_object;

/* Data streams of a channel. */
enum rec_stream {
	REC_IN = 0,	/* agent -> target (stdin / keystrokes), kind "in" */
	REC_OUT = 1,	/* target -> agent stdout, kind "out" */
	REC_ERR = 2	/* target -> agent stderr, kind "err" */
};

/* Channel number used for session-level events (auth, target, end...). */
#define REC_NO_CHANNEL (-1)

/* ---- write side (monitor only) ---- */

/*
 * Opens (creating if needed) the database at path, sets WAL and the schema.
 * Sessions a previous monitor left open are ended with reason
 * "monitor-restart" and sealed.  On failure *cause (if not NULL) gets a
 * malloc'd one-line message naming the file.
 */
int rec_open(const char *path, struct rec **out, char **cause);
/*
 * rec_open with a seal key (common/sealkey.h): every seal this handle
 * makes, those of sessions a previous monitor left open included, is
 * signed (sessions.seal_signature).
 */
int rec_open_sealing(const char *path, const char *seal_key,
    struct rec **out, char **cause);
void rec_close(struct rec *rec);	/* flushes; NULL ok */
/*
 * Hands the recorder the checkpointer's socket (checkpoint.h): after a
 * commit that leaves the WAL large, it asks for a reset and waits for it
 * (100 ms at most).  Without it the WAL is checkpointed by this
 * connection at 512 MiB.
 */
void rec_set_checkpointer(struct rec *rec, int fd);

/* Starts a session row; committed.  Returns its id in *sid. */
int rec_session_begin(struct rec *rec, const char *client_addr,
    int client_port, int64_t *sid);

/*
 * Session-level facts, each also appended as a chained event.
 * rec_session_auth: one per authentication attempt; accepted=1 fills the
 * session row's identity/owner/key columns.  Committed.
 */
int rec_session_auth(struct rec *rec, int64_t sid, const char *login,
    const char *key_type, const char *key_fp, const char *identity,
    const char *owner, int accepted, const char *detail);
/* Target resolution: fills target columns; committed. */
int rec_session_target(struct rec *rec, int64_t sid, const char *target,
    const char *target_user, const char *target_host, int target_port);

/* Appends a data event (kind "in"/"out"/"err") to the batch. */
int rec_data(struct rec *rec, int64_t sid, int32_t channel,
    enum rec_stream stream, const void *data, size_t len);

/*
 * Appends a metadata event to the batch.  detail is a JSON object
 * (borrowed; stored as its text).  Kinds and their detail members:
 *   "channel-open"  {"type":"session"}
 *   "request"       {"type":"exec","command":...} | {"type":"pty-req","term":...,"cols":N,"rows":N}
 *                   | {"type":"shell"} | {"type":"env","name":...,"value":...}
 *                   | {"type":"window-change","cols":N,"rows":N} | {"type":"signal","signal":"INT"}
 *                   | {"type":"subsystem","name":...} ... plus "accepted":bool, "reason":text
 *                   On REC_NO_CHANNEL, refused forwarding: {"type":"channel-open",
 *                   "channel_type":"direct-tcpip","host":...,"port":N} |
 *                   {"type":"tcpip-forward","address":...,"port":N} | {"type":"x11-req"}
 *   "eof"           {"from":"agent"|"target"}
 *   "exit-status"   {"status":N}
 *   "exit-signal"   {"signal":"TERM","core":bool}
 *   "channel-close" {}
 *   "upstream"      {"ok":bool,"error":text}  (target connection/host key/auth)
 *   "error"         {"message":text}
 *   anything else is stored as given, except the recorder's own kinds
 *   (in, out, err, connect, auth, target, end, approval): refused.
 * The channels table is kept up to date from these (type, command, pty,
 * exit status/signal, open/close times).
 */
int rec_meta(struct rec *rec, int64_t sid, int32_t channel,
    const char *kind, struct json_object *detail);

/* Commits the open batch.  No-op when nothing is pending. */
int rec_flush(struct rec *rec);
/* Number of events and bytes appended since the last commit. */
size_t rec_pending_events(const struct rec *rec);
size_t rec_pending_bytes(const struct rec *rec);

/*
 * Ends a session: appends an "end" event {"reason":..,"detail":..},
 * seals the chain (stores the final hash) and commits.  reason is one of
 * the words in docs/ARCHITECTURE.md ("closed", "auth-failed",
 * "target-refused", "target-unreachable", "host-key-mismatch",
 * "upstream-auth-failed", "client-disconnected", "target-disconnected",
 * "worker-crashed", "protocol-error", "login-timeout", "monitor-shutdown",
 * "monitor-restart").  Ending an ended session is an error.
 */
int rec_session_end(struct rec *rec, int64_t sid, const char *reason,
    const char *detail);
/*
 * A sealed session's final hash (lowercase hex into hex, hexsz >= 65)
 * and event count: what the monitor writes to its log as an anchor
 * outside the database.
 */
int rec_session_seal(struct rec *rec, int64_t sid, char *hex, size_t hexsz,
    int64_t *nevents, int *is_signed);

/* ---- read side (bastionctl) ---- */

int rec_open_readonly(const char *path, struct rec **out, char **cause);

/*
 * JSON array of sessions, newest first, at most limit (0 = all).  Each
 * object has "id", "started", "ended" (ISO-8601 UTC or null), "identity",
 * "owner", "key_fingerprint", "client", "target", "target_user",
 * "end_reason", "channels", "bytes_in", "bytes_out".  Caller frees.
 */
int rec_list_sessions(struct rec *rec, int limit, struct json_object **out);
/*
 * Sessions that match every field set in f (NULL / 0: any), newest first,
 * as rec_list_sessions() lists them.  command: a substring of a command
 * the session asked for (exec request or shell line, as its policy
 * events record it); grep: bytes in one of its streams (a channel's in,
 * out or err, read continuously across recorded chunks); since/until:
 * start time in [since_us, until_us).
 */
struct rec_filter {
	const char	*identity;
	const char	*target;
	const char	*target_user;
	const char	*end_reason;
	const char	*command;
	const void	*grep;
	size_t		 grep_len;
	int64_t		 since_us;
	int64_t		 until_us;
	int		 limit;		/* 0: all */
};
int rec_search_sessions(struct rec *rec, const struct rec_filter *f,
    struct json_object **out);

/*
 * One session as a JSON object: the list fields plus "end_detail",
 * "sealed", "events", "channels": [{"channel","type","command","term",
 * "cols","rows","opened","closed","exit_status","exit_signal"}], and
 * "log": every non-data event [{"seq","t","channel","kind","detail"}],
 * "requests": the approval requests made in this session or used by it
 * (a deferred re-run), oldest first, each as rec_request_get() gives it.
 * BST_ERR_NOTFOUND for an unknown id.
 */
int rec_show_session(struct rec *rec, int64_t sid, struct json_object **out);

/* Calls cb for every event in seq order; a non-zero return stops and is returned. */
typedef int (*rec_event_cb)(void *arg, int64_t seq, int64_t t_us,
    int32_t channel, const char *kind, const void *data, size_t len);
int rec_foreach_event(struct rec *rec, int64_t sid, rec_event_cb cb, void *arg);
/* The same for the events with seq > after (a live session being watched). */
int rec_foreach_event_after(struct rec *rec, int64_t sid, int64_t after,
    rec_event_cb cb, void *arg);

/*
 * Recomputes the chain of a session.  0 if every event hash, the sequence
 * numbering, the sealed final hash and the session row's identity/target
 * columns agree with the chain; BST_ERR_TAMPERED otherwise with *cause
 * saying where ("event 17: hash mismatch").  An unsealed (live) session
 * verifies up to its last event; *flags gets REC_VERIFY_LIVE then.
 */
int rec_verify_session(struct rec *rec, int64_t sid, int *flags,
    char **cause);
#define REC_VERIFY_LIVE		0x1	/* not sealed yet: verified so far */
#define REC_VERIFY_SIGNED	0x2	/* the seal's signature checked out */
#define REC_VERIFY_BEFORE_KEY	0x4	/* sealed before the seal key was used */
/*
 * From now on rec_verify_session() also checks each sealed session's seal
 * signature against the key at path (an Ed25519 public key in PEM form,
 * or the private one): a sealed session with no signature, or one that
 * does not match, is BST_ERR_TAMPERED, unless it comes before the first
 * session the key signed (its seal_keys row, signed by the key itself;
 * without one every session must be signed).
 */
int rec_set_seal_public_key(struct rec *rec, const char *path, char **cause);

/* ---- approval requests (issue 3) ----
 *
 * A request binds one exact command text (and its SHA-256) in one session,
 * channel, identity and target.  Tables approval_requests and
 * approval_votes; every change is also appended to the owning session's
 * hash chain as a "approval" event while that session is live.  All of
 * these commit before returning: the monitor acts on them (tells a worker
 * to run a command) only afterwards.
 */
enum rec_req_status {
	REC_REQ_PENDING = 0,	/* waiting for votes */
	REC_REQ_APPROVED,	/* enough approvals; may run (once) */
	REC_REQ_DENIED,		/* an approver denied it, or the monitor restarted */
	REC_REQ_EXPIRED,	/* timeout passed without a decision */
	REC_REQ_CANCELLED,	/* the agent went away while waiting */
	REC_REQ_USED		/* approved and run (deferred re-run consumed) */
};
const char *rec_req_status_name(enum rec_req_status st);

struct rec_request {
	int64_t		 id;		/* set by rec_request_create */
	int64_t		 session_id;
	int32_t		 channel;
	const char	*identity;
	const char	*owner;
	const char	*target;
	const char	*target_user;
	const char	*command;	/* exact text */
	const char	*rule;		/* deciding rule name */
	const char	*reason;	/* why it is held (policy reason line) */
	const char	*groups;	/* required approver groups, space separated, "" = any */
	int		 count;		/* distinct approvals needed */
	int		 timeout;	/* seconds */
	int		 deferred;	/* agent did not wait (BASTION_WAIT=0) */
	struct json_object *analysis;	/* policy decision JSON (borrowed) */
};

/* Creates a pending request; *id set.  Committed. */
int rec_request_create(struct rec *rec, struct rec_request *req, int64_t *id);
/* Records one vote (approve=1/0) by a named approver with its reason. Committed. */
int rec_request_vote(struct rec *rec, int64_t id, const char *approver,
    int approve, const char *reason);
/* Moves a request to a final status; decided_by is the approver name, "policy",
 * "expiry", "monitor-restart" or "agent".  Committed. */
int rec_request_finish(struct rec *rec, int64_t id, enum rec_req_status st,
    const char *decided_by, const char *detail);
/*
 * Finds an APPROVED, deferred, unused request for exactly this identity,
 * target, target user and command whose validity has not passed
 * (valid_until_us >= now); 0 and *id, or BST_ERR_NOTFOUND.
 */
int rec_request_find_deferred(struct rec *rec, const char *identity,
    const char *target, const char *target_user, const char *command,
    int64_t now_us, int64_t *id);
/* Marks a deferred approval used by session sid.  Committed. */
int rec_request_use(struct rec *rec, int64_t id, int64_t sid);
/*
 * Everything about one request as JSON: the rec_request fields plus
 * "status", "created", "expires", "decided", "decided_by", "detail",
 * "valid_until", "votes": [{"approver","vote":"approve"|"deny","reason","time"}].
 * BST_ERR_NOTFOUND for an unknown id.
 */
int rec_request_get(struct rec *rec, int64_t id, struct json_object **out);
/* JSON array of requests, newest first; status < 0 means all. */
int rec_request_list(struct rec *rec, int status, struct json_object **out);
/*
 * How notification channel (e.g. "slack", "webhook:1") fared for request
 * id: status "sending", "retrying", "ok" or "failed", detail the last
 * error or what was delivered.  Shown by rec_request_get()/list() as
 * "notify": [{"channel","status","detail","attempts","time"}] (schema 3).
 * Operational state, not evidence: not hash-chained.  Committed.
 */
int rec_request_notify(struct rec *rec, int64_t id, const char *channel,
    const char *status, const char *detail, int attempts);
/*
 * The last max bytes (or fewer) of what session sid's target printed
 * (out and err events, in order), committed so far.  *out is malloc'd and
 * NUL-terminated; raw terminal bytes, for the caller to clean.
 */
int rec_session_tail(struct rec *rec, int64_t sid, size_t max, char **out,
    size_t *lenp);
/* At monitor start: every PENDING request becomes DENIED with decided_by
 * "monitor-restart" (its session is gone).  Returns how many. */
int rec_request_close_stale(struct rec *rec, int *n);

/*
 * Records a policy version (table policies) and commits: inserted the
 * first time, its last_loaded_us and source updated every time.
 */
int rec_policy_put(struct rec *rec, const char *sha256, const char *text,
    const char *source, int64_t now_us);
/*
 * The policy versions, oldest first, as a JSON array of {sha256, source,
 * first_loaded, first_loaded_us, last_loaded, last_loaded_us,
 * text_matches_sha256, policy}; empty for a database older than schema 5.
 */
int rec_policy_list(struct rec *rec, struct json_object **out);

#endif
