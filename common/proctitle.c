/*
 * proctitle.c: process titles (see proctitle.h).  Trusts its callers.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/proctitle.h"
#include "common/util.h"

extern char **environ;

static char	*title_area;
static size_t	 title_len;
/*
 * The copy stays referenced here too: at exit, glibc's __libc_freeres
 * (which valgrind runs) clears environ, and the copy would show as lost.
 */
static char	**env_copy __attribute__((used));

void
proctitle_init(int argc, char **argv)
{
	char *end, **env;
	int i, n;

	if (argc < 1 || argv[0] == NULL)
		return;
	end = argv[0] + strlen(argv[0]) + 1;
	for (i = 1; i < argc; i++)
		if (argv[i] == end)
			end = argv[i] + strlen(argv[i]) + 1;
	for (n = 0; environ[n] != NULL; n++)
		;
	/* The environment strings follow argv: take them too. */
	env = xcalloc((size_t)n + 1, sizeof(*env));
	for (i = 0; i < n; i++) {
		if (environ[i] == end)
			end = environ[i] + strlen(environ[i]) + 1;
		env[i] = xstrdup(environ[i]);
	}
	environ = env_copy = env;
	title_area = argv[0];
	title_len = (size_t)(end - argv[0]);
}

void
proctitle_set(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	size_t n, i;

	if (title_area == NULL || title_len < 2)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	for (i = 0; buf[i] != '\0'; i++)
		if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
			buf[i] = '?';
	n = strlen(buf);
	if (n > title_len - 1)
		n = title_len - 1;
	memcpy(title_area, buf, n);
	memset(title_area + n, '\0', title_len - n);
}
