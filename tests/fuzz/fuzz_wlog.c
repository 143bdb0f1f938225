/*
 * fuzz_wlog.c: libFuzzer harness for the monitor's reader of a worker's
 * stderr (bastion/worker_log.c): arbitrary bytes, fed in arbitrary
 * pieces, must give lines that are printable, newline-free and shorter
 * than WLOG_LINE_MAX.
 *
 *   make fuzz && ./build-fuzz/fuzz_wlog -max_total_time=60
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bastion/worker_log.h"

static void
check(const char *line, void *arg)
{
	size_t n = strlen(line), i;

	(void)arg;
	if (n >= WLOG_LINE_MAX)
		abort();
	for (i = 0; i < n; i++)
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wlog l;
	size_t off = 0, n;

	wlog_init(&l, -1);
	/* The first byte of each piece says how long the piece is. */
	while (off < size) {
		n = 1 + (data[off] % 64) * 97;
		off++;
		if (n > size - off)
			n = size - off;
		wlog_feed(&l, (const char *)data + off, n, check, NULL);
		off += n;
	}
	wlog_flush(&l, check, NULL);
	return 0;
}
