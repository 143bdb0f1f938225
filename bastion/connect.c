/*
 * connect.c: target connections for the monitor.  Trusts the config for
 * host and port; everything else is the network's answer.
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bastion/connect.h"
#include "bastion/resolver.h"
#include "common/err.h"
#include "common/util.h"

/* Starts a nonblocking connect to the first address that takes one. */
static int
connect_any(const struct sockaddr *const *addrs, const socklen_t *lens,
    size_t n, int *fdp, char **err)
{
	size_t i;
	int fd = -1, saved = 0;

	for (i = 0; i < n; i++) {
		fd = socket(addrs[i]->sa_family, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0);
		if (fd < 0) {
			saved = errno;
			continue;
		}
		if (connect(fd, addrs[i], lens[i]) == 0 ||
		    errno == EINPROGRESS)
			break;
		saved = errno;
		close(fd);
		fd = -1;
	}
	if (fd < 0) {
		*err = xstrdup(strerror(saved ? saved : ECONNREFUSED));
		return BST_ERR_IO;
	}
	*fdp = fd;
	return 0;
}

int
connect_start(const char *host, int port, int *fdp, char **err)
{
	struct addrinfo hints, *res = NULL, *ai;
	const struct sockaddr *addrs[8];
	socklen_t lens[8];
	char portstr[16];
	size_t n = 0;
	int r;

	*fdp = -1;
	*err = NULL;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST;	/* never a DNS query here */
	snprintf(portstr, sizeof(portstr), "%d", port);
	if ((r = getaddrinfo(host, portstr, &hints, &res)) != 0)
		return r == EAI_NONAME ? BST_ERR_AGAIN : BST_ERR_NOTFOUND;
	for (ai = res; ai != NULL && n < 8; ai = ai->ai_next) {
		addrs[n] = ai->ai_addr;
		lens[n++] = ai->ai_addrlen;
	}
	r = connect_any(addrs, lens, n, fdp, err);
	freeaddrinfo(res);
	return r;
}

int
connect_resolved(const struct resolved *res, int *fdp, char **err)
{
	const struct sockaddr *addrs[RESOLVER_MAX_ADDRS];
	size_t i;

	*fdp = -1;
	*err = NULL;
	for (i = 0; i < res->n; i++)
		addrs[i] = (const struct sockaddr *)&res->addr[i];
	return connect_any(addrs, res->len, res->n, fdp, err);
}

int
connect_finish(int fd, char **err)
{
	int soerr = 0;
	socklen_t len = sizeof(soerr);

	*err = NULL;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
		soerr = errno;
	if (soerr != 0) {
		*err = xstrdup(strerror(soerr));
		return BST_ERR_IO;
	}
	return 0;
}
