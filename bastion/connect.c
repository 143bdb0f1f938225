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
#include "common/err.h"
#include "common/util.h"

int
connect_start(const char *host, int port, int *fdp, char **err)
{
	struct addrinfo hints, *res = NULL, *ai;
	char portstr[16];
	int fd = -1, r, saved = 0;

	*fdp = -1;
	*err = NULL;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(portstr, sizeof(portstr), "%d", port);
	if ((r = getaddrinfo(host, portstr, &hints, &res)) != 0) {
		*err = xasprintf("cannot resolve %s: %s", host,
		    gai_strerror(r));
		return BST_ERR_NOTFOUND;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			saved = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 ||
		    errno == EINPROGRESS)
			break;
		saved = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		*err = xstrdup(strerror(saved ? saved : ECONNREFUSED));
		return BST_ERR_IO;
	}
	*fdp = fd;
	return 0;
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
