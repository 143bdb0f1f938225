/*
 * connect.h: nonblocking TCP connections to targets, made by the monitor
 * on behalf of a worker (the worker never opens sockets itself).
 */
#ifndef BST_CONNECT_H
#define BST_CONNECT_H

/*
 * Starts connecting to host:port.  On success *fdp is a nonblocking
 * socket whose connection may still be in progress (poll for POLLOUT,
 * then call connect_finish).  On failure returns an error and *err is a
 * malloc'd reason ("Connection refused", "unknown host").
 * XXX name resolution (getaddrinfo) blocks; numeric addresses do not.
 */
int connect_start(const char *host, int port, int *fdp, char **err);
/* 0 when the connection is established, else an error with *err set. */
int connect_finish(int fd, char **err);

#endif
