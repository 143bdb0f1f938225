/*
 * strv.c: NULL-terminated string vectors (see strv.h).
 */
#include <stdlib.h>
#include <string.h>

#include "common/strv.h"
#include "common/util.h"

void
strv_free(char **v)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

size_t
strv_len(char *const *v)
{
	size_t n = 0;

	while (v != NULL && v[n] != NULL)
		n++;
	return n;
}

int
strv_contains(char *const *v, const char *s)
{
	if (v == NULL || s == NULL)
		return 0;
	for (; *v != NULL; v++)
		if (strcmp(*v, s) == 0)
			return 1;
	return 0;
}

void
strv_add(char ***v, const char *s)
{
	size_t n = strv_len(*v);

	*v = xrealloc(*v, (n + 2) * sizeof(char *));
	(*v)[n] = xstrdup(s);
	(*v)[n + 1] = NULL;
}

char **
strv_split(const char *s)
{
	char *copy = xstrdup(s ? s : ""), *tok, *save = NULL;
	char **v = xcalloc(1, sizeof(char *));

	for (tok = strtok_r(copy, " ", &save); tok != NULL;
	    tok = strtok_r(NULL, " ", &save))
		strv_add(&v, tok);
	free(copy);
	return v;
}

char *
strv_join(char *const *v, const char *sep)
{
	size_t i, len = 1, slen = strlen(sep);
	char *out, *p;

	for (i = 0; v != NULL && v[i] != NULL; i++)
		len += strlen(v[i]) + slen;
	out = p = xmalloc(len);
	for (i = 0; v != NULL && v[i] != NULL; i++) {
		if (i > 0) {
			memcpy(p, sep, slen);
			p += slen;
		}
		memcpy(p, v[i], strlen(v[i]));
		p += strlen(v[i]);
	}
	*p = '\0';
	return out;
}
