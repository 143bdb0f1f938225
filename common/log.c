/*
 * log.c: stderr logger.  One line per message, timestamped, tagged.
 * Trusts its callers to pass sanitized text (see log_sanitize).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static char log_tag[64] = "bastion";
static enum log_level log_level = LOG_LVL_INFO;

static const char *level_names[] = { "error", "warning", "info", "debug" };

void
log_init(const char *tag, enum log_level level)
{
	log_set_tag(tag);
	log_level = level;
}

void
log_set_tag(const char *tag)
{
	snprintf(log_tag, sizeof(log_tag), "%s", tag);
}

enum log_level
log_get_level(void)
{
	return log_level;
}

static void
log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	char line[2048];
	struct timespec ts;
	struct tm tm;
	int n, m;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(line, sizeof(line),
	    "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s[%ld] %s: ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000L, log_tag,
	    (long)getpid(), level_names[level]);
	if (n < 0 || (size_t)n >= sizeof(line))
		n = 0;
	m = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	if (m < 0)
		m = 0;
	n += m;
	if ((size_t)n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	/* One write() so lines from several processes do not interleave. */
	if (write(STDERR_FILENO, line, n) < 0)
		return;
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	if (level > log_level)
		return;
	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_LVL_ERROR, fmt, ap);
	va_end(ap);
	exit(1);
}

char *
log_sanitize(char *dst, size_t dstsz, const char *src, size_t len)
{
	size_t i, o = 0;

	if (dstsz == 0)
		return dst;
	for (i = 0; i < len && o + 1 < dstsz; i++) {
		unsigned char c = (unsigned char)src[i];
		dst[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	dst[o] = '\0';
	return dst;
}
