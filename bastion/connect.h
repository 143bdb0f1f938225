/*
 * connect.h: nonblocking TCP connections to targets, made by the monitor
 * on behalf of a worker (the worker never opens sockets itself).
 */
#ifndef BST_CONNECT_H
#define BST_CONNECT_H

struct resolved;

/*
 * Starts connecting to host:port when host is a numeric address.  On
 * success *fdp is a nonblocking socket whose connection may still be in
 * progress (poll for POLLOUT, then call connect_finish).  Returns
 * BST_ERR_AGAIN when host is a name (resolve it with resolver.h, then
 * call connect_resolved); on failure an error, with *err a malloc'd
 * reason ("Connection refused") when there is one.
 */
int connect_start(const char *host, int port, int *fdp, char **err);
/* The same with the resolver's addresses (tried in order). */
int connect_resolved(const struct resolved *res, int *fdp, char **err);
/* 0 when the connection is established, else an error with *err set. */
int connect_finish(int fd, char **err);

#endif
