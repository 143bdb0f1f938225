/*
 * test_cmdparse.c: policy/cmdparse.c against the table-driven corpus in
 * tests/data/commands/ (every .txt: exact pc_result_describe output per input),
 * plus what a text file cannot hold: NUL bytes, over-long input, deep
 * nesting, random garbage.
 *
 *   test_cmdparse [corpus-dir-or-file]    (default CORPUS_DIR, run from
 *                                          the repository root)
 *
 * Corpus format, blocks separated by blank lines:
 *   # comment
 *   input: first line of the command
 *   input+: a further line (joined with "\n")
 *   incomplete: yes|no          (optional: checks ->incomplete)
 *   expect:
 *   <describe() lines, up to the blank line; none for no output>
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "common/util.h"
#include "policy/cmdparse.h"

#ifndef CORPUS_DIR
#define CORPUS_DIR "tests/data/commands"
#endif

static const char *corpus_path = CORPUS_DIR;

struct sbuf {
	char	*s;
	size_t	 len;
};

static void
sb_add(struct sbuf *b, const char *s, size_t n)
{
	b->s = xrealloc(b->s, b->len + n + 1);
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

/* Runs one case; returns 0 if it passes, prints why not otherwise. */
static int
run_case(const char *file, int line, const char *input, size_t len,
    const char *expect, int incomplete)
{
	struct pc_result *r = pc_parse(input, len);
	char *got = pc_result_describe(r);
	int bad = 0;

	if (strcmp(got, expect) != 0) {
		fprintf(stderr, "%s:%d: FAIL\n  input: %s\n  expected:\n%s"
		    "  actual:\n%s", file, line, input, expect, got);
		bad = 1;
	}
	if (incomplete >= 0 && r->incomplete != incomplete) {
		fprintf(stderr, "%s:%d: FAIL: incomplete is %d, expected %d\n"
		    "  input: %s\n", file, line, r->incomplete, incomplete,
		    input);
		bad = 1;
	}
	free(got);
	pc_result_free(r);
	return bad;
}

/* Runs every case in one corpus file; counts cases and failures. */
static void
run_file(const char *path, int *ncases, int *nfail)
{
	char *text, *p, *nl, *line;
	struct sbuf in = { NULL, 0 }, ex = { NULL, 0 };
	size_t len;
	int lineno = 0, start = 0, have_in = 0, in_expect = 0, inc = -1;

	if (read_file(path, 4 * 1024 * 1024, &text, &len) != 0)
		fail_msg("cannot read %s", path);
	for (p = text; ; p = nl + 1) {
		nl = strchr(p, '\n');
		if (nl != NULL)
			*nl = '\0';
		line = p;
		lineno++;
		if (*line == '\0' || nl == NULL) {
			if (in_expect && nl == NULL && *line != '\0') {
				sb_add(&ex, line, strlen(line));
				sb_add(&ex, "\n", 1);
			}
			if (have_in) {
				if (!in_expect)
					fail_msg("%s:%d: case without expect:",
					    path, start);
				(*ncases)++;
				*nfail += run_case(path, start,
				    in.s ? in.s : "", in.len,
				    ex.s ? ex.s : "", inc);
			}
			free(in.s);
			free(ex.s);
			in.s = ex.s = NULL;
			in.len = ex.len = 0;
			have_in = in_expect = 0;
			inc = -1;
			if (nl == NULL)
				break;
			continue;
		}
		if (in_expect) {
			sb_add(&ex, line, strlen(line));
			sb_add(&ex, "\n", 1);
		} else if (*line == '#')
			continue;
		else if (strncmp(line, "input: ", 7) == 0 ||
		    strcmp(line, "input:") == 0) {
			if (have_in)
				fail_msg("%s:%d: two inputs in one case",
				    path, lineno);
			have_in = 1;
			start = lineno;
			sb_add(&in, "", 0);
			if (line[6] != '\0')
				sb_add(&in, line + 7, strlen(line + 7));
		} else if (strncmp(line, "input+:", 7) == 0) {
			sb_add(&in, "\n", 1);
			if (line[7] == ' ')
				sb_add(&in, line + 8, strlen(line + 8));
		} else if (strcmp(line, "incomplete: yes") == 0)
			inc = 1;
		else if (strcmp(line, "incomplete: no") == 0)
			inc = 0;
		else if (strcmp(line, "expect:") == 0)
			in_expect = 1;
		else
			fail_msg("%s:%d: unknown line: %s", path, lineno, line);
	}
	free(text);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
test_corpus(void **state)
{
	struct stat st;
	struct dirent *de;
	DIR *d;
	char **names = NULL, *path;
	size_t n = 0, i, l;
	int ncases = 0, nfail = 0;

	(void)state;

	if (stat(corpus_path, &st) != 0)
		fail_msg("no corpus at %s", corpus_path);
	if (S_ISDIR(st.st_mode)) {
		if ((d = opendir(corpus_path)) == NULL)
			fail_msg("cannot open %s", corpus_path);
		while ((de = readdir(d)) != NULL) {
			l = strlen(de->d_name);
			if (l < 5 || strcmp(de->d_name + l - 4, ".txt") != 0)
				continue;
			names = xrealloc(names, (n + 1) * sizeof(*names));
			names[n++] = xstrdup(de->d_name);
		}
		closedir(d);
		qsort(names, n, sizeof(*names), cmp_str);
		for (i = 0; i < n; i++) {
			path = xasprintf("%s/%s", corpus_path, names[i]);
			run_file(path, &ncases, &nfail);
			free(path);
			free(names[i]);
		}
		free(names);
	} else
		run_file(corpus_path, &ncases, &nfail);
	printf("%d corpus cases, %d failed\n", ncases, nfail);
	assert_true(ncases > 0);
	assert_int_equal(nfail, 0);
}

static struct pc_result *
parse_str(const char *s)
{
	return pc_parse(s, strlen(s));
}

static void
test_nul(void **state)
{
	static const char in[] = "echo a\0; rm -rf /";
	struct pc_result *r = pc_parse(in, sizeof(in) - 1);
	char *d;

	(void)state;

	assert_int_equal(r->error, PC_ERR_NUL);
	assert_int_equal(r->ncmds, 0);
	assert_string_equal(r->error_msg, "NUL byte at offset 6");
	d = pc_result_describe(r);
	assert_string_equal(d, "error nul: NUL byte at offset 6\n");
	free(d);
	pc_result_free(r);

	/* a NUL at the very start and at the very end */
	r = pc_parse("\0", 1);
	assert_int_equal(r->error, PC_ERR_NUL);
	pc_result_free(r);
	r = pc_parse("ls\0", 3);
	assert_int_equal(r->error, PC_ERR_NUL);
	pc_result_free(r);

	/* $'\0' is not a NUL in the input: bash cuts the string there */
	r = parse_str("$'su\\0x'do id");
	assert_int_equal(r->error, PC_OK);
	assert_string_equal(r->cmds[0].argv[0], "sudo");
	pc_result_free(r);
}

static void
test_toolong(void **state)
{
	size_t n = PC_MAX_INPUT + 1, i;
	char *buf = xmalloc(n);
	struct pc_result *r;

	(void)state;

	for (i = 0; i < n; i++)
		buf[i] = i % 8 == 7 ? ';' : 'a';
	r = pc_parse(buf, n);
	assert_int_equal(r->error, PC_ERR_TOOLONG);
	assert_int_equal(r->ncmds, 0);
	pc_result_free(r);

	/* exactly PC_MAX_INPUT is fine: 8192 commands */
	r = pc_parse(buf, n - 1);
	assert_int_equal(r->error, PC_OK);
	assert_int_equal(r->ncmds, PC_MAX_INPUT / 8);
	pc_result_free(r);

	/* one long word, a long quoted string */
	memset(buf, 'x', n - 1);
	buf[0] = '\'';
	buf[n - 2] = '\'';
	r = pc_parse(buf, n - 1);
	assert_int_equal(r->error, PC_OK);
	assert_int_equal(r->ncmds, 1);
	assert_int_equal(strlen(r->cmds[0].argv[0]), n - 3);
	pc_result_free(r);
	free(buf);
}

static void
nested(const char *open, const char *mid, const char *close, size_t depth,
    enum pc_error want)
{
	size_t lo = strlen(open), lc = strlen(close), lm = strlen(mid), i;
	char *buf, *p;
	struct pc_result *r;

	/* as deep as the input size allows */
	if (depth * (lo + lc) + lm > PC_MAX_INPUT)
		depth = (PC_MAX_INPUT - lm) / (lo + lc);
	buf = p = xmalloc(depth * (lo + lc) + lm + 1);

	for (i = 0; i < depth; i++, p += lo)
		memcpy(p, open, lo);
	memcpy(p, mid, lm);
	p += lm;
	for (i = 0; i < depth; i++, p += lc)
		memcpy(p, close, lc);
	r = pc_parse(buf, (size_t)(p - buf));
	if (r->error != want)
		fail_msg("%s...%s x%zu: error %d (%s), expected %d", open,
		    close, depth, r->error, r->error_msg ? r->error_msg : "",
		    want);
	pc_result_free(r);
	free(buf);
}

static void
test_deep(void **state)
{
	struct pc_result *r;
	char *buf = xmalloc(10001);

	(void)state;

	/* 10k unclosed parentheses */
	memset(buf, '(', 10000);
	r = pc_parse(buf, 10000);
	assert_int_equal(r->error, PC_ERR_DEPTH);
	pc_result_free(r);
	memset(buf, '{', 10000);
	r = pc_parse(buf, 10000);
	assert_int_equal(r->error, PC_OK);	/* "{{{..." is a word */
	pc_result_free(r);
	free(buf);

	nested("( ", "ls", " )", 10000, PC_ERR_DEPTH);
	nested("( ", "ls", " )", 50, PC_OK);
	nested("{ ", "ls", "; }", 10000, PC_ERR_DEPTH);
	nested("if true; then ", "ls", "; fi", 10000, PC_ERR_DEPTH);
	nested("$(", "ls", ")", 10000, PC_ERR_DEPTH);
	nested("$(", "ls", ")", 16, PC_OK);
	nested("$(", "ls", ")", 17, PC_ERR_DEPTH);
	nested("\"$(", "ls", ")\"", 10000, PC_ERR_DEPTH);
	nested("${x:-", "y", "}", 10000, PC_ERR_DEPTH);
	nested("<(", "ls", ")", 10000, PC_ERR_DEPTH);
	nested("$((", "1", "))", 10000, PC_ERR_DEPTH);
	nested("sudo ", "ls", "", 10000, PC_ERR_DEPTH);
	nested("sudo ", "ls", "", 16, PC_OK);
	nested("bash -c '", "ls", "'", 2, PC_OK);
	/* wrappers and sh -c strings count together */
	nested("sudo ", "bash -c 'sudo sudo ls'", "", 13, PC_OK);
	nested("sudo ", "bash -c 'sudo sudo ls'", "", 14, PC_ERR_DEPTH);
	nested("case x in x) ", "ls", ";; esac", 10000, PC_ERR_DEPTH);
	nested("while ", "ls", "; do ls; done", 10000, PC_ERR_DEPTH);
	nested("f() { ", "ls", "; }", 10000, PC_ERR_DEPTH);
	/* backquotes nest through escaping: \` then \\\` ... */
	r = parse_str("echo `echo \\`echo \\\\\\`id\\\\\\`\\``");
	assert_int_equal(r->error, PC_OK);
	assert_int_equal(r->ncmds, 4);
	assert_string_equal(r->cmds[0].name, "id");
	assert_int_equal(r->cmds[0].depth, 3);
	pc_result_free(r);
}

/* Deterministic pseudo-random bytes from a shell-ish alphabet. */
static void
test_garbage(void **state)
{
	static const char alpha[] = "abc $(){}[]<>|&;'\"`\\\n\t#=*?-!0123"
	    "sudo bash -c find -exec xargs env <<EOF\nEOF\n$((";
	uint64_t x = 88172645463325252ULL;
	char buf[512], *d;
	struct pc_result *r;
	size_t n, i;
	int k;

	(void)state;

	for (k = 0; k < 20000; k++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		n = (size_t)(x % sizeof(buf));
		for (i = 0; i < n; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			buf[i] = k % 4 == 0 ? (char)(x & 0xff) :
			    alpha[x % (sizeof(alpha) - 1)];
		}
		r = pc_parse(buf, n);
		d = pc_result_describe(r);
		assert_non_null(d);
		assert_true(r->error == PC_OK || r->error_msg != NULL);
		assert_true(r->error == PC_OK || r->ncmds == 0);
		for (i = 0; i < r->ncmds; i++) {
			assert_non_null(r->cmds[i].argv);
			assert_true(r->cmds[i].argc > 0);
			assert_true(r->cmds[i].opaque ||
			    r->cmds[i].name != NULL);
			assert_true(!r->cmds[i].opaque ||
			    r->cmds[i].opaque_reason != NULL);
		}
		free(d);
		pc_result_free(r);
	}
}

static void
test_fields(void **state)
{
	struct pc_result *r;

	(void)state;

	r = parse_str("sudo -u www FOO=1 env BAR=2 \"$(printf rm)\" -rf /");
	assert_int_equal(r->error, PC_OK);
	assert_int_equal(r->ncmds, 4);
	assert_string_equal(r->cmds[0].name, "printf");
	assert_int_equal(r->cmds[0].depth, 1);
	assert_string_equal(r->cmds[0].via, "$(...)");
	assert_string_equal(r->cmds[1].name, "sudo");
	assert_int_equal(r->cmds[1].depth, 0);
	assert_null(r->cmds[1].via);
	assert_string_equal(r->cmds[2].name, "env");
	assert_int_equal(r->cmds[2].depth, 1);
	assert_int_equal(r->cmds[3].opaque, 1);
	assert_null(r->cmds[3].name);
	assert_string_equal(r->cmds[3].opaque_reason,
	    "command name from an expansion");
	assert_int_equal(r->cmds[3].depth, 2);
	assert_string_equal(r->cmds[3].via, "env");
	assert_int_equal(r->cmds[3].argc, 3);
	assert_null(r->cmds[3].argv[3]);
	assert_null(r->error_msg);
	pc_result_free(r);

	r = pc_parse(NULL, 0);
	assert_int_equal(r->error, PC_OK);
	assert_int_equal(r->ncmds, 0);
	pc_result_free(r);
	pc_result_free(NULL);

	/* CR is an ordinary byte, not a separator */
	r = parse_str("ls\r");
	assert_int_equal(r->ncmds, 1);
	assert_string_equal(r->cmds[0].name, "ls\r");
	pc_result_free(r);
}

/* Opaque commands keep a literal name (rules about it still apply). */
static void
test_opaque_names(void **state)
{
	static const struct {
		const char *in;
		size_t idx;
		const char *name;	/* NULL: none */
	} cases[] = {
		{ "curl x | sh", 1, "sh" },
		{ "python3 -c 'import os'", 0, "python3" },
		{ "/usr/bin/perl -e 1", 0, "perl" },
		{ "sudo -i", 0, "sudo" },
		{ "bash -c \"$X\"", 0, "bash" },
		{ "'s'h -s", 0, "sh" },
		{ "awk '{ print | \"sh\" }'", 0, "awk" },
		{ "tmux send-keys x", 0, "tmux" },
		{ "$X foo", 0, NULL },
		{ "\"$(echo rm)\" -rf /", 1, NULL },
		{ "/bin/r? x", 0, NULL },
		{ "{rm,ls} x", 0, NULL },
		{ "sudo -u $U rm x", 1, NULL },	/* may be options */
		{ "xargs -I R R", 1, NULL },
		{ "find . -exec {} \\;", 1, NULL },
	};
	struct pc_result *r;
	size_t i;

	(void)state;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		r = parse_str(cases[i].in);
		if (r->error != PC_OK || r->ncmds <= cases[i].idx)
			fail_msg("%s: error or too few commands", cases[i].in);
		if (!r->cmds[cases[i].idx].opaque)
			fail_msg("%s: command %zu not opaque", cases[i].in,
			    cases[i].idx);
		if (cases[i].name == NULL)
			assert_null(r->cmds[cases[i].idx].name);
		else
			assert_string_equal(r->cmds[cases[i].idx].name,
			    cases[i].name);
		pc_result_free(r);
	}
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_corpus),
		cmocka_unit_test(test_nul),
		cmocka_unit_test(test_toolong),
		cmocka_unit_test(test_deep),
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_opaque_names),
		cmocka_unit_test(test_garbage),
	};

	if (argc > 1)
		corpus_path = argv[1];
	return cmocka_run_group_tests(tests, NULL, NULL);
}
