/*
 * proto.h: monitor <-> session worker message types and constants.
 * The wire format is in common/ipc.h; every message is documented in
 * docs/PROTOCOL.md.  MON_* travel monitor -> worker, W_* worker -> monitor.
 */
#ifndef BST_PROTO_H
#define BST_PROTO_H

/* Fixed descriptors of an exec'd worker. */
#define PROTO_FD_CLIENT		3	/* the agent's TCP connection */
#define PROTO_FD_MONITOR	4	/* the socketpair to the monitor */

enum proto_type {
	MON_INIT		= 1,	/* u64 sid, str host key (OpenSSH private key text), u32 keepalive_interval,
					   u32 keepalive_max, u32 login_grace_time, u32 max_auth_tries, str client, str env_allow (space separated) */
	W_AUTH_PUBKEY		= 10,	/* str login, str key type, str key base64, u8 signed (0 = probe) */
	MON_AUTH_RESULT		= 11,	/* u8 accepted, str identity, str message for the agent (when refused) */
	W_CONNECT		= 12,	/* (empty): connect me to my target */
	MON_CONNECT_RESULT	= 13,	/* u8 ok; ok: [fd] str target, str user, str host key type, str host key b64,
					   str upstream private key text, str where ("host:port");
					   not ok: u8 exit code, str reason word, str message for the agent */
	W_UPSTREAM		= 14,	/* u8 ok, str reason word, str message: result of kex, host key check, auth */
	W_DECIDE		= 15,	/* u32 channel, str kind ("exec"|"shell"|"line"|"line-opaque"),
					   str command, u8 wait */
	MON_DECISION		= 16,	/* u32 channel, u8 verdict (proto_verdict), u8 exit status,
					   u64 request id (0 = none), str message for the agent */
	MON_VERDICT		= 17,	/* same fields: the later outcome of a held request */
	W_DATA			= 20,	/* u64 seq, u32 channel, u8 stream (rec_stream), bytes data */
	W_META			= 21,	/* u64 seq, u32 channel (PROTO_SESSION_CHANNEL:
					   the session itself), str kind, str JSON object */
	MON_ACK			= 22,	/* u64 seq: every event up to seq is committed */
	W_END			= 30,	/* str reason word, str detail */
	MON_SHUTDOWN		= 31,	/* str reason: end the session now */
};

/* W_META's channel for events of the session, not of one channel. */
#define PROTO_SESSION_CHANNEL	0xffffffffu

/* Verdicts in MON_DECISION / MON_VERDICT. */
enum proto_verdict {
	VERDICT_RUN = 0,	/* allowed (by policy, by approvers, or a deferred approval) */
	VERDICT_DENIED = 1,	/* by policy or by an approver: message, exit status */
	VERDICT_HELD = 2,	/* waiting for approvers: message; the outcome follows */
	VERDICT_EXPIRED = 3,	/* no decision in time, or not waiting (BASTION_WAIT=0) */
};

/* Exit statuses the bastion gives the agent for its own refusals (sysexits). */
#define PROTO_EXIT_NOHOST	68	/* unknown target */
#define PROTO_EXIT_UNAVAILABLE	69	/* target unreachable */
#define PROTO_EXIT_SOFTWARE	70	/* internal error, monitor gone */
#define PROTO_EXIT_TEMPFAIL	75	/* expired / try again */
#define PROTO_EXIT_PROTOCOL	76	/* target host key mismatch, upstream auth failed */
#define PROTO_EXIT_NOPERM	77	/* not permitted */

/*
 * The reason an approver gives for ending a session (control socket
 * "terminate"; the agent sees it): one line, at most this many bytes.
 */
#define PROTO_MAX_TERMINATE_REASON	1000

#endif
