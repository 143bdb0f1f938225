/*
 * test_resolver.c: unit tests of bastion/resolver.c (cmocka): the answer
 * parser against well-formed and malformed messages, and a live resolver
 * process resolving numeric and unknown names.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <signal.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "bastion/resolver.h"
#include "common/log.h"

/* An answer message as the resolver writes it. */
static size_t
build(uint8_t *buf, uint32_t id, int32_t err, uint32_t n,
    const struct sockaddr_storage *a, const uint32_t *lens)
{
	size_t off = 12;
	uint32_t i;

	memcpy(buf, &id, 4);
	memcpy(buf + 4, &err, 4);
	memcpy(buf + 8, &n, 4);
	for (i = 0; i < n; i++) {
		memcpy(buf + off, &lens[i], 4);
		memcpy(buf + off + 4, &a[i], lens[i]);
		off += 4 + lens[i];
	}
	return off;
}

static void
test_parse(void **state)
{
	uint8_t buf[1024];
	struct sockaddr_storage a[2];
	struct sockaddr_in *v4 = (struct sockaddr_in *)&a[0];
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&a[1];
	uint32_t lens[2] = { sizeof(*v4), sizeof(*v6) };
	struct resolved r;
	size_t len;

	(void)state;
	memset(a, 0, sizeof(a));
	v4->sin_family = AF_INET;
	v4->sin_port = htons(22);
	v4->sin_addr.s_addr = htonl(0x7f000001);
	v6->sin6_family = AF_INET6;
	v6->sin6_port = htons(22);

	len = build(buf, 7, 0, 2, a, lens);
	assert_int_equal(resolver_parse(buf, len, &r), 0);
	assert_int_equal(r.id, 7);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.addr[0].ss_family, AF_INET);
	assert_int_equal(r.len[1], sizeof(*v6));

	/* an error comes without addresses */
	len = build(buf, 8, EAI_NONAME, 0, a, lens);
	assert_int_equal(resolver_parse(buf, len, &r), 0);
	assert_int_equal(r.gai_err, EAI_NONAME);
	assert_int_equal(r.n, 0);

	/* malformed: short, truncated, trailing bytes, counts, families */
	len = build(buf, 9, 0, 2, a, lens);
	assert_int_equal(resolver_parse(buf, 11, &r), -1);
	assert_int_equal(resolver_parse(buf, len - 1, &r), -1);
	buf[len] = 0;
	assert_int_equal(resolver_parse(buf, len + 1, &r), -1);
	len = build(buf, 9, 0, 0, a, lens);		/* ok but empty */
	assert_int_equal(resolver_parse(buf, len, &r), -1);
	len = build(buf, 9, EAI_AGAIN, 1, a, lens);	/* error and address */
	assert_int_equal(resolver_parse(buf, len, &r), -1);
	len = build(buf, 9, 0, 0, a, lens);		/* too many */
	memcpy(buf + 8, &(uint32_t){ RESOLVER_MAX_ADDRS + 1 }, 4);
	assert_int_equal(resolver_parse(buf, len, &r), -1);
	lens[0] = sizeof(*v6);				/* v4 with a v6 length */
	len = build(buf, 9, 0, 1, a, lens);
	assert_int_equal(resolver_parse(buf, len, &r), -1);
	lens[0] = sizeof(*v4);
	v4->sin_family = AF_UNIX;
	len = build(buf, 9, 0, 1, a, lens);
	assert_int_equal(resolver_parse(buf, len, &r), -1);
	lens[0] = 100000;				/* absurd length */
	len = build(buf, 9, 0, 0, a, lens);
	memcpy(buf + 8, &(uint32_t){ 1 }, 4);
	memcpy(buf + 12, &lens[0], 4);
	assert_int_equal(resolver_parse(buf, 16, &r), -1);
}

/* Waits (at most 10 s) for one answer. */
static int
wait_answer(int fd, struct resolved *r)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int i, rc;

	for (i = 0; i < 100; i++) {
		if ((rc = resolver_read(fd, r)) != 0)
			return rc;
		(void)poll(&p, 1, 100);
	}
	return 0;
}

static void
test_live(void **state)
{
	struct resolved r;
	char *cause = NULL;
	pid_t pid;
	int fd, st;

	(void)state;
	pid = resolver_start(getuid(), getgid(), &fd, &cause);
	assert_true(pid > 0);
	assert_int_equal(resolver_request(fd, 1, "127.0.0.1", 2222), 0);
	assert_int_equal(wait_answer(fd, &r), 1);
	assert_int_equal(r.id, 1);
	assert_int_equal(r.gai_err, 0);
	assert_true(r.n >= 1);
	assert_int_equal(r.addr[0].ss_family, AF_INET);
	assert_int_equal(ntohs(((struct sockaddr_in *)&r.addr[0])->sin_port),
	    2222);

	assert_int_equal(resolver_request(fd, 2, "no-such-host.invalid", 22),
	    0);
	assert_int_equal(wait_answer(fd, &r), 1);
	assert_int_equal(r.id, 2);
	assert_int_not_equal(r.gai_err, 0);

	/* bad requests are refused on our side */
	assert_int_equal(resolver_request(fd, 3, "", 22), -1);
	assert_int_equal(resolver_request(fd, 3, "x", 70000), -1);

	/* closing our end ends it */
	close(fd);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_live),
	};

	log_init("test_resolver", LOG_LVL_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
