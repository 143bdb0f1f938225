/*
 * slackproto.c: Slack request signatures and block_actions payloads (see
 * slackproto.h).  Everything here reads attacker-controlled bytes: lengths
 * are checked before copies, JSON nesting is bounded, and any doubt is a
 * refusal.
 */
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "approval/slackproto.h"
#include "common/err.h"
#include "common/hmac.h"

#define TS_MAX_DIGITS	12
#define JSON_DEPTH	16

static int
parse_ts(const char *ts, int64_t *out)
{
	int64_t v = 0;
	size_t i;

	if (ts == NULL || ts[0] == '\0')
		return -1;
	for (i = 0; ts[i] != '\0'; i++) {
		if (i >= TS_MAX_DIGITS || ts[i] < '0' || ts[i] > '9')
			return -1;
		v = v * 10 + (ts[i] - '0');
	}
	*out = v;
	return 0;
}

int
slack_verify(const char *secret, const char *ts, const char *sig,
    const void *body, size_t bodylen, int64_t now_s, const char **why)
{
	uint8_t md[HMAC_SHA256_LEN];
	char want[3 + HMAC_SHA256_HEXLEN + 1];
	const void *parts[4];
	size_t lens[4];
	int64_t t;

	*why = "";
	if (parse_ts(ts, &t) != 0) {
		*why = "missing or malformed X-Slack-Request-Timestamp";
		return BST_ERR_TIMEOUT;
	}
	if (t > now_s + SLACK_MAX_SKEW_S || t < now_s - SLACK_MAX_SKEW_S) {
		*why = "stale request: timestamp more than 5 minutes from now";
		return BST_ERR_TIMEOUT;
	}
	if (sig == NULL || strlen(sig) != 3 + HMAC_SHA256_HEXLEN ||
	    strncmp(sig, "v0=", 3) != 0) {
		*why = "missing or malformed X-Slack-Signature";
		return BST_ERR_DENIED;
	}
	if (secret == NULL || secret[0] == '\0') {
		*why = "invalid signature";
		return BST_ERR_DENIED;
	}
	parts[0] = "v0:";
	lens[0] = 3;
	parts[1] = ts;
	lens[1] = strlen(ts);
	parts[2] = ":";
	lens[2] = 1;
	parts[3] = body;
	lens[3] = bodylen;
	if (hmac_sha256_parts(secret, strlen(secret), 4, parts, lens, md) != 0) {
		*why = "internal error";
		return BST_ERR_DENIED;
	}
	memcpy(want, "v0=", 3);
	{
		static const char hx[] = "0123456789abcdef";
		size_t i;

		for (i = 0; i < HMAC_SHA256_LEN; i++) {
			want[3 + 2 * i] = hx[md[i] >> 4];
			want[3 + 2 * i + 1] = hx[md[i] & 0xf];
		}
		want[3 + HMAC_SHA256_HEXLEN] = '\0';
	}
	/* Same length checked above: the comparison time is fixed. */
	if (!hmac_str_equal(want, sig)) {
		*why = "invalid signature";
		return BST_ERR_DENIED;
	}
	return 0;
}

/* Member key of o as a string (no control characters) copied into buf of
 * size sz; -1 if absent, not a string, too long or unprintable. */
static int
get_str(json_object *o, const char *key, char *buf, size_t sz, int required)
{
	json_object *v;
	const char *s;
	size_t i, len;

	buf[0] = '\0';
	if (o == NULL || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, key, &v) || v == NULL)
		return required ? -1 : 0;
	if (!json_object_is_type(v, json_type_string))
		return -1;
	s = json_object_get_string(v);
	len = (size_t)json_object_get_string_len(v);
	if (len >= sz)
		return -1;
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	return 0;
}

static int
all_of(const char *s, const char *set)
{
	if (*s == '\0')
		return 0;
	return s[strspn(s, set)] == '\0';
}

#define UPPER_DIGITS	"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

int
slack_parse_action(const char *payload, size_t len, struct slack_action *out,
    const char **why)
{
	json_tokener *tok = NULL;
	json_object *root = NULL, *user, *actions, *act, *container, *chan;
	char type[32], action_id[16], value[24];
	int64_t id = 0;
	size_t i;
	int r = BST_ERR_PROTO;

	memset(out, 0, sizeof(*out));
	*why = "malformed payload";
	if (payload == NULL || len == 0 || len > SLACK_MAX_PAYLOAD)
		return BST_ERR_PROTO;
	if ((tok = json_tokener_new_ex(JSON_DEPTH)) == NULL)
		return BST_ERR_NOMEM;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	root = json_tokener_parse_ex(tok, payload, (int)len);
	if (root == NULL || json_tokener_get_error(tok) != json_tokener_success ||
	    (size_t)json_tokener_get_parse_end(tok) != len ||
	    !json_object_is_type(root, json_type_object)) {
		*why = "payload is not a JSON object";
		goto out;
	}
	if (get_str(root, "type", type, sizeof(type), 1) != 0 ||
	    strcmp(type, "block_actions") != 0) {
		*why = "not a block_actions payload";
		goto out;
	}
	if (!json_object_object_get_ex(root, "user", &user) ||
	    get_str(user, "id", out->user_id, sizeof(out->user_id), 1) != 0 ||
	    !all_of(out->user_id, UPPER_DIGITS)) {
		*why = "payload without a valid user.id";
		goto out;
	}
	/* Display names are for logs only: drop them if odd. */
	if (get_str(user, "username", out->user_name, sizeof(out->user_name),
	    0) != 0)
		out->user_name[0] = '\0';
	if (!json_object_object_get_ex(root, "actions", &actions) ||
	    !json_object_is_type(actions, json_type_array) ||
	    json_object_array_length(actions) < 1 ||
	    (act = json_object_array_get_idx(actions, 0)) == NULL) {
		*why = "payload without actions";
		goto out;
	}
	if (get_str(act, "action_id", action_id, sizeof(action_id), 1) != 0) {
		*why = "unknown action";
		goto out;
	}
	if (strcmp(action_id, "approve") == 0)
		out->vote = SLACK_APPROVE;
	else if (strcmp(action_id, "deny") == 0)
		out->vote = SLACK_DENY;
	else {
		*why = "unknown action";
		goto out;
	}
	if (get_str(act, "value", value, sizeof(value), 1) != 0 ||
	    !all_of(value, "0123456789") || strlen(value) > 15) {
		*why = "action without a request id";
		goto out;
	}
	for (i = 0; value[i] != '\0'; i++)
		id = id * 10 + (value[i] - '0');
	if (id <= 0) {
		*why = "action without a request id";
		goto out;
	}
	out->request = id;
	if (json_object_object_get_ex(root, "container", &container) &&
	    (get_str(container, "message_ts", out->message_ts,
	    sizeof(out->message_ts), 0) != 0 ||
	    get_str(container, "channel_id", out->channel_id,
	    sizeof(out->channel_id), 0) != 0)) {
		*why = "malformed container";
		goto out;
	}
	if (out->channel_id[0] == '\0' &&
	    json_object_object_get_ex(root, "channel", &chan) &&
	    get_str(chan, "id", out->channel_id, sizeof(out->channel_id),
	    0) != 0) {
		*why = "malformed channel";
		goto out;
	}
	if ((out->message_ts[0] != '\0' &&
	    !all_of(out->message_ts, "0123456789.")) ||
	    (out->channel_id[0] != '\0' &&
	    !all_of(out->channel_id, UPPER_DIGITS))) {
		*why = "malformed container";
		goto out;
	}
	if (get_str(root, "response_url", out->response_url,
	    sizeof(out->response_url), 0) != 0 ||
	    (out->response_url[0] != '\0' &&
	    strncmp(out->response_url, "https://", 8) != 0 &&
	    strncmp(out->response_url, "http://", 7) != 0)) {
		*why = "malformed response_url";
		goto out;
	}
	*why = "";
	r = 0;
 out:
	if (r != 0) {
		const char *keep = *why;

		memset(out, 0, sizeof(*out));
		*why = keep;
	}
	json_object_put(root);
	json_tokener_free(tok);
	return r;
}
