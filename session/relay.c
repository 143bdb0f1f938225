/*
 * relay.c: bounded, record-gated byte streams (see relay.h).
 */
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "session/relay.h"

void
stream_free(struct stream *s)
{
	free(s->buf);
	free(s->marks);
	memset(s, 0, sizeof(*s));
}

size_t
stream_room(const struct stream *s)
{
	return STREAM_CAP - s->end;
}

size_t
stream_space(const struct stream *s)
{
	return STREAM_CAP - (s->end - s->start);
}

void
stream_compact(struct stream *s)
{
	if (s->start == 0)
		return;
	if (s->end > s->start)
		memmove(s->buf, s->buf + s->start, s->end - s->start);
	s->end -= s->start;
	s->start = 0;
}

void
stream_append(struct stream *s, const void *p, size_t n)
{
	if (n == 0)
		return;
	if (n > stream_room(s))
		fatal("stream_append: %zu bytes exceed room %zu", n,
		    stream_room(s));
	if (s->buf == NULL)
		s->buf = xmalloc(STREAM_CAP);
	memcpy(s->buf + s->end, p, n);
	s->end += n;
	s->total_in += n;
}

size_t
stream_unrecorded(const struct stream *s, const uint8_t **p)
{
	size_t n = (size_t)(s->total_in - s->total_recorded);

	*p = s->buf + s->end - n;
	return n;
}

void
stream_recorded(struct stream *s, uint64_t seq)
{
	if (s->mcount == s->mcap) {
		size_t ncap = s->mcap ? s->mcap * 2 : 64, i;
		struct stream_mark *nm = xcalloc(ncap, sizeof(*nm));

		for (i = 0; i < s->mcount; i++)
			nm[i] = s->marks[(s->mhead + i) % s->mcap];
		free(s->marks);
		s->marks = nm;
		s->mcap = ncap;
		s->mhead = 0;
	}
	s->total_recorded = s->total_in;
	s->marks[(s->mhead + s->mcount) % s->mcap].seq = seq;
	s->marks[(s->mhead + s->mcount) % s->mcap].end = s->total_in;
	s->mcount++;
}

void
stream_ack(struct stream *s, uint64_t acked_seq)
{
	while (s->mcount > 0 && s->marks[s->mhead].seq <= acked_seq) {
		s->total_acked = s->marks[s->mhead].end;
		s->mhead = (s->mhead + 1) % s->mcap;
		s->mcount--;
	}
}

size_t
stream_sendable(const struct stream *s, const uint8_t **p)
{
	*p = s->buf + s->start;
	return (size_t)(s->total_acked - s->total_out);
}

void
stream_consume(struct stream *s, size_t n)
{
	s->start += n;
	s->total_out += n;
	if (s->start == s->end)
		s->start = s->end = 0;	/* empty: rewind for free */
}

int
stream_drained(const struct stream *s)
{
	return s->start == s->end && s->lib_pending == 0;
}
