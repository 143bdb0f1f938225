/*
 * test_asciicast.c: unit tests for tools/asciicast.c: UTF-8 cleaning of
 * recorded bytes (sequences split between events, each kind of invalid
 * input, the end of the stream) and the event lines.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "tools/asciicast.h"

#define FFFD	"\xef\xbf\xbd"

/* Cleans in (as one piece, final) and compares with want. */
#define CLEAN(in, want)	clean_is(in, sizeof(in) - 1, want, sizeof(want) - 1)
static void
clean_is(const char *in, size_t len, const char *want, size_t wlen)
{
	struct cast_utf8 st;
	char out[CAST_UTF8_ROOM(64)];
	size_t n;

	assert_true(len <= 64);
	memset(&st, 0, sizeof(st));
	n = cast_utf8(&st, (const unsigned char *)in, len, out, 1);
	assert_int_equal(n, wlen);
	assert_memory_equal(out, want, n);
	assert_int_equal(st.npend, 0);
	assert_true(cast_utf8_valid(out, n));
}

static void
test_valid_passes(void **state)
{
	(void)state;
	CLEAN("plain\r\n", "plain\r\n");
	CLEAN("na\xc3\xafve \xe2\x82\xac \xf0\x9f\x98\x80",
	    "na\xc3\xafve \xe2\x82\xac \xf0\x9f\x98\x80");
	CLEAN("\0x", "\0x");
	CLEAN("\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf");	/* U+10FFFF */
	CLEAN("\xed\x9f\xbf", "\xed\x9f\xbf");		/* U+D7FF */
}

static void
test_invalid_replaced(void **state)
{
	(void)state;
	/* stray continuation bytes and impossible bytes: one each */
	CLEAN("a\x80\xbf" "b", "a" FFFD FFFD "b");
	CLEAN("\xff\xfe", FFFD FFFD);
	/* overlong forms: C0/C1 leads, E0 80, F0 80 */
	CLEAN("\xc0\xaf", FFFD FFFD);
	CLEAN("\xe0\x80\xaf", FFFD FFFD FFFD);
	CLEAN("\xf0\x80\x80\xaf", FFFD FFFD FFFD FFFD);
	/* surrogates, and above U+10FFFF */
	CLEAN("\xed\xa0\x80", FFFD FFFD FFFD);
	CLEAN("\xf4\x90\x80\x80", FFFD FFFD FFFD FFFD);
	CLEAN("\xf5\x80", FFFD FFFD);
	/* a truncated sequence before other text: one for its valid part */
	CLEAN("\xe2\x82" "x", FFFD "x");
	CLEAN("\xf0\x9f\x98" "\xe2\x82\xac", FFFD "\xe2\x82\xac");
	/* what printf 'bad:\377\300\257:end' writes */
	CLEAN("bad:\xff\xc0\xaf:end", "bad:" FFFD FFFD FFFD ":end");
	/* truncated at the very end of the stream */
	CLEAN("ok\xf0\x9f", "ok" FFFD);
}

static void
test_split_between_events(void **state)
{
	const char *s = "\xe2\x82\xac\xf0\x9f\x98\x80z";	/* €😀z */
	struct cast_utf8 st;
	char out[CAST_UTF8_ROOM(16)], all[64];
	size_t cut, i, n, len = strlen(s), total;

	(void)state;
	/* every cut point, and the bytes one at a time */
	for (cut = 0; cut <= len; cut++) {
		memset(&st, 0, sizeof(st));
		n = cast_utf8(&st, (const unsigned char *)s, cut, out, 0);
		memcpy(all, out, n);
		total = n;
		n = cast_utf8(&st, (const unsigned char *)s + cut, len - cut,
		    out, 1);
		memcpy(all + total, out, n);
		total += n;
		assert_int_equal(total, len);
		assert_memory_equal(all, s, len);
	}
	memset(&st, 0, sizeof(st));
	total = 0;
	for (i = 0; i < len; i++) {
		n = cast_utf8(&st, (const unsigned char *)s + i, 1, out, 0);
		assert_true(st.npend <= 3);
		memcpy(all + total, out, n);
		total += n;
	}
	assert_int_equal(total, len);
	assert_memory_equal(all, s, len);
	/* a pending start that the next event does not complete */
	memset(&st, 0, sizeof(st));
	n = cast_utf8(&st, (const unsigned char *)"a\xe2\x82", 3, out, 0);
	assert_int_equal(n, 1);
	assert_int_equal(st.npend, 2);
	n = cast_utf8(&st, (const unsigned char *)"b", 1, out, 0);
	assert_int_equal(n, 4);
	assert_memory_equal(out, FFFD "b", 4);
	/* the stream ends on a pending start */
	memset(&st, 0, sizeof(st));
	(void)cast_utf8(&st, (const unsigned char *)"\xe2", 1, out, 0);
	n = cast_utf8(&st, (const unsigned char *)"", 0, out, 1);
	assert_int_equal(n, 3);
	assert_memory_equal(out, FFFD, 3);
}

static void
test_event_lines(void **state)
{
	char *line;
	json_object *o;

	(void)state;
	line = cast_event(1.5, "o", "a\"b\\c\x1b[0m\n/\0z", 13);
	assert_string_equal(line,
	    "[1.500000,\"o\",\"a\\\"b\\\\c\\u001b[0m\\n/\\u0000z\"]\n");
	o = json_tokener_parse(line);
	assert_non_null(o);
	assert_int_equal(json_object_get_string_len(
	    json_object_array_get_idx(o, 2)), 13);
	json_object_put(o);
	free(line);
	line = cast_event(-0.25, "r", "100x40", 6);	/* never negative */
	assert_string_equal(line, "[0.000000,\"r\",\"100x40\"]\n");
	free(line);
	o = json_object_new_object();
	json_object_object_add(o, "version", json_object_new_int(2));
	json_object_object_add(o, "title", json_object_new_string("a/b"));
	line = cast_header(o);
	assert_string_equal(line, "{\"version\":2,\"title\":\"a/b\"}\n");
	free(line);
	json_object_put(o);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_passes),
		cmocka_unit_test(test_invalid_replaced),
		cmocka_unit_test(test_split_between_events),
		cmocka_unit_test(test_event_lines),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
