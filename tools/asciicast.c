/*
 * asciicast.c: asciicast v2 lines (see asciicast.h).  Trusts nothing in
 * the bytes it encodes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "common/util.h"
#include "tools/asciicast.h"

#define JSON_FLAGS	(JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

/*
 * The sequence starting at p[0] (n bytes available): its length when
 * complete and valid; 0 when the n bytes are a valid but incomplete start
 * (more may come); -k when it is invalid, k being the bytes that form its
 * maximal invalid subpart (each replaced by one U+FFFD).
 */
static int
seq_len(const unsigned char *p, size_t n)
{
	unsigned char b = p[0], lo = 0x80, hi = 0xbf;
	int need, i;

	if (b < 0x80)
		return 1;
	if (b >= 0xc2 && b <= 0xdf)
		need = 2;
	else if (b >= 0xe0 && b <= 0xef) {
		need = 3;
		if (b == 0xe0)
			lo = 0xa0;	/* no overlong forms */
		else if (b == 0xed)
			hi = 0x9f;	/* no surrogates */
	} else if (b >= 0xf0 && b <= 0xf4) {
		need = 4;
		if (b == 0xf0)
			lo = 0x90;
		else if (b == 0xf4)
			hi = 0x8f;	/* nothing above U+10FFFF */
	} else
		return -1;
	for (i = 1; i < need; i++) {
		if ((size_t)i >= n)
			return 0;
		if (p[i] < lo || p[i] > hi)
			return -i;
		lo = 0x80;
		hi = 0xbf;
	}
	return need;
}

static size_t
put_fffd(char *out, size_t o)
{
	out[o++] = (char)0xef;
	out[o++] = (char)0xbf;
	out[o++] = (char)0xbd;
	return o;
}

size_t
cast_utf8(struct cast_utf8 *st, const unsigned char *in, size_t len,
    char *out, int final)
{
	unsigned char *copy = NULL;
	const unsigned char *buf = in;
	size_t n = st->npend + len, i = 0, o = 0;
	int k;

	/* Only bytes left waiting by the last call need joining. */
	if (st->npend > 0) {
		buf = copy = xmalloc(n);
		memcpy(copy, st->pend, st->npend);
		if (len > 0)
			memcpy(copy + st->npend, in, len);
		st->npend = 0;
	}
	while (i < n) {
		k = seq_len(buf + i, n - i);
		if (k > 0) {
			memcpy(out + o, buf + i, (size_t)k);
			o += (size_t)k;
			i += (size_t)k;
		} else if (k < 0) {
			o = put_fffd(out, o);
			i += (size_t)-k;
		} else if (!final) {
			/* At most 3 bytes: a 4-byte lead and 2 more. */
			st->npend = n - i;
			memcpy(st->pend, buf + i, st->npend);
			break;
		} else {
			o = put_fffd(out, o);
			break;
		}
	}
	out[o] = '\0';
	free(copy);
	return o;
}

int
cast_utf8_valid(const char *p, size_t len)
{
	size_t i = 0;
	int k;

	while (i < len) {
		k = seq_len((const unsigned char *)p + i, len - i);
		if (k <= 0)
			return 0;
		i += (size_t)k;
	}
	return 1;
}

char *
cast_event(double t, const char *type, const char *data, size_t len)
{
	json_object *a = json_object_new_array();
	char ts[32], *line;

	snprintf(ts, sizeof(ts), "%.6f", t < 0 ? 0.0 : t);
	json_object_array_add(a, json_object_new_double_s(t, ts));
	json_object_array_add(a, json_object_new_string(type));
	json_object_array_add(a, json_object_new_string_len(data, (int)len));
	line = xasprintf("%s\n", json_object_to_json_string_ext(a, JSON_FLAGS));
	json_object_put(a);
	return line;
}

char *
cast_header(json_object *header)
{
	return xasprintf("%s\n", json_object_to_json_string_ext(header,
	    JSON_FLAGS));
}
