/*
 * util.h: allocation wrappers and small helpers used everywhere.
 * x*alloc() call fatal() on out-of-memory; x_free(NULL) is a no-op.
 */
#ifndef BST_UTIL_H
#define BST_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Like asprintf, fatal on failure. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* s as one word for a POSIX shell ('...', ' as '\\''), malloc'd. */
char *shell_quote(const char *s);
/* 1 if s has no control character (one printable line), else 0. */
int is_one_line(const char *s);
/* Zero n bytes at p (not optimised away) then free. */
void freezero(void *p, size_t n);

/* Microseconds from CLOCK_MONOTONIC / CLOCK_REALTIME. */
int64_t now_mono_us(void);
int64_t now_real_us(void);

int set_nonblock(int fd, int on);
int set_cloexec(int fd, int on);
/* TCP_NODELAY and SO_KEEPALIVE on a TCP socket; ignores errors on non-TCP. */
void set_tcp_interactive(int fd);
/*
 * ACK what arrives on fd at once, until the kernel's heuristics switch
 * back to delayed ACKs (so: call it again before each wait).
 */
void tcp_quickack(int fd);
/*
 * A non-blocking, close-on-exec listening TCP socket on host:port (host
 * numeric or a name).  what ("" or e.g. "http") names it in *cause.
 */
int tcp_listen(const char *host, int port, const char *what, char **cause);
/*
 * Forks a helper process joined to this one by a socketpair of the given
 * type (SOCK_STREAM, SOCK_SEQPACKET).  In the parent: returns the child's
 * pid, *fd is the parent's end (close-on-exec).  In the child: returns 0
 * with its end on fd 3 and every descriptor above 3 closed (0-2 stay).
 * -1 with *cause set when the socketpair or the fork fails.
 */
pid_t fork_helper(int type, int *fd, char **cause);

/* Reads a whole file (at most maxsz bytes) into a NUL-terminated buffer. */
int read_file(const char *path, size_t maxsz, char **out, size_t *lenp);

/* Lowercase hex of len bytes into out (2*len+1 bytes). */
void hex_encode(const uint8_t *in, size_t len, char *out);

/* Big-endian (network order) 32-bit integers in byte buffers. */
static inline uint32_t
get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static inline void
put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

#endif
