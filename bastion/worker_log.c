/*
 * worker_log.c: forwards a worker's stderr lines to the monitor's log
 * (see worker_log.h).  Trusts nothing it reads.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bastion/worker_log.h"

/* Set while the rest of an over-long line is being skipped. */
#define WLOG_SKIPPING	((size_t)-1)

void
wlog_init(struct wlog *l, int fd)
{
	l->fd = fd;
	l->len = 0;
	l->total = 0;
}

static void
emit_line(struct wlog *l, void (*emit)(const char *, void *), void *arg)
{
	size_t i;

	for (i = 0; i < l->len; i++) {
		unsigned char ch = (unsigned char)l->buf[i];

		if (ch < 0x20 || ch == 0x7f)
			l->buf[i] = '?';
	}
	l->buf[l->len] = '\0';
	emit(l->buf, arg);
	l->len = 0;
}

void
wlog_feed(struct wlog *l, const char *p, size_t n,
    void (*emit)(const char *, void *), void *arg)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (l->len == WLOG_SKIPPING) {
			if (p[i] == '\n')
				l->len = 0;
			continue;
		}
		if (p[i] == '\n') {
			emit_line(l, emit, arg);
			continue;
		}
		l->buf[l->len++] = p[i];
		if (l->len == sizeof(l->buf) - 1) {
			emit_line(l, emit, arg);
			l->len = WLOG_SKIPPING;
		}
	}
}

void
wlog_flush(struct wlog *l, void (*emit)(const char *, void *), void *arg)
{
	if (l->len != WLOG_SKIPPING && l->len > 0)
		emit_line(l, emit, arg);
	l->len = 0;
}

static void
to_stderr(const char *line, void *arg)
{
	(void)arg;
	fprintf(stderr, "%s\n", line);
}

static int
read_some(struct wlog *l, int max_reads)
{
	char tmp[4096];
	ssize_t n;
	int i;

	for (i = 0; i < max_reads; i++) {
		n = read(l->fd, tmp, sizeof(tmp));
		if (n > 0) {
			if (l->total < WLOG_MAX_BYTES &&
			    l->total + (size_t)n >= WLOG_MAX_BYTES) {
				wlog_flush(l, to_stderr, NULL);
				to_stderr("(this worker wrote more than 4 MiB "
				    "of log: the rest is dropped)", NULL);
			}
			if (l->total < WLOG_MAX_BYTES)
				wlog_feed(l, tmp, (size_t)n, to_stderr, NULL);
			l->total += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		/* EOF or error: the worker is gone */
		wlog_flush(l, to_stderr, NULL);
		close(l->fd);
		l->fd = -1;
		return 1;
	}
	return 0;
}

void
wlog_read(struct wlog *l)
{
	if (l->fd >= 0)
		(void)read_some(l, WLOG_READS);
}

void
wlog_drain(struct wlog *l)
{
	if (l->fd < 0)
		return;
	(void)read_some(l, 1024);
	if (l->fd >= 0) {
		wlog_flush(l, to_stderr, NULL);
		close(l->fd);
		l->fd = -1;
	}
}
