/*
 * fuzz_asciicast.c: libFuzzer harness for the UTF-8 cleaning of recorded
 * bytes in bastionctl export (tools/asciicast.c): arbitrary bytes, fed in
 * arbitrary pieces, must give valid UTF-8, the same as when fed whole,
 * never more than CAST_UTF8_ROOM, and never more than 3 bytes waiting;
 * each event line must parse back as JSON with the same text.
 *
 *   make fuzz && ./build-fuzz/fuzz_asciicast -max_total_time=60
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "tools/asciicast.h"

static char *
clean(const uint8_t *p, size_t size, size_t piece, size_t *outlen)
{
	struct cast_utf8 st;
	char *out = malloc(CAST_UTF8_ROOM(size)), *tmp;
	size_t off = 0, n, o = 0;

	memset(&st, 0, sizeof(st));
	for (;;) {
		n = size - off < piece ? size - off : piece;
		tmp = malloc(CAST_UTF8_ROOM(n));
		n = cast_utf8(&st, p + off, n, tmp, off + n == size);
		if (st.npend > 3)
			abort();
		memcpy(out + o, tmp, n);
		o += n;
		free(tmp);
		off += piece < size - off ? piece : size - off;
		if (off >= size)
			break;
	}
	*outlen = o;
	return out;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t piece, n1, n2;
	char *whole, *pieces, *line;
	json_object *o;

	if (size == 0)
		return 0;
	piece = 1 + data[0] % 7;
	data++;
	size--;
	whole = clean(data, size, size > 0 ? size : 1, &n1);
	pieces = clean(data, size, piece, &n2);
	if (n1 != n2 || memcmp(whole, pieces, n1) != 0 ||
	    !cast_utf8_valid(whole, n1) || n1 > 3 * size + 3)
		abort();
	line = cast_event(0.5, "o", whole, n1);
	o = json_tokener_parse(line);
	if (o == NULL || (size_t)json_object_get_string_len(
	    json_object_array_get_idx(o, 2)) != n1 ||
	    memcmp(json_object_get_string(json_object_array_get_idx(o, 2)),
	    whole, n1) != 0)
		abort();
	json_object_put(o);
	free(line);
	free(whole);
	free(pieces);
	return 0;
}
