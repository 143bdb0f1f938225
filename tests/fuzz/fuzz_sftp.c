/*
 * fuzz_sftp.c: libFuzzer harness for session/sftp.c, both directions of
 * one channel interleaved as sftpgate.c drives them: the agent's bytes
 * cut into requests, classified, checked against the handles and
 * "relayed" (every judged request allowed, so the handle table fills);
 * the target's bytes fed to the reply follower in arbitrary pieces.
 *
 * Invariants (abort otherwise): a judged request has a NUL-free text, a
 * refused one a reason and a well-formed STATUS reply; the follower
 * always consumes something until the replies are declared broken, and
 * stops before the end of its input only at the end of a packet.
 *
 *   make fuzz && ./build-fuzz/fuzz_sftp -max_total_time=60
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "session/sftp.h"

#define HOLD	(64 * 1024)

static void
request(struct sftp_state *st, const uint8_t *pkt, size_t len)
{
	struct sftp_req r;
	uint8_t reply[600];
	size_t n, plen;

	sftp_req_parse(pkt, len, &r);
	sftp_check(st, &r);
	switch (r.verdict) {
	case SFTP_JUDGE:
		if (r.text == NULL || strlen(r.text) == 0)
			abort();
		/* fall through: allowed */
	case SFTP_PASS:
		sftp_forwarded(st, &r);
		break;
	case SFTP_REFUSE:
		if (r.why == NULL)
			abort();
		n = sftp_status(reply, sizeof(reply), r.id, r.status, r.why);
		if (n == 0 || sftp_frame(reply, n, &plen) != SFTP_FRAME_OK ||
		    plen != n)
			abort();
		break;
	}
	sftp_req_free(&r);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sftp_state *st = sftp_state_new();
	static uint8_t hold[HOLD];
	size_t hold_len = 0, off = 0, n, plen, used;
	int tag;

	/* Pieces: a tag byte (direction, length), then the piece. */
	while (off < size) {
		tag = data[off++];
		n = 1 + (size_t)(tag >> 1) * 37;
		if (n > size - off)
			n = size - off;
		if ((tag & 1) == 0) {
			if (n > HOLD - hold_len)
				n = HOLD - hold_len;
			memcpy(hold + hold_len, data + off, n);
			hold_len += n;
			for (;;) {
				enum sftp_frame f = sftp_frame(hold, hold_len,
				    &plen);

				if (f == SFTP_FRAME_BAD) {
					hold_len = 0;	/* the gate stops */
					break;
				}
				if (f == SFTP_FRAME_MORE)
					break;
				request(st, hold, plen);
				memmove(hold, hold + plen, hold_len - plen);
				hold_len -= plen;
			}
			if (hold_len == HOLD)
				hold_len = 0;
		} else {
			size_t left = n;
			const uint8_t *p = data + off;

			while (left > 0 && !sftp_broken(st)) {
				used = sftp_reply(st, p, left);
				if (used == 0 ? !sftp_broken(st) : used > left)
					abort();
				/* It stops early only at the end of a packet. */
				if (used > 0 && used < left &&
				    !sftp_at_boundary(st))
					abort();
				p += used;
				left -= used;
			}
		}
		off += n;
	}
	sftp_state_free(st);
	return 0;
}
