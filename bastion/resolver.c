/*
 * resolver.c: the resolver process and the monitor's side of it (see
 * resolver.h).  The resolver trusts the monitor's requests (names from
 * the configuration); the monitor checks every answer's shape, since it
 * comes from a process that parsed DNS replies.
 */
#include <errno.h>
#include <grp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bastion/resolver.h"
#include "common/log.h"
#include "common/proctitle.h"
#include "common/util.h"

/* Lookups at once; beyond that a request is answered EAI_AGAIN. */
#define RESOLVER_MAX_CHILDREN	32
#define RESOLVER_MAX_HOST	255
/* id, error, count, then per address a length and the bytes */
#define RESOLVER_MAX_MSG	(12 + RESOLVER_MAX_ADDRS * \
				    (4 + sizeof(struct sockaddr_storage)))

static void
put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static uint32_t
get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static void
answer(int fd, uint32_t id, int err, const struct addrinfo *res)
{
	uint8_t buf[RESOLVER_MAX_MSG];
	const struct addrinfo *ai;
	size_t off = 12;
	uint32_t n = 0;

	put32(buf, id);
	put32(buf + 4, (uint32_t)err);
	for (ai = res; ai != NULL && n < RESOLVER_MAX_ADDRS; ai = ai->ai_next) {
		if (ai->ai_addrlen > sizeof(struct sockaddr_storage))
			continue;
		put32(buf + off, (uint32_t)ai->ai_addrlen);
		memcpy(buf + off + 4, ai->ai_addr, ai->ai_addrlen);
		off += 4 + ai->ai_addrlen;
		n++;
	}
	put32(buf + 8, n);
	(void)send(fd, buf, off, MSG_NOSIGNAL);
}

/* One lookup, in a child of the resolver. */
static void __attribute__((noreturn))
lookup(int fd, uint32_t id, const char *host, unsigned port)
{
	struct addrinfo hints, *res = NULL;
	char portstr[16];
	int r;

	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(portstr, sizeof(portstr), "%u", port);
	r = getaddrinfo(host, portstr, &hints, &res);
	answer(fd, id, r, r == 0 ? res : NULL);
	if (res != NULL)
		freeaddrinfo(res);
	_exit(0);
}

static void __attribute__((noreturn))
resolver_main(int fd, uid_t uid, gid_t gid)
{
	uint8_t buf[4 + 2 + RESOLVER_MAX_HOST + 1];
	char host[RESOLVER_MAX_HOST + 1];
	struct pollfd p;
	int children = 0;
	ssize_t n;
	pid_t pid;

	(void)prctl(PR_SET_NAME, "bastion-resolve");
	proctitle_set("bastion: resolver");
	(void)prctl(PR_SET_PDEATHSIG, SIGTERM);
	log_set_tag("bastion-resolver");
	if (geteuid() == 0 && (setgroups(0, NULL) != 0 ||
	    setresgid(gid, gid, gid) != 0 || setresuid(uid, uid, uid) != 0)) {
		log_error("resolver: cannot drop to uid %u: %s",
		    (unsigned)uid, strerror(errno));
		_exit(1);
	}
	for (;;) {
		while (waitpid(-1, NULL, WNOHANG) > 0)
			children--;
		p.fd = fd;
		p.events = POLLIN;
		if (poll(&p, 1, children > 0 ? 100 : -1) < 0 && errno != EINTR)
			break;
		if (!(p.revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		n = recv(fd, buf, sizeof(buf), 0);
		if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
			break;	/* the monitor is gone */
		if (n < 7 || n - 6 > RESOLVER_MAX_HOST)
			continue;
		memcpy(host, buf + 6, (size_t)n - 6);
		host[n - 6] = '\0';
		if (children >= RESOLVER_MAX_CHILDREN) {
			answer(fd, get32(buf), EAI_AGAIN, NULL);
			continue;
		}
		if ((pid = fork()) == 0)
			lookup(fd, get32(buf), host,
			    (unsigned)buf[4] << 8 | buf[5]);
		if (pid < 0)
			answer(fd, get32(buf), EAI_AGAIN, NULL);
		else
			children++;
	}
	_exit(0);
}

pid_t
resolver_start(uid_t uid, gid_t gid, int *fdp, char **cause)
{
	pid_t pid = fork_helper(SOCK_SEQPACKET, fdp, cause);

	if (pid == 0)
		resolver_main(3, uid, gid);	/* nothing of the monitor's */
	return pid;
}

int
resolver_request(int fd, uint32_t id, const char *host, int port)
{
	uint8_t buf[4 + 2 + RESOLVER_MAX_HOST];
	size_t len = strlen(host);

	if (len == 0 || len > RESOLVER_MAX_HOST || port < 0 || port > 65535)
		return -1;
	put32(buf, id);
	buf[4] = (uint8_t)(port >> 8);
	buf[5] = (uint8_t)port;
	memcpy(buf + 6, host, len);
	return send(fd, buf, 6 + len, MSG_NOSIGNAL | MSG_DONTWAIT) ==
	    (ssize_t)(6 + len) ? 0 : -1;
}

int
resolver_parse(const uint8_t *buf, size_t len, struct resolved *out)
{
	size_t off = 12, i;
	uint32_t n, alen;

	memset(out, 0, sizeof(*out));
	if (len < 12)
		return -1;
	out->id = get32(buf);
	out->gai_err = (int)get32(buf + 4);
	n = get32(buf + 8);
	if (n > RESOLVER_MAX_ADDRS || (out->gai_err != 0 && n != 0) ||
	    (out->gai_err == 0 && n == 0))
		return -1;
	for (i = 0; i < n; i++) {
		if (len - off < 4)
			return -1;
		alen = get32(buf + off);
		off += 4;
		if (alen < sizeof(sa_family_t) ||
		    alen > sizeof(struct sockaddr_storage) || len - off < alen)
			return -1;
		memcpy(&out->addr[i], buf + off, alen);
		/* TCP over IPv4 or IPv6, nothing else */
		if (!(out->addr[i].ss_family == AF_INET &&
		    alen == sizeof(struct sockaddr_in)) &&
		    !(out->addr[i].ss_family == AF_INET6 &&
		    alen == sizeof(struct sockaddr_in6)))
			return -1;
		out->len[i] = (socklen_t)alen;
		off += alen;
	}
	if (off != len)
		return -1;
	out->n = n;
	return 0;
}

int
resolver_read(int fd, struct resolved *out)
{
	uint8_t buf[RESOLVER_MAX_MSG + 1];
	ssize_t n;

	n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0)
		return -1;
	return resolver_parse(buf, (size_t)n, out) == 0 ? 1 : -2;
}
