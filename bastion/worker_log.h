/*
 * worker_log.h: the monitor's end of a worker's stderr.
 *
 * A sandboxed worker cannot write to the bastion's log file (RLIMIT_FSIZE
 * is 0 and it holds no descriptor to it), so its stderr is a pipe that
 * the monitor reads.  Each complete line is written to the monitor's own
 * stderr, control characters replaced and long lines cut, so a worker
 * cannot forge or garble other lines of the log.
 *
 * Trusts: nothing it reads (a compromised worker writes what it likes).
 */
#ifndef BST_WORKER_LOG_H
#define BST_WORKER_LOG_H

#include <stddef.h>

#define WLOG_LINE_MAX	2048
#define WLOG_MAX_BYTES	(4 * 1024 * 1024)	/* per worker; the rest is dropped */
#define WLOG_READS	16			/* reads per wlog_read() call */

struct wlog {
	int	 fd;			/* read end of the worker's stderr, or -1 */
	size_t	 len;			/* bytes of the unfinished line */
	size_t	 total;			/* bytes read so far */
	char	 buf[WLOG_LINE_MAX];
};

void wlog_init(struct wlog *l, int fd);
/*
 * Reads what is there, at most WLOG_READS chunks (a worker writing
 * without pause cannot hold the monitor); fd is non-blocking.  After
 * WLOG_MAX_BYTES the worker's output is read and dropped, with one line
 * saying so.  At EOF flushes and closes.
 */
void wlog_read(struct wlog *l);
/* Reads until EOF or nothing more is buffered, then closes. */
void wlog_drain(struct wlog *l);
/*
 * Pure: takes n bytes, calls emit() for each finished line (sanitized,
 * no newline); a line longer than WLOG_LINE_MAX - 1 is cut and the rest
 * of it dropped up to the next newline.
 */
void wlog_feed(struct wlog *l, const char *p, size_t n,
    void (*emit)(const char *line, void *arg), void *arg);
void wlog_flush(struct wlog *l, void (*emit)(const char *line, void *arg),
    void *arg);

#endif
