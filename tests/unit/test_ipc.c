/*
 * test_ipc.c: framing, field decoding, fd passing and malformed input of
 * common/ipc.c, over real socketpairs.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/err.h"
#include "common/ipc.h"

static void
pair(struct ipc **a, struct ipc **b)
{
	int sp[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	*a = ipc_new(sp[0]);
	*b = ipc_new(sp[1]);
}

/* Reads until a message is complete (the peer has written it). */
static int
next(struct ipc *ipc, struct ipc_msg *m)
{
	int r, i;

	for (i = 0; i < 1000; i++) {
		r = ipc_next(ipc, m);
		if (r != BST_ERR_AGAIN)
			return r;
		r = ipc_read(ipc);
		if (r != 0)
			return r;
		usleep(1000);
	}
	return BST_ERR_TIMEOUT;
}

static void
test_roundtrip(void **state)
{
	struct ipc *a, *b;
	struct ipc_msg m, r;
	uint8_t u8;
	uint32_t u32;
	uint64_t u64;
	char *s;
	const uint8_t *p;
	size_t len;

	(void)state;
	pair(&a, &b);
	msg_init(&m, 42);
	msg_put_u8(&m, 7);
	msg_put_u32(&m, 0xdeadbeef);
	msg_put_u64(&m, 0x0102030405060708ULL);
	msg_put_str(&m, "hello");
	msg_put_bytes(&m, "\0\1\2", 3);
	assert_int_equal(ipc_send(a, &m, -1), 0);
	msg_free(&m);
	assert_int_equal(next(b, &r), 0);
	assert_int_equal(r.type, 42);
	assert_int_equal(msg_get_u8(&r, &u8), 0);
	assert_int_equal(u8, 7);
	assert_int_equal(msg_get_u32(&r, &u32), 0);
	assert_int_equal(u32, 0xdeadbeef);
	assert_int_equal(msg_get_u64(&r, &u64), 0);
	assert_true(u64 == 0x0102030405060708ULL);
	assert_int_equal(msg_get_str(&r, &s), 0);
	assert_string_equal(s, "hello");
	free(s);
	assert_int_equal(msg_get_bytes(&r, &p, &len), 0);
	assert_int_equal(len, 3);
	assert_memory_equal(p, "\0\1\2", 3);
	assert_int_equal(msg_done(&r), 0);
	msg_free(&r);
	ipc_free(a);
	ipc_free(b);
}

static void
test_with_data_and_many(void **state)
{
	struct ipc *a, *b;
	struct ipc_msg m, r;
	static uint8_t big[IPC_MAX_DATA];
	const uint8_t *p;
	size_t len;
	uint32_t v;
	int i, got = 0;

	(void)state;
	pair(&a, &b);
	for (i = 0; i < (int)sizeof(big); i++)
		big[i] = (uint8_t)(i * 7);
	/* Far more than the socket buffer: the queue must hold it. */
	for (i = 0; i < 40; i++) {
		msg_init(&m, 20);
		msg_put_u32(&m, (uint32_t)i);
		assert_int_equal(ipc_send_with_data(a, &m, big, sizeof(big)), 0);
		msg_free(&m);
	}
	assert_true(ipc_queued(a) > 0);
	while (got < 40) {
		int rr = ipc_next(b, &r);

		if (rr == BST_ERR_AGAIN) {
			(void)ipc_flush(a);
			assert_int_equal(ipc_read(b), 0);
			continue;
		}
		assert_int_equal(rr, 0);
		assert_int_equal(msg_get_u32(&r, &v), 0);
		assert_int_equal(v, (uint32_t)got);
		assert_int_equal(msg_get_bytes(&r, &p, &len), 0);
		assert_int_equal(len, sizeof(big));
		assert_memory_equal(p, big, len);
		assert_int_equal(msg_done(&r), 0);
		msg_free(&r);
		got++;
	}
	assert_int_equal(ipc_flush(a), 0);
	ipc_free(a);
	ipc_free(b);
}

static void
test_fd_passing(void **state)
{
	struct ipc *a, *b;
	struct ipc_msg m, r;
	int p[2], fd;
	char buf[8];

	(void)state;
	pair(&a, &b);
	assert_int_equal(pipe(p), 0);
	msg_init(&m, 13);
	msg_put_str(&m, "with fd");
	assert_int_equal(ipc_send(a, &m, p[0]), 0);	/* p[0] now owned */
	msg_free(&m);
	assert_int_equal(next(b, &r), 0);
	fd = ipc_take_fd(b);
	assert_true(fd >= 0);
	assert_int_equal(ipc_take_fd(b), -1);
	assert_int_equal(write(p[1], "ping", 4), 4);
	assert_int_equal(read(fd, buf, sizeof(buf)), 4);
	assert_memory_equal(buf, "ping", 4);
	close(fd);
	close(p[1]);
	msg_free(&r);
	ipc_free(a);
	ipc_free(b);
}

/* Writes raw bytes to the peer of b. */
static void
raw(int fd, const void *p, size_t n)
{
	assert_int_equal(write(fd, p, n), (ssize_t)n);
}

static void
test_malformed(void **state)
{
	int sp[2];
	struct ipc *b;
	struct ipc_msg r;
	char *s;
	uint32_t v;
	/* frame: len=2+4+3, type 1, str of length 3 containing NUL */
	const uint8_t nulstr[] = { 0, 0, 0, 9, 0, 1, 0, 0, 0, 3, 'a', 0, 'b' };
	/* frame: str length claims 100 bytes, only 1 present */
	const uint8_t overrun[] = { 0, 0, 0, 7, 0, 1, 0, 0, 0, 100, 'x' };
	/* frame longer than the maximum */
	const uint8_t huge[] = { 0x7f, 0xff, 0xff, 0xff, 0, 1 };
	/* frame with a length too small to hold the type */
	const uint8_t tiny[] = { 0, 0, 0, 1, 0 };

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	b = ipc_new(sp[1]);
	raw(sp[0], nulstr, sizeof(nulstr));
	assert_int_equal(next(b, &r), 0);
	assert_int_equal(msg_get_str(&r, &s), BST_ERR_PROTO);
	assert_null(s);
	msg_free(&r);
	raw(sp[0], overrun, sizeof(overrun));
	assert_int_equal(next(b, &r), 0);
	assert_int_equal(msg_get_u32(&r, &v), 0);
	assert_int_equal(msg_get_str(&r, &s), BST_ERR_PROTO);
	/* poisoned: later gets fail too */
	assert_int_equal(msg_get_u32(&r, &v), BST_ERR_PROTO);
	assert_int_not_equal(msg_done(&r), 0);
	msg_free(&r);
	ipc_free(b);
	close(sp[0]);

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	b = ipc_new(sp[1]);
	raw(sp[0], huge, sizeof(huge));
	assert_int_equal(next(b, &r), BST_ERR_TOOBIG);
	ipc_free(b);
	close(sp[0]);

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	b = ipc_new(sp[1]);
	raw(sp[0], tiny, sizeof(tiny));
	assert_int_equal(next(b, &r), BST_ERR_PROTO);
	ipc_free(b);
	close(sp[0]);
}

static void
test_trailing_and_eof(void **state)
{
	struct ipc *a, *b;
	struct ipc_msg m, r;
	uint8_t u8;

	(void)state;
	pair(&a, &b);
	msg_init(&m, 5);
	msg_put_u8(&m, 1);
	msg_put_u8(&m, 2);
	assert_int_equal(ipc_send(a, &m, -1), 0);
	msg_free(&m);
	assert_int_equal(next(b, &r), 0);
	assert_int_equal(msg_get_u8(&r, &u8), 0);
	assert_int_equal(msg_done(&r), BST_ERR_PROTO);	/* a byte left over */
	msg_free(&r);
	ipc_free(a);
	assert_int_equal(next(b, &r), BST_ERR_EOF);
	ipc_free(b);
}

static void
test_put_too_big(void **state)
{
	struct ipc_msg m;
	static uint8_t big[IPC_MAX_FRAME];

	(void)state;
	msg_init(&m, 1);
	msg_put_bytes(&m, big, sizeof(big));
	assert_int_equal(m.err, BST_ERR_TOOBIG);
	msg_free(&m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_with_data_and_many),
		cmocka_unit_test(test_fd_passing),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_trailing_and_eof),
		cmocka_unit_test(test_put_too_big),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
