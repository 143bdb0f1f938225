/*
 * fuzz_sftpfiles.c: libFuzzer harness for tools/sftp-files.c, the reader
 * of recorded sftp channels behind "bastionctl files": both directions
 * interleaved in arbitrary pieces (the same input format as fuzz_sftp, so
 * the two share seeds).  Invariants (abort otherwise): pieces are never
 * empty and never wrap around 2^64; a file's byte count is the sum of
 * its pieces; a hash is claimed only for files whose pieces came in order.
 *
 *   make fuzz && ./build-fuzz/fuzz_sftpfiles -max_total_time=60
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tools/sftp-files.h"

#define MAX_FILES	4096

static uint64_t sums[MAX_FILES];

static void
piece(void *arg, size_t idx, uint64_t offset, const uint8_t *data, size_t len)
{
	(void)arg;
	(void)data;
	if (len == 0 || offset + len < offset)
		abort();
	if (idx < MAX_FILES)
		sums[idx] += len;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sf_reader *r = sf_new(piece, NULL);
	const struct sf_file *f;
	size_t off = 0, n, i;
	int tag, broken;

	memset(sums, 0, sizeof(sums));
	while (off < size) {
		tag = data[off++];
		n = 1 + (size_t)(tag >> 1) * 37;
		if (n > size - off)
			n = size - off;
		sf_feed(r, (tag & 1) ? SF_REPLY : SF_REQUEST, data + off, n);
		off += n;
	}
	f = sf_files(r, &n, &broken);
	for (i = 0; i < n && i < MAX_FILES; i++) {
		if (f[i].bytes != sums[i] || f[i].path == NULL)
			abort();
		if (f[i].sha256[0] != '\0' && (!f[i].in_order ||
		    strlen(f[i].sha256) != 64))
			abort();
	}
	sf_free(r);
	return 0;
}
