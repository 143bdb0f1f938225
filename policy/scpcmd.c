/*
 * scpcmd.c: finds the legacy scp sink ("scp -t PATH") in an exec command
 * and, for the plain form, its literal PATH (see scpcmd.h).  Pure; trusts
 * nothing.
 */
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "policy/cmdparse.h"
#include "policy/scpcmd.h"

#define MAX_WORDS	16

/* scp's options that take an argument (OpenSSH 9, scp.c getopt string). */
static const char scp_argopts[] = "cDFiJloPSX";

/* Does the scp command in argv receive files (-t, as getopt would see it)? */
static int
argv_is_sink(char **argv, size_t argc)
{
	size_t i, j;

	for (i = 1; i < argc; i++) {
		const char *w = argv[i];

		if (strcmp(w, "--") == 0)
			break;
		if (w[0] != '-' || w[1] == '\0')
			continue;	/* an operand (GNU getopt permutes) */
		for (j = 1; w[j] != '\0'; j++) {
			if (w[j] == 't')
				return 1;
			if (strchr(scp_argopts, w[j]) != NULL) {
				if (w[j + 1] == '\0')
					i++;	/* its argument is the next word */
				break;
			}
		}
	}
	return 0;
}

static int
is_scp(const char *name)
{
	return name != NULL && strcmp(name, "scp") == 0;
}

/* Characters that stand for themselves outside quotes. */
static int
plain_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9') || strchr("_-./:,+=@%^~", ch) != NULL;
}

struct word {
	char	*s;
	int	 tilde;		/* starts with an unquoted ~ */
};

/*
 * Splits cmd into literal words; -1 when anything in it would be
 * expanded, globbed or is an operator (then it is not the plain form).
 */
static int
split_literal(const char *cmd, struct word *w, size_t *nw)
{
	size_t n = 0, len = strlen(cmd);
	const char *p = cmd, *end = cmd + len;
	char *buf = xmalloc(len + 1), *o;

	*nw = 0;
	for (;;) {
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (p == end)
			break;
		if (n == MAX_WORDS)
			goto bad;
		o = buf;
		w[n].tilde = *p == '~';
		while (p < end && *p != ' ' && *p != '\t') {
			if (*p == '\'') {
				const char *q = memchr(p + 1, '\'',
				    (size_t)(end - p - 1));

				if (q == NULL)
					goto bad;
				memcpy(o, p + 1, (size_t)(q - p - 1));
				o += q - p - 1;
				p = q + 1;
			} else if (*p == '"') {
				for (p++; p < end && *p != '"'; p++) {
					if (strchr("$`\\!", *p) != NULL)
						goto bad;
					*o++ = *p;
				}
				if (p == end)
					goto bad;
				p++;
			} else if (*p == '\\') {
				if (p + 1 == end || p[1] == '\n')
					goto bad;
				*o++ = p[1];
				p += 2;
			} else if (plain_char(*p))
				*o++ = *p++;
			else
				goto bad;
		}
		*o = '\0';
		w[n++].s = xstrdup(buf);
	}
	free(buf);
	*nw = n;
	return 0;
bad:
	free(buf);
	while (n > 0)
		free(w[--n].s);
	return -1;
}

/* The plain form: scp [-tdrpvq]... [--] PATH; fills *out. */
static int
plain_sink(const char *cmd, struct scp_sink *out)
{
	struct word w[MAX_WORDS];
	size_t nw, i, j;
	const char *base, *path;
	int sink = 0, ok = 0;

	if (split_literal(cmd, w, &nw) != 0)
		return -1;
	if (nw < 2 || w[0].tilde)
		goto done;
	base = strrchr(w[0].s, '/');
	if (!is_scp(base != NULL ? base + 1 : w[0].s))
		goto done;
	for (i = 1; i < nw - 1; i++) {
		if (strcmp(w[i].s, "--") == 0) {
			i++;
			break;
		}
		if (w[i].s[0] != '-' || w[i].s[1] == '\0')
			goto done;
		for (j = 1; w[i].s[j] != '\0'; j++) {
			switch (w[i].s[j]) {
			case 't':
				sink = 1;
				break;
			case 'd':
				out->dir = 1;
				break;
			case 'r':
				out->recursive = 1;
				break;
			case 'p': case 'v': case 'q':
				break;
			default:
				goto done;
			}
		}
	}
	if (!sink || i != nw - 1)
		goto done;
	path = w[i].s;
	if (*path == '\0' || (*path == '-' && strcmp(w[i - 1].s, "--") != 0))
		goto done;
	if (w[i].tilde) {
		/* scp starts in the home folder: ~ and ~/x are . and x. */
		if (path[1] == '\0')
			path = ".";
		else if (path[1] == '/')
			path = path[2] != '\0' ? path + 2 : ".";
		else
			goto done;	/* ~user */
	}
	out->path = xstrdup(path);
	ok = 1;
done:
	for (i = 0; i < nw; i++)
		free(w[i].s);
	if (!ok) {
		out->dir = out->recursive = 0;
		return -1;
	}
	return 0;
}

enum scp_cmd
scp_cmd_parse(const char *cmd, const struct pc_result *pr,
    struct scp_sink *out)
{
	size_t i;
	int found = 0;

	memset(out, 0, sizeof(*out));
	if (pr == NULL || pr->error != PC_OK)
		return SCP_CMD_NONE;	/* unparseable: refused anyway */
	for (i = 0; i < pr->ncmds && !found; i++)
		found = is_scp(pr->cmds[i].name) &&
		    argv_is_sink(pr->cmds[i].argv, pr->cmds[i].argc);
	if (!found)
		return SCP_CMD_NONE;
	if (pr->ncmds != 1 || pr->nwrites != 0 || pr->cmds[0].depth != 0 ||
	    pr->cmds[0].opaque || plain_sink(cmd, out) != 0)
		return SCP_CMD_UNFOLLOWABLE;
	return SCP_CMD_SINK;
}

void
scp_sink_free(struct scp_sink *s)
{
	free(s->path);
	memset(s, 0, sizeof(*s));
}
