/*
 * fuzz_slack.c: libFuzzer harness for what the HTTP listener does with a
 * Slack callback before trusting it: the v0 signature check (headers and
 * body from the input) and the block_actions payload parser, plus the
 * text cleaning that Slack messages and the review page apply to
 * untrusted text.  Input layout: byte 0 picks the target, the rest is
 * the data.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "approval/render.h"
#include "approval/slackproto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct slack_action a;
	const char *why;
	char ts[16], sig[80], *s, *t;
	size_t n;

	if (size < 1)
		return 0;
	switch (data[0] % 3) {
	case 0:
		(void)slack_parse_action((const char *)data + 1, size - 1, &a,
		    &why);
		break;
	case 1:
		/* ts (up to 15 bytes), sig (up to 79), then the body */
		data++;
		size--;
		n = size < 15 ? size : 15;
		memcpy(ts, data, n);
		ts[n] = '\0';
		data += n;
		size -= n;
		n = size < 79 ? size : 79;
		memcpy(sig, data, n);
		sig[n] = '\0';
		(void)slack_verify("8f742231b10e8888abcd99yyyzzz85a5", ts, sig,
		    data + n, size - n, 1531420618, &why);
		break;
	default:
		s = rnd_term_tail(data + 1, size - 1, 10, 1200);
		t = rnd_md_block(s);
		free(t);
		t = rnd_html(s);
		free(t);
		free(s);
		s = rnd_clean((const char *)data + 1, size - 1, 2000, 1);
		free(s);
		break;
	}
	return 0;
}
