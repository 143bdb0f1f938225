/*
 * resolver.h: target host names resolved off the monitor's loop.
 *
 * getaddrinfo() blocks, for as long as a slow or dead DNS server makes it
 * (seconds, per attempt); in the single-threaded monitor that would stall
 * every session's relay.  A small resolver process, forked at start
 * before the monitor reads any key or opens the database, takes requests
 * over a SOCK_SEQPACKET socket and answers each from a child of its own
 * (so one slow name does not hold up the others), as an unprivileged
 * user.  The monitor waits for the answer like for a connect: with the
 * target's connect timeout.  Numeric addresses need none of this.
 */
#ifndef BST_RESOLVER_H
#define BST_RESOLVER_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#define RESOLVER_MAX_ADDRS	8

struct resolved {
	uint32_t		 id;
	int			 gai_err;	/* 0, or getaddrinfo's error */
	size_t			 n;
	struct sockaddr_storage	 addr[RESOLVER_MAX_ADDRS];
	socklen_t		 len[RESOLVER_MAX_ADDRS];
};

/*
 * Forks the resolver.  uid/gid: the user it runs as when started as root.
 * *fd gets the monitor's end (close-on-exec; closing it ends the
 * resolver).  Returns its pid, or -1 with *cause set.
 */
pid_t resolver_start(uid_t uid, gid_t gid, int *fd, char **cause);

/* Asks for host:port under id.  0, or -1 (the resolver is gone). */
int resolver_request(int fd, uint32_t id, const char *host, int port);

/*
 * Reads one answer into *out (nonblocking).  1: an answer; 0: none yet;
 * -1: the resolver is gone; -2: a malformed answer (consumed).
 */
int resolver_read(int fd, struct resolved *out);

/*
 * The pure part: parses an answer message (fuzzable).  0, or -1 when
 * the bytes are not a well-formed answer.
 */
int resolver_parse(const uint8_t *buf, size_t len, struct resolved *out);

#endif
