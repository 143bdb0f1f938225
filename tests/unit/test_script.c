/*
 * test_script.c: policy/script.c (where each command of a piped script
 * ends, which execs are shells reading stdin, which lines may leave a
 * shell in the foreground, hooks) and session/linetrack.c (the keystroke
 * tracker and the integration marks).  Pure functions: no bastion needed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "policy/cmdparse.h"
#include "policy/script.h"
#include "session/linetrack.h"

/* The commands script_next() cuts text into, joined with '|'. */
static char *
split_all(const char *text)
{
	static char out[8192];
	size_t len = strlen(text), pos = 0, n;
	enum script_next r;

	out[0] = '\0';
	while (pos < len) {
		r = script_next(text + pos, len - pos, 1, &n);
		if (r != SCRIPT_COMMAND)
			break;
		strncat(out, text + pos, n);
		strcat(out, "|");
		pos += n;
	}
	return out;
}

static void
test_split_simple(void **state)
{
	(void)state;
	assert_string_equal(split_all("echo a\necho b\n"), "echo a\n|echo b\n|");
	assert_string_equal(split_all("echo a; echo b\n"), "echo a; echo b\n|");
	/* no final newline: the rest at eof */
	assert_string_equal(split_all("echo a\nls"), "echo a\n|ls|");
}

static void
test_split_constructs(void **state)
{
	(void)state;
	assert_string_equal(split_all("if true; then\n echo x\nfi\necho y\n"),
	    "if true; then\n echo x\nfi\n|echo y\n|");
	assert_string_equal(split_all("for i in 1 2; do\necho $i\ndone\n"),
	    "for i in 1 2; do\necho $i\ndone\n|");
	assert_string_equal(split_all("while false\ndo\n:\ndone\n"),
	    "while false\ndo\n:\ndone\n|");
	assert_string_equal(split_all("cat <<EOF\nrm -rf /\nEOF\nid\n"),
	    "cat <<EOF\nrm -rf /\nEOF\n|id\n|");
	assert_string_equal(split_all("echo 'a\nb'\nid\n"), "echo 'a\nb'\n|id\n|");
	assert_string_equal(split_all("ls \\\n-l\nid\n"), "ls \\\n-l\n|id\n|");
	assert_string_equal(split_all("ls |\nwc\n"), "ls |\nwc\n|");
	assert_string_equal(split_all("true &&\nid\n"), "true &&\nid\n|");
	assert_string_equal(split_all("f() {\necho\n}\nf\n"), "f() {\necho\n}\n|f\n|");
	assert_string_equal(split_all("{ echo\n}\n"), "{ echo\n}\n|");
	assert_string_equal(split_all("case x in\nx) id;;\nesac\n"),
	    "case x in\nx) id;;\nesac\n|");
	assert_string_equal(split_all("echo $(\nid)\n"), "echo $(\nid)\n|");
}

static void
test_split_comments_join_next(void **state)
{
	(void)state;
	assert_string_equal(split_all("# c\n\necho a\n"), "# c\n\necho a\n|");
	/* only comments left at eof: one last piece */
	assert_string_equal(split_all("echo a\n# end\n"), "echo a\n|# end\n|");
}

static void
test_split_more_and_toolong(void **state)
{
	size_t n = 99;
	char *big;

	(void)state;
	assert_int_equal(script_next("echo a", 6, 0, &n), SCRIPT_MORE);
	assert_int_equal(script_next("if true; then\n", 14, 0, &n), SCRIPT_MORE);
	assert_int_equal(script_next("cat <<EOF\nx\n", 12, 0, &n), SCRIPT_MORE);
	/* an unfinished construct at eof is handed over (the policy denies it) */
	assert_int_equal(script_next("if true; then\n", 14, 1, &n),
	    SCRIPT_COMMAND);
	assert_int_equal(n, 14);
	big = malloc(PC_MAX_INPUT + 10);
	memset(big, 'a', PC_MAX_INPUT + 10);
	big[0] = '\'';
	big[PC_MAX_INPUT + 9] = '\n';
	assert_int_equal(script_next(big, PC_MAX_INPUT + 10, 0, &n),
	    SCRIPT_TOOLONG);
	big[0] = 'a';
	big[5] = '\'';
	big[6] = '\n';	/* an open quote over 64 KiB of lines */
	memset(big + 7, '\n', 100);
	assert_int_equal(script_next(big, PC_MAX_INPUT + 10, 0, &n),
	    SCRIPT_TOOLONG);
	free(big);
}

static void
test_shell_exec(void **state)
{
	(void)state;
	assert_true(script_shell_exec("bash"));
	assert_true(script_shell_exec("sh -s"));
	assert_true(script_shell_exec("bash -s arg1 arg2"));
	assert_true(script_shell_exec("/bin/bash -e -x -s"));
	assert_true(script_shell_exec("/usr/bin/dash"));
	assert_true(script_shell_exec("bash -o pipefail -s"));
	assert_true(script_shell_exec("bash --noprofile --norc"));
	assert_true(script_shell_exec("sh -s -- -c x"));
	assert_true(script_shell_exec("exec bash"));
	assert_true(script_shell_exec("exec bash -s"));
	assert_false(script_shell_exec("exec"));
	assert_false(script_shell_exec("exec exec bash"));
	assert_false(script_shell_exec("exec python3"));
	assert_false(script_shell_exec("bash -c id"));
	assert_false(script_shell_exec("bash script.sh"));
	assert_false(script_shell_exec("bash < /tmp/x"));
	assert_false(script_shell_exec("bash --rcfile x"));
	assert_false(script_shell_exec("/tmp/bash"));
	assert_false(script_shell_exec("python3 -"));
	assert_false(script_shell_exec("FOO=1 bash"));
	assert_false(script_shell_exec("bash -o"));
	assert_false(script_shell_exec("bash -o history"));
	assert_false(script_shell_exec("sudo bash"));
	assert_false(script_shell_exec("bash; id"));
	assert_false(script_shell_exec("'bash'"));
	assert_false(script_shell_exec(""));
}

static int
shellish(const char *line)
{
	struct pc_result *r = pc_parse(line, strlen(line));
	int v = script_line_shellish(r);

	pc_result_free(r);
	return v;
}

static void
test_shellish(void **state)
{
	(void)state;
	assert_false(shellish("ls -l"));
	assert_false(shellish("python3"));
	assert_false(shellish("sudo systemctl restart x"));
	assert_false(shellish("vim /etc/hosts"));
	assert_true(shellish("bash"));
	assert_true(shellish("sudo -i"));
	assert_true(shellish("sudo -s"));
	assert_true(shellish("sudo"));
	assert_true(shellish("su -"));
	assert_true(shellish("ssh other"));
	assert_true(shellish("exec bash"));
	assert_false(shellish("exec"));		/* runs nothing */
	assert_true(shellish("$X"));
	assert_true(shellish("echo 'open"));
	assert_true(shellish("sudo bash -c id"));
}

static int
hooked(const char *line)
{
	struct pc_result *r = pc_parse(line, strlen(line));
	int v = script_mark_hooks(r, line, strlen(line));

	if (v)
		assert_true(r->cmds[r->ncmds - 1].opaque);
	pc_result_free(r);
	return v;
}

static void
test_hooks(void **state)
{
	(void)state;
	assert_true(hooked("PROMPT_COMMAND='rm -rf /'"));
	assert_true(hooked("export PS1='$(id)'"));
	assert_true(hooked("read PS1"));
	assert_true(hooked("PATH=/tmp:$PATH"));
	assert_true(hooked("bind '\"\\C-m\": accept-line'"));
	assert_true(hooked("enable -f x.so x"));
	assert_false(hooked("echo $PATH ${PS1}"));
	assert_false(hooked("echo MYPATH PS10"));
	assert_false(hooked("ls -l"));
}

/* ---- linetrack ---- */

/* Feeds keys; returns the forwarded bytes; *enter counts Enters. */
static char *
keys(struct lt_input *t, const char *in, size_t n, int *enters)
{
	static char out[4096];
	uint8_t fwd[4096];
	size_t pos = 0, used, nf, olen = 0;
	int en;

	*enters = 0;
	while (pos < n) {
		used = lt_feed(t, (const uint8_t *)in + pos, n - pos, fwd, &nf,
		    &en);
		memcpy(out + olen, fwd, nf);
		olen += nf;
		pos += used;
		if (en) {
			(*enters)++;
			break;
		}
	}
	out[olen] = '\0';
	return out;
}

static int
line_is(const struct lt_input *t, const char *s)
{
	return t->len == strlen(s) && memcmp(t->line, s, t->len) == 0;
}

static void
test_track_editing(void **state)
{
	struct lt_input t;
	int en;

	(void)state;
	lt_init(&t);
	assert_string_equal(keys(&t, "ls -l\r", strlen("ls -l\r"), &en), "ls -l");
	assert_int_equal(en, 1);
	assert_true(line_is(&t, "ls -l") && t.certain);

	lt_reset(&t);
	keys(&t, "lsx\x7f -a\x08\x08-l", strlen("lsx\x7f -a\x08\x08-l"), &en);
	assert_true(line_is(&t, "ls -l") && t.certain);
	lt_reset(&t);
	keys(&t, "rm -rf /\x15" "echo", strlen("rm -rf /\x15" "echo"), &en);
	assert_true(line_is(&t, "echo") && t.certain);
	lt_reset(&t);
	keys(&t, "echo keep rm -rf\x17\x17x", strlen("echo keep rm -rf\x17\x17x"), &en);
	assert_true(line_is(&t, "echo keep x"));
	lt_reset(&t);
	keys(&t, "\xc3\xa9t\xc3\xa9\x7f\x7f", strlen("\xc3\xa9t\xc3\xa9\x7f\x7f"), &en);	/* UTF-8 rubout */
	assert_true(line_is(&t, "\xc3\xa9"));
	lt_reset(&t);
	keys(&t, "abc\x03" "def", strlen("abc\x03" "def"), &en);		/* ^C drops the line */
	assert_true(line_is(&t, "def") && t.certain);
	lt_free(&t);
}

static void
test_track_uncertain(void **state)
{
	static const char *const uncertain[] = {
		"\x1b[A", "ls\x1b[D", "ls\t", "\x12rm", "ab\x01", "x\x0b",
		"\x1b" "b", "ls\x19", "\x10",
	};
	struct lt_input t;
	size_t i;
	int en;

	(void)state;
	lt_init(&t);
	for (i = 0; i < sizeof(uncertain) / sizeof(uncertain[0]); i++) {
		lt_reset(&t);
		keys(&t, uncertain[i], strlen(uncertain[i]), &en);
		assert_false(t.certain);
		/* a fresh line is certain again */
		lt_reset(&t);
		assert_true(t.certain);
	}
	lt_free(&t);
}

static void
test_track_paste_and_bastion_byte(void **state)
{
	struct lt_input t;
	int en;
	char *f;

	(void)state;
	lt_init(&t);
	f = keys(&t, "\x1b[200~echo a\recho b\x1b[201~\r", strlen("\x1b[200~echo a\recho b\x1b[201~\r"), &en);
	assert_int_equal(en, 1);
	assert_true(line_is(&t, "echo a\necho b") && t.certain);
	assert_int_equal(strlen(f), 25);	/* markers forwarded */
	/* ^_ never reaches the target */
	lt_reset(&t);
	f = keys(&t, "l\x1fs\x1f" "a\r", strlen("l\x1fs\x1f" "a\r"), &en);
	assert_string_equal(f, "lsa");
	assert_true(line_is(&t, "lsa"));
	assert_int_equal(t.dropped, 2);
	/* a paste without markers: one Enter per line */
	lt_reset(&t);
	keys(&t, "echo 1\necho 2\n", strlen("echo 1\necho 2\n"), &en);
	assert_true(line_is(&t, "echo 1"));
	lt_free(&t);
}

static void
test_marks(void **state)
{
	static const char out[] =
	    "hello\x1b]133;A;0123456789abcdef\x07$ "
	    "\x1b]133;A;ffffffffffffffff\x07"			/* wrong nonce */
	    "\x1b]133;L;0123456789abcdef;00112233445566zz;6c73\x07"	/* bad chal */
	    "\x1b]0;title\x07"
	    "\x1b]133;L;0123456789abcdef;0011223344556677;6c73202d6c\x07";
	struct lt_marks m;
	enum lt_event ev;
	size_t pos = 0, n = sizeof(out) - 1, used;
	int prompts = 0, reports = 0;

	(void)state;
	lt_marks_init(&m, "0123456789abcdef");
	/* one byte at a time: marks may be split anywhere */
	while (pos < n) {
		used = lt_marks_feed(&m, (const uint8_t *)out + pos, 1, &ev);
		assert_int_equal(used, 1);
		pos += used;
		if (ev == LT_EV_PROMPT)
			prompts++;
		if (ev == LT_EV_REPORT) {
			reports++;
			assert_string_equal(m.chal, "0011223344556677");
			assert_string_equal(m.line, "ls -l");
		}
	}
	assert_int_equal(prompts, 1);
	assert_int_equal(reports, 1);
	lt_marks_free(&m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_simple),
		cmocka_unit_test(test_split_constructs),
		cmocka_unit_test(test_split_comments_join_next),
		cmocka_unit_test(test_split_more_and_toolong),
		cmocka_unit_test(test_shell_exec),
		cmocka_unit_test(test_shellish),
		cmocka_unit_test(test_hooks),
		cmocka_unit_test(test_track_editing),
		cmocka_unit_test(test_track_uncertain),
		cmocka_unit_test(test_track_paste_and_bastion_byte),
		cmocka_unit_test(test_marks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
