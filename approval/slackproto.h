/*
 * slackproto.h: the two checks every Slack interactivity callback goes
 * through before the bastion acts on it, as pure functions over bytes:
 * the v0 request signature (with its timestamp window) and the
 * block_actions payload.  No I/O, no globals, no allocation that outlives
 * a call: fuzzed by tests/fuzz/fuzz_slack.c.
 *
 * Trusts nothing: every header and byte comes from the network.
 */
#ifndef BST_SLACKPROTO_H
#define BST_SLACKPROTO_H

#include <stddef.h>
#include <stdint.h>

#define SLACK_MAX_SKEW_S	300	/* |now - timestamp| allowed, seconds */
#define SLACK_MAX_PAYLOAD	(64 * 1024)

/*
 * Verifies X-Slack-Signature (sig, "v0=" + 64 hex) over
 * "v0:" + ts + ":" + the raw body, keyed by the signing secret, compared
 * in constant time; ts (X-Slack-Request-Timestamp, decimal seconds) must
 * be within SLACK_MAX_SKEW_S of now_s.  Returns 0 when both hold;
 * BST_ERR_TIMEOUT for a missing, malformed or stale timestamp;
 * BST_ERR_DENIED for a missing, malformed or wrong signature.  *why is
 * static text for the client (never a secret).
 */
int slack_verify(const char *secret, const char *ts, const char *sig,
    const void *body, size_t bodylen, int64_t now_s, const char **why);

enum slack_vote { SLACK_APPROVE = 1, SLACK_DENY = 2 };

/* One button click, as far as the bastion uses it. */
struct slack_action {
	char		 user_id[32];		/* "U024BE7LH" */
	char		 user_name[64];		/* for logs only; may be "" */
	enum slack_vote	 vote;			/* action_id "approve" / "deny" */
	int64_t		 request;		/* the button's value */
	char		 channel_id[32];	/* container / channel, may be "" */
	char		 message_ts[32];	/* container.message_ts, may be "" */
	char		 response_url[512];	/* may be "" */
};

/*
 * Parses the JSON of the "payload" form field of a block_actions callback
 * (len bytes, not NUL-terminated).  Accepts only type "block_actions" with
 * a first action whose action_id is "approve" or "deny" and whose value is
 * a positive decimal request id, and a user.id of [A-Z0-9] (Slack's ids).
 * Strings that do not fit their field, or carry control characters, make
 * it fail.  Returns 0 and fills *out, or BST_ERR_PROTO with *why (static).
 */
int slack_parse_action(const char *payload, size_t len,
    struct slack_action *out, const char **why);

#endif
