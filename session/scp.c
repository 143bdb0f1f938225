/*
 * scp.c: the legacy scp protocol of an "scp -t PATH" channel, followed
 * record by record (see scp.h).  Pure; trusts neither the agent's records
 * nor the target's answers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "session/scp.h"

#define MAX_ANSWER	(64 * 1024)	/* a \1 line from the target */

enum phase { PH_AWAIT, PH_RECORD, PH_DATA, PH_STATUS };
enum due { DUE_START, DUE_C, DUE_D, DUE_E, DUE_T, DUE_END };

struct scp_state {
	char		*base;		/* PATH of "scp -t PATH" */
	int		 base_is_dir;	/* known to be a folder (-d, "dir/", ".") */
	int		 recursive;
	char		*stack[SCP_MAX_DEPTH];	/* folders entered */
	int		 depth;
	enum phase	 ph;
	enum due	 due;		/* PH_AWAIT: the answer to what */
	char		*due_name;	/* DUE_D: the folder */
	uint64_t	 due_size;	/* DUE_C: the file's size */
	uint64_t	 left;		/* PH_DATA: bytes of the file to come */
	int		 in_line;	/* an answer's \1 or \2 line is coming */
	size_t		 line_len;
	int		 broken;
};

struct scp_state *
scp_state_new(const struct scp_sink *sink)
{
	struct scp_state *st = xcalloc(1, sizeof(*st));
	const char *p = sink->path;
	size_t n = strlen(p);

	st->base = xstrdup(p);
	st->base_is_dir = sink->dir || (n > 0 && p[n - 1] == '/') ||
	    strcmp(p, ".") == 0 || strcmp(p, "..") == 0;
	st->recursive = sink->recursive;
	st->ph = PH_AWAIT;	/* scp -t starts with a \0 of its own */
	st->due = DUE_START;
	return st;
}

void
scp_state_free(struct scp_state *st)
{
	if (st == NULL)
		return;
	while (st->depth > 0)
		free(st->stack[--st->depth]);
	free(st->due_name);
	free(st->base);
	free(st);
}

void
scp_rec_free(struct scp_rec *r)
{
	free(r->text);
	free(r->name);
	memset(r, 0, sizeof(*r));
}

static char *
join(const char *a, const char *b)
{
	size_t n = strlen(a);

	return xasprintf("%s%s%s", a, n > 0 && a[n - 1] == '/' ? "" : "/", b);
}

/*
 * The path(s) an entry named name at the current level gets: where PATH
 * was not known to be a folder, scp writes PATH itself (a file, or the
 * folder a "D" record creates) when it is not one, and PATH/name when it
 * is.  Returns how many (1 or 2), malloc'd into cand.
 */
static int
entry_paths(const struct scp_state *st, const char *name, char *cand[2])
{
	int ncand = st->base_is_dir ? 1 : 2, i, k;
	char *t;

	for (i = 0; i < ncand; i++) {
		/* Candidate 0: PATH is a folder; 1: PATH is the first entry. */
		cand[i] = xstrdup(st->base);
		for (k = i; k < st->depth; k++) {
			t = join(cand[i], st->stack[k]);
			free(cand[i]);
			cand[i] = t;
		}
		if (i == 0 || st->depth > 0) {
			t = join(cand[i], name);
			free(cand[i]);
			cand[i] = t;
		}
	}
	return ncand;
}

/* The shell command creating name: both paths judged where there are two. */
static char *
entry_text(const struct scp_state *st, const char *verb, const char *name)
{
	char *cand[2], *q, *out = NULL, *t;
	int ncand = entry_paths(st, name, cand), i;

	for (i = 0; i < ncand; i++) {
		q = shell_quote(cand[i]);
		t = out == NULL ? xasprintf("%s %s", verb, q) :
		    xasprintf("%s; %s %s", out, verb, q);
		free(out);
		free(q);
		out = t;
		free(cand[i]);
	}
	return out;
}

char *
scp_entry_path(const struct scp_state *st, const char *name)
{
	char *cand[2], *out;

	if (entry_paths(st, name, cand) == 1)
		return cand[0];
	out = xasprintf("%s (or %s)", cand[0], cand[1]);
	free(cand[0]);
	free(cand[1]);
	return out;
}

int
scp_in_file(const struct scp_state *st)
{
	return !st->broken && (st->ph == PH_DATA || st->ph == PH_STATUS);
}

static void
bad(struct scp_rec *r, const char *why)
{
	r->in = SCP_IN_BAD;
	snprintf(r->why, sizeof(r->why), "%s", why);
}

/* "0644 12 name" after C or D: 0 or -1. */
static int
parse_cd(const char *s, size_t len, char mode[5], uint64_t *size,
    const char **name)
{
	const char *p = s, *end = s + len;
	int i;

	for (i = 0; i < 4; i++, p++) {
		if (p == end || *p < '0' || *p > '7')
			return -1;
		mode[i] = *p;
	}
	mode[4] = '\0';
	if (p == end || *p++ != ' ' || p == end || *p < '0' || *p > '9')
		return -1;
	for (*size = 0; p < end && *p >= '0' && *p <= '9'; p++) {
		if (*size > (UINT64_C(1) << 62) / 10)
			return -1;
		*size = *size * 10 + (uint64_t)(*p - '0');
	}
	if (p == end || *p++ != ' ' || p == end)
		return -1;
	*name = p;
	return 0;
}

/* "1700000000 0 1700000000 0" after T. */
static int
parse_times(const char *p, const char *end)
{
	int field, digits;

	for (field = 0; field < 4; field++) {
		for (digits = 0; p < end && *p >= '0' && *p <= '9'; p++)
			digits++;
		if (digits == 0 || digits > 20)
			return -1;
		if (field < 3 && (p == end || *p++ != ' '))
			return -1;
	}
	return p == end ? 0 : -1;
}

static void
next_record(struct scp_state *st, const uint8_t *buf, size_t n,
    struct scp_rec *r)
{
	size_t lim = n < SCP_MAX_RECORD ? n : SCP_MAX_RECORD, len;
	const uint8_t *nl = memchr(buf, '\n', lim);
	char *line, mode[5];
	const char *name;
	uint64_t size;

	if (nl == NULL) {
		if (n >= SCP_MAX_RECORD)
			bad(r, "a record longer than 2048 bytes");
		else
			r->in = SCP_IN_MORE;
		return;
	}
	len = (size_t)(nl - buf);
	r->len = len + 1;
	r->type = (char)buf[0];
	if (memchr(buf, '\0', len) != NULL) {
		bad(r, "a NUL byte in a record");
		return;
	}
	switch (buf[0]) {
	case 1:
	case 2:
		/* The agent's own error message: the sink does not answer. */
		r->in = SCP_IN_PASS;
		return;
	case 'E':
		if (len != 1)
			bad(r, "a malformed E record");
		else
			r->in = SCP_IN_PASS;
		return;
	case 'T':
		if (parse_times((const char *)buf + 1,
		    (const char *)buf + len) != 0)
			bad(r, "a malformed T record");
		else
			r->in = SCP_IN_PASS;
		return;
	case 'C':
	case 'D':
		break;
	default:
		bad(r, "a record that is not C, D, E or T");
		return;
	}
	line = xstrndup((const char *)buf, len);
	if (parse_cd(line + 1, len - 1, mode, &size, &name) != 0)
		bad(r, "a malformed C or D record");
	else if (strchr(name, '/') != NULL || strcmp(name, ".") == 0 ||
	    strcmp(name, "..") == 0)
		bad(r, "a file name with / in it, or . or ..");
	else if (buf[0] == 'D' && !st->recursive)
		bad(r, "a folder sent to scp -t without -r");
	else if (buf[0] == 'D' && st->depth == SCP_MAX_DEPTH)
		bad(r, "folders nested more than 64 deep");
	else {
		char *verb = buf[0] == 'C' ? xstrdup("cat >") :
		    xasprintf("mkdir -m %s", mode);

		r->in = SCP_IN_JUDGE;
		r->name = xstrdup(name);
		r->size = buf[0] == 'C' ? size : 0;
		r->text = entry_text(st, verb, name);
		free(verb);
	}
	free(line);
}

void
scp_next(struct scp_state *st, const uint8_t *buf, size_t n,
    struct scp_rec *r)
{
	memset(r, 0, sizeof(*r));
	r->in = SCP_IN_MORE;
	switch (st->ph) {
	case PH_AWAIT:
		r->in = SCP_IN_WAIT;
		return;
	case PH_RECORD:
		if (n > 0)
			next_record(st, buf, n, r);
		return;
	case PH_DATA:
		if (n == 0)
			return;
		r->in = SCP_IN_PASS;
		r->type = 'd';
		r->len = (uint64_t)n < st->left ? n : (size_t)st->left;
		return;
	case PH_STATUS:
		if (n == 0)
			return;
		r->type = (char)buf[0];
		if (buf[0] == 0) {
			r->in = SCP_IN_PASS;
			r->len = 1;
		} else if (buf[0] == 1 || buf[0] == 2) {
			const uint8_t *nl = memchr(buf, '\n',
			    n < SCP_MAX_RECORD ? n : SCP_MAX_RECORD);

			if (nl != NULL) {
				r->in = SCP_IN_PASS;
				r->len = (size_t)(nl - buf) + 1;
			} else if (n >= SCP_MAX_RECORD)
				bad(r, "an error line longer than 2048 bytes");
		} else
			bad(r, "no status byte after a file's data");
		return;
	}
}

static void
await(struct scp_state *st, enum due due)
{
	st->ph = PH_AWAIT;
	st->due = due;
	st->in_line = 0;
	st->line_len = 0;
}

void
scp_forwarded(struct scp_state *st, const struct scp_rec *r, size_t passed)
{
	switch (st->ph) {
	case PH_DATA:
		st->left -= passed < st->left ? passed : st->left;
		if (st->left == 0)
			st->ph = PH_STATUS;
		return;
	case PH_STATUS:
		await(st, DUE_END);
		return;
	case PH_RECORD:
		break;
	case PH_AWAIT:
		return;
	}
	switch (r->type) {
	case 'C':
		st->due_size = r->size;
		await(st, DUE_C);
		break;
	case 'D':
		free(st->due_name);
		st->due_name = xstrdup(r->name);
		await(st, DUE_D);
		break;
	case 'E':
		await(st, DUE_E);
		break;
	case 'T':
		await(st, DUE_T);
		break;
	default:
		break;	/* \1, \2: no answer */
	}
}

/* The target answered what was due. */
static void
answered(struct scp_state *st, int ok)
{
	st->ph = PH_RECORD;
	switch (st->due) {
	case DUE_C:
		if (ok) {
			st->left = st->due_size;
			st->ph = st->left > 0 ? PH_DATA : PH_STATUS;
		}
		break;
	case DUE_D:
		if (ok && st->depth < SCP_MAX_DEPTH) {
			st->stack[st->depth++] = st->due_name;
			st->due_name = NULL;
		}
		break;
	case DUE_E:
		if (st->depth > 0)
			free(st->stack[--st->depth]);
		break;
	case DUE_START:
	case DUE_T:
	case DUE_END:
		break;
	}
	free(st->due_name);
	st->due_name = NULL;
}

void
scp_reply(struct scp_state *st, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n && !st->broken; i++) {
		if (st->ph != PH_AWAIT) {
			st->broken = 1;	/* nothing was asked */
		} else if (st->in_line) {
			if (p[i] == '\n')
				answered(st, 0);
			else if (++st->line_len > MAX_ANSWER)
				st->broken = 1;
		} else if (p[i] == 0)
			answered(st, 1);
		else if (p[i] == 1 || p[i] == 2)
			st->in_line = 1;
		else
			st->broken = 1;
	}
}

int
scp_broken(const struct scp_state *st)
{
	return st->broken;
}

int
scp_quiet(const struct scp_state *st)
{
	return !st->broken && st->ph != PH_AWAIT;
}

size_t
scp_refusal(uint8_t *out, size_t cap, const char *msg)
{
	int n = snprintf((char *)out, cap, "\001bastion: %s\n", msg);

	return n < 0 || (size_t)n >= cap ? 0 : (size_t)n;
}
