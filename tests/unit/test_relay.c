/*
 * test_relay.c: the record-gated stream of session/relay.c: nothing is
 * sendable before its recording is acknowledged, acknowledgements release
 * exactly the bytes they cover, compaction keeps unsent and unrecorded
 * bytes intact, and the buffer never exceeds its capacity.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "session/relay.h"

static void
test_gated_until_ack(void **state)
{
	struct stream s;
	const uint8_t *p;

	(void)state;
	memset(&s, 0, sizeof(s));
	stream_append(&s, "hello ", 6);
	assert_int_equal(stream_sendable(&s, &p), 0);
	assert_int_equal(stream_unrecorded(&s, &p), 6);
	assert_memory_equal(p, "hello ", 6);
	stream_recorded(&s, 10);
	assert_int_equal(stream_unrecorded(&s, &p), 0);
	stream_append(&s, "world", 5);
	stream_recorded(&s, 11);
	assert_int_equal(stream_sendable(&s, &p), 0);
	stream_ack(&s, 9);		/* older than ours: nothing */
	assert_int_equal(stream_sendable(&s, &p), 0);
	stream_ack(&s, 10);
	assert_int_equal(stream_sendable(&s, &p), 6);
	assert_memory_equal(p, "hello ", 6);
	stream_consume(&s, 4);
	assert_int_equal(stream_sendable(&s, &p), 2);
	stream_ack(&s, 11);
	assert_int_equal(stream_sendable(&s, &p), 7);
	assert_memory_equal(p, "o world", 7);
	assert_false(stream_drained(&s));
	stream_consume(&s, 7);
	assert_true(stream_drained(&s));
	s.lib_pending = 3;
	assert_false(stream_drained(&s));
	stream_free(&s);
}

static void
test_capacity_and_compaction(void **state)
{
	struct stream s;
	const uint8_t *p;
	static uint8_t chunk[STREAM_CAP / 4];
	uint64_t seq = 1;
	int i;

	(void)state;
	memset(&s, 0, sizeof(s));
	for (i = 0; i < (int)sizeof(chunk); i++)
		chunk[i] = (uint8_t)i;
	for (i = 0; i < 4; i++) {
		assert_true(stream_room(&s) >= sizeof(chunk));
		stream_append(&s, chunk, sizeof(chunk));
		stream_recorded(&s, seq++);
	}
	assert_int_equal(stream_room(&s), 0);
	stream_ack(&s, 2);
	assert_int_equal(stream_sendable(&s, &p), 2 * sizeof(chunk));
	stream_consume(&s, sizeof(chunk) + 10);
	/* room only appears after compaction, which moves unsent bytes */
	assert_int_equal(stream_room(&s), 0);
	assert_int_equal(stream_space(&s), sizeof(chunk) + 10);
	stream_append(&s, chunk, 0);
	stream_compact(&s);
	assert_int_equal(stream_room(&s), sizeof(chunk) + 10);
	assert_int_equal(stream_sendable(&s, &p), sizeof(chunk) - 10);
	assert_memory_equal(p, chunk + 10, sizeof(chunk) - 10);
	/* new bytes after compaction are unrecorded and at the tail */
	stream_append(&s, "tail", 4);
	assert_int_equal(stream_unrecorded(&s, &p), 4);
	assert_memory_equal(p, "tail", 4);
	stream_recorded(&s, seq++);
	stream_ack(&s, seq);
	assert_int_equal(stream_sendable(&s, &p),
	    3 * sizeof(chunk) - 10 + 4);
	stream_free(&s);
}

static void
test_many_marks(void **state)
{
	struct stream s;
	const uint8_t *p;
	uint64_t seq;

	(void)state;
	memset(&s, 0, sizeof(s));
	/* more marks than the initial FIFO, acknowledged in steps */
	for (seq = 1; seq <= 1000; seq++) {
		stream_append(&s, "x", 1);
		stream_recorded(&s, seq * 2);	/* seqs need not be dense */
		if (seq % 100 == 0)
			stream_ack(&s, seq);	/* covers half of those */
	}
	stream_ack(&s, 1000);
	assert_int_equal(stream_sendable(&s, &p), 500);
	stream_ack(&s, 2000);
	assert_int_equal(stream_sendable(&s, &p), 1000);
	stream_free(&s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gated_until_ack),
		cmocka_unit_test(test_capacity_and_compaction),
		cmocka_unit_test(test_many_marks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
