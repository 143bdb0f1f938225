/*
 * relay.h: bounded byte streams between the two SSH sessions of a worker,
 * with "record before relay" gating.
 *
 * A stream holds bytes read from one side and not yet written to the
 * other.  Every appended byte is first sent to the monitor for recording
 * (the caller passes the sequence number it got); bytes become writable
 * only once the monitor has acknowledged (committed) that sequence number.
 * The buffer has a fixed capacity and is only appended at its tail, so
 * libssh callbacks that fire inside a write never move bytes under the
 * writer; compaction happens only in stream_compact(), called from the
 * loop outside libssh.  Trusts its caller.
 */
#ifndef BST_RELAY_H
#define BST_RELAY_H

#include <stddef.h>
#include <stdint.h>

#define STREAM_CAP	(4 * 1024 * 1024)

struct stream_mark {
	uint64_t	seq;	/* recording sequence number */
	uint64_t	end;	/* absolute stream offset its bytes end at */
};

struct stream {
	uint8_t			*buf;		/* allocated on first append */
	size_t			 start, end;	/* unsent bytes are buf[start..end) */
	uint64_t		 total_in;	/* bytes ever appended */
	uint64_t		 total_out;	/* bytes ever consumed (written out) */
	uint64_t		 total_acked;	/* bytes ever committed by the monitor */
	uint64_t		 total_recorded; /* bytes ever sent for recording */
	struct stream_mark	*marks;		/* FIFO of unacknowledged appends */
	size_t			 mhead, mcount, mcap;
	size_t			 lib_pending;	/* bytes libssh still holds for us */
};

void stream_free(struct stream *s);
/* Free room at the tail (no compaction). */
size_t stream_room(const struct stream *s);
/* Free room after compaction. */
size_t stream_space(const struct stream *s);
/* Moves unsent bytes to the front; only call outside libssh. */
void stream_compact(struct stream *s);
/* Appends n <= stream_room() bytes, not yet sent for recording. */
void stream_append(struct stream *s, const void *p, size_t n);
/*
 * The appended bytes not yet sent for recording (always the tail of the
 * buffer); after sending them under seq, call stream_recorded().
 */
size_t stream_unrecorded(const struct stream *s, const uint8_t **p);
void stream_recorded(struct stream *s, uint64_t seq);
/* Applies the monitor's acknowledgement. */
void stream_ack(struct stream *s, uint64_t acked_seq);
/* Pointer and length of the bytes that are committed and not yet sent. */
size_t stream_sendable(const struct stream *s, const uint8_t **p);
void stream_consume(struct stream *s, size_t n);
/* 1 if nothing is buffered here or in libssh. */
int stream_drained(const struct stream *s);

#endif
