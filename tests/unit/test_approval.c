/*
 * test_approval.c: the pure parts of the approval channels: the Slack v0
 * signature (Slack's published test vector), the block_actions payload
 * parser, HMAC-SHA256, and the escaping of what approvers are shown.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <json-c/json.h>

#include "approval/render.h"
#include "approval/slackproto.h"
#include "common/err.h"
#include "common/hmac.h"

/* From Slack's "Verifying requests from Slack" documentation. */
static const char vec_secret[] = "8f742231b10e8888abcd99yyyzzz85a5";
static const char vec_ts[] = "1531420618";
static const char vec_body[] =
    "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain="
    "testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id="
    "U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&"
    "response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F"
    "397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015."
    "47445629121.803a0bc887a14d10d2c447fce8b6703c";
static const char vec_sig[] =
    "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

static void
test_slack_vector(void **state)
{
	const char *why;
	char bad[sizeof(vec_sig)];

	(void)state;
	assert_int_equal(slack_verify(vec_secret, vec_ts, vec_sig, vec_body,
	    strlen(vec_body), 1531420618, &why), 0);
	/* within the window on both sides */
	assert_int_equal(slack_verify(vec_secret, vec_ts, vec_sig, vec_body,
	    strlen(vec_body), 1531420618 + 300, &why), 0);
	assert_int_equal(slack_verify(vec_secret, vec_ts, vec_sig, vec_body,
	    strlen(vec_body), 1531420618 - 300, &why), 0);
	/* stale, or from the future */
	assert_int_equal(slack_verify(vec_secret, vec_ts, vec_sig, vec_body,
	    strlen(vec_body), 1531420618 + 301, &why), BST_ERR_TIMEOUT);
	assert_non_null(strstr(why, "stale"));
	assert_int_equal(slack_verify(vec_secret, vec_ts, vec_sig, vec_body,
	    strlen(vec_body), 1531420618 - 301, &why), BST_ERR_TIMEOUT);
	/* one flipped hex digit, one changed body byte, wrong secret */
	memcpy(bad, vec_sig, sizeof(bad));
	bad[10] = bad[10] == '0' ? '1' : '0';
	assert_int_equal(slack_verify(vec_secret, vec_ts, bad, vec_body,
	    strlen(vec_body), 1531420618, &why), BST_ERR_DENIED);
	assert_int_equal(slack_verify(vec_secret, vec_ts, vec_sig, vec_body,
	    strlen(vec_body) - 1, 1531420618, &why), BST_ERR_DENIED);
	assert_int_equal(slack_verify("8f742231b10e8888abcd99yyyzzz85a6",
	    vec_ts, vec_sig, vec_body, strlen(vec_body), 1531420618, &why),
	    BST_ERR_DENIED);
	/* the signature covers the timestamp too */
	assert_int_equal(slack_verify(vec_secret, "1531420619", vec_sig,
	    vec_body, strlen(vec_body), 1531420618, &why), BST_ERR_DENIED);
	/* missing / malformed headers */
	assert_int_equal(slack_verify(vec_secret, NULL, vec_sig, vec_body,
	    strlen(vec_body), 1531420618, &why), BST_ERR_TIMEOUT);
	assert_int_equal(slack_verify(vec_secret, "15314206l8", vec_sig,
	    vec_body, strlen(vec_body), 1531420618, &why), BST_ERR_TIMEOUT);
	assert_int_equal(slack_verify(vec_secret, vec_ts, NULL, vec_body,
	    strlen(vec_body), 1531420618, &why), BST_ERR_DENIED);
	assert_int_equal(slack_verify(vec_secret, vec_ts, vec_sig + 3,
	    vec_body, strlen(vec_body), 1531420618, &why), BST_ERR_DENIED);
	assert_int_equal(slack_verify(vec_secret, vec_ts, "v1=a2114d57b48eac39"
	    "b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503", vec_body,
	    strlen(vec_body), 1531420618, &why), BST_ERR_DENIED);
	assert_int_equal(slack_verify("", vec_ts, vec_sig, vec_body,
	    strlen(vec_body), 1531420618, &why), BST_ERR_DENIED);
}

static void
test_hmac(void **state)
{
	char hex[HMAC_SHA256_HEXLEN + 1];

	(void)state;
	/* RFC 4231 test case 2 */
	assert_int_equal(hmac_sha256_hex("Jefe", 4,
	    "what do ya want for nothing?", 28, hex), 0);
	assert_string_equal(hex, "5bdcc146bf60754e6a042426089575c75a003f0"
	    "89d2739839dec58b964ec3843");
	/* FIPS 180-2 "abc" */
	assert_int_equal(sha256_hex_of("abc", 3, hex), 0);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a3"
	    "96177a9cb410ff61f20015ad");
	assert_true(hmac_str_equal("abc", "abc"));
	assert_false(hmac_str_equal("abc", "abd"));
	assert_false(hmac_str_equal("abc", "abcd"));
}

#define PAYLOAD(fields) "{\"type\":\"block_actions\",\"user\":{\"id\":" \
	"\"U024BE7LH\",\"username\":\"bob\"},\"container\":{\"type\":" \
	"\"message\",\"message_ts\":\"1700000000.000100\",\"channel_id\":" \
	"\"C0123456\"},\"response_url\":\"https://hooks.slack.com/actions/" \
	"T1/1/x\",\"actions\":[" fields "]}"

static int
parse(const char *p, struct slack_action *a)
{
	const char *why;

	return slack_parse_action(p, strlen(p), a, &why);
}

static void
test_parse_action(void **state)
{
	struct slack_action a;

	(void)state;
	assert_int_equal(parse(PAYLOAD("{\"action_id\":\"approve\",\"value\":"
	    "\"42\",\"type\":\"button\"}"), &a), 0);
	assert_string_equal(a.user_id, "U024BE7LH");
	assert_string_equal(a.user_name, "bob");
	assert_int_equal(a.vote, SLACK_APPROVE);
	assert_int_equal(a.request, 42);
	assert_string_equal(a.channel_id, "C0123456");
	assert_string_equal(a.message_ts, "1700000000.000100");
	assert_string_equal(a.response_url,
	    "https://hooks.slack.com/actions/T1/1/x");
	assert_int_equal(parse(PAYLOAD("{\"action_id\":\"deny\",\"value\":"
	    "\"7\"}"), &a), 0);
	assert_int_equal(a.vote, SLACK_DENY);
	assert_int_equal(a.request, 7);

	/* refusals */
	assert_int_not_equal(parse(PAYLOAD("{\"action_id\":\"approve_all\","
	    "\"value\":\"42\"}"), &a), 0);
	assert_int_not_equal(parse(PAYLOAD("{\"action_id\":\"approve\","
	    "\"value\":\"0\"}"), &a), 0);
	assert_int_not_equal(parse(PAYLOAD("{\"action_id\":\"approve\","
	    "\"value\":\"-1\"}"), &a), 0);
	assert_int_not_equal(parse(PAYLOAD("{\"action_id\":\"approve\","
	    "\"value\":\"42 \"}"), &a), 0);
	assert_int_not_equal(parse(PAYLOAD("{\"action_id\":\"approve\","
	    "\"value\":\"9999999999999999999999\"}"), &a), 0);
	assert_int_not_equal(parse(PAYLOAD("{\"action_id\":\"approve\","
	    "\"value\":42}"), &a), 0);
	assert_int_not_equal(parse(PAYLOAD(""), &a), 0);
	assert_int_not_equal(parse("{\"type\":\"view_submission\"}", &a), 0);
	assert_int_not_equal(parse("{\"type\":\"block_actions\",\"user\":"
	    "{\"id\":\"u0<@here>\"},\"actions\":[{\"action_id\":\"approve\","
	    "\"value\":\"1\"}]}", &a), 0);
	assert_int_not_equal(parse("{\"type\":\"block_actions\",\"actions\":"
	    "[{\"action_id\":\"approve\",\"value\":\"1\"}]}", &a), 0);
	assert_int_not_equal(parse("[]", &a), 0);
	assert_int_not_equal(parse("{", &a), 0);
	assert_int_not_equal(parse(PAYLOAD("{\"action_id\":\"approve\","
	    "\"value\":\"1\"}") "x", &a), 0);
	assert_int_not_equal(parse("{\"type\":\"block_actions\",\"user\":"
	    "{\"id\":\"U1\"},\"response_url\":\"file:///etc/passwd\","
	    "\"actions\":[{\"action_id\":\"approve\",\"value\":\"1\"}]}", &a),
	    0);
	assert_int_equal(a.request, 0);	/* cleared on failure */
}

static void
test_clean_and_escape(void **state)
{
	char *s;

	(void)state;
	s = rnd_clean("a\x1b[31mb\xff\n", 9, 100, 0);
	assert_string_equal(s, "a\\x1b[31mb\\xff\\n");
	free(s);
	s = rnd_clean("caf\xc3\xa9", 5, 100, 1);
	assert_string_equal(s, "caf\xc3\xa9");
	free(s);
	s = rnd_clean("0123456789", 10, 4, 1);
	assert_string_equal(s, "0123 [6 more bytes]");
	free(s);
	s = rnd_md_escape("<!channel> & <@U1|x> <http://e.vil|ok>");
	assert_string_equal(s, "&lt;!channel&gt; &amp; &lt;@U1|x&gt; "
	    "&lt;http://e.vil|ok&gt;");
	free(s);
	s = rnd_md_block("a```b");
	assert_null(strstr(s + 3, "```b"));
	assert_int_equal(strncmp(s, "```a`", 5), 0);
	assert_string_equal(s + strlen(s) - 4, "b```");
	free(s);
	s = rnd_html("<script>\"'&");
	assert_string_equal(s, "&lt;script&gt;&quot;&#39;&amp;");
	free(s);
}

static void
test_term_tail(void **state)
{
	static const char out[] = "line1\r\nold\rnew\r\n\x1b[1;31mred\x1b[0m "
	    "\x1b]0;title\x07text\nab\bc\n\n";
	char *s;

	(void)state;
	s = rnd_term_tail(out, sizeof(out) - 1, 10, 1000);
	assert_string_equal(s, "line1\nnew\nred text\nac");
	free(s);
	s = rnd_term_tail(out, sizeof(out) - 1, 2, 1000);
	assert_string_equal(s, "red text\nac");
	free(s);
	s = rnd_term_tail("", 0, 10, 100);
	assert_string_equal(s, "");
	free(s);
}

static json_object *
request(const char *status, const char *cmd)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "id", json_object_new_int64(42));
	json_object_object_add(o, "identity", json_object_new_string("agent-ci"));
	json_object_object_add(o, "owner", json_object_new_string("alice"));
	json_object_object_add(o, "target", json_object_new_string("web1"));
	json_object_object_add(o, "target_user", json_object_new_string("root"));
	json_object_object_add(o, "command", json_object_new_string(cmd));
	json_object_object_add(o, "rule", json_object_new_string("privilege"));
	json_object_object_add(o, "reason", json_object_new_string(
	    "rule \"privilege\" matches <sudo>"));
	json_object_object_add(o, "groups", json_object_new_string("oncall"));
	json_object_object_add(o, "count", json_object_new_int(1));
	json_object_object_add(o, "status", json_object_new_string(status));
	json_object_object_add(o, "expires", json_object_new_string(
	    "2026-11-22T00:45:24.123456Z"));
	json_object_object_add(o, "votes", json_object_new_array());
	return o;
}

static void
test_slack_message(void **state)
{
	json_object *req = request("pending", "sudo rm -rf / <!channel> "
	    "<http://evil|click> ```x"), *msg, *blocks, *b, *t;
	const char *text;
	size_t i;
	int actions = 0;

	(void)state;
	msg = rnd_slack_message(req, "C0123456", "$ \x1b[1mls\x1b[0m",
	    "https://b.example/requests/42?k=x");
	text = json_object_to_json_string_ext(msg, JSON_C_TO_STRING_PLAIN);
	assert_null(strstr(text, "<!channel>"));
	assert_null(strstr(text, "<http://evil"));
	assert_non_null(strstr(text, "&lt;!channel&gt;"));
	assert_null(strstr(text, "\x1b"));
	assert_true(json_object_object_get_ex(msg, "blocks", &blocks));
	for (i = 0; i < json_object_array_length(blocks); i++) {
		b = json_object_array_get_idx(blocks, i);
		json_object_object_get_ex(b, "type", &t);
		if (strcmp(json_object_get_string(t), "actions") == 0) {
			actions++;
			assert_non_null(strstr(json_object_to_json_string_ext(b, JSON_C_TO_STRING_PLAIN),
			    "\"confirm\""));
			assert_non_null(strstr(json_object_to_json_string_ext(b, JSON_C_TO_STRING_PLAIN),
			    "\"value\":\"42\""));
		}
	}
	assert_int_equal(actions, 1);
	json_object_put(msg);
	json_object_put(req);

	/* decided: no buttons */
	req = request("denied", "sudo ls");
	json_object_object_add(req, "decided_by", json_object_new_string("bob"));
	msg = rnd_slack_message(req, "C0123456", "", NULL);
	text = json_object_to_json_string_ext(msg, JSON_C_TO_STRING_PLAIN);
	assert_null(strstr(text, "\"actions\""));
	assert_non_null(strstr(text, "denied by bob"));
	json_object_put(msg);
	json_object_put(req);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slack_vector),
		cmocka_unit_test(test_hmac),
		cmocka_unit_test(test_parse_action),
		cmocka_unit_test(test_clean_and_escape),
		cmocka_unit_test(test_term_tail),
		cmocka_unit_test(test_slack_message),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
