/*
 * test_scp.c: the legacy scp upload the bastion follows file by file:
 * which exec commands are an scp sink and which PATH they receive into
 * (policy/scpcmd.c), and the record follower (session/scp.c): the shell
 * command each file and folder is judged as (both candidate paths where
 * PATH may or may not be a folder), lock-step holding while the target
 * owes an answer, file data counted through, malformed records, broken
 * answers, and the bastion's own refusal line; and the reader behind
 * "bastionctl files" on a recorded legacy upload (tools/sftp-files.c).
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
#include "policy/scpcmd.h"
#include "session/scp.h"
#include "tools/sftp-files.h"

static enum scp_cmd
parse(const char *cmd, struct scp_sink *s)
{
	struct pc_result *pr = pc_parse(cmd, strlen(cmd));
	enum scp_cmd r = scp_cmd_parse(cmd, pr, s);

	pc_result_free(pr);
	return r;
}

static void
expect_sink(const char *cmd, const char *path, int dir, int recursive)
{
	struct scp_sink s;

	assert_int_equal(parse(cmd, &s), SCP_CMD_SINK);
	assert_string_equal(s.path, path);
	assert_int_equal(s.dir, dir);
	assert_int_equal(s.recursive, recursive);
	scp_sink_free(&s);
}

static void
expect(const char *cmd, enum scp_cmd want)
{
	struct scp_sink s;

	assert_int_equal(parse(cmd, &s), want);
	assert_null(s.path);
	scp_sink_free(&s);
}

static void
test_commands(void **state)
{
	(void)state;
	/* What OpenSSH's scp -O and paramiko's scp send. */
	expect_sink("scp -t /tmp/x", "/tmp/x", 0, 0);
	expect_sink("scp -v -r -p -d -t /srv/up/", "/srv/up/", 1, 1);
	expect_sink("scp -t -- -odd", "-odd", 0, 0);
	expect_sink("scp -r -t '/tmp/with space'", "/tmp/with space", 0, 1);
	expect_sink("scp -t '/tmp/it'\"'\"'s'", "/tmp/it's", 0, 0);
	expect_sink("scp -t \"/tmp/dq\"", "/tmp/dq", 0, 0);
	expect_sink("/usr/bin/scp -t a\\ b", "a b", 0, 0);
	expect_sink("scp -t ~", ".", 0, 0);
	expect_sink("scp -t ~/", ".", 0, 0);
	expect_sink("scp -t ~/up", "up", 0, 0);
	expect_sink("scp -rt .", ".", 0, 1);
	/* Not an scp sink at all. */
	expect("scp -f /etc/hosts", SCP_CMD_NONE);
	expect("ls -t /tmp", SCP_CMD_NONE);
	expect("echo scp -t x", SCP_CMD_NONE);
	expect("scp -o Foo=t -f x", SCP_CMD_NONE);
	expect("scp -P 22 -f t", SCP_CMD_NONE);
	expect("scp -t 'unterminated", SCP_CMD_NONE);	/* refused as a parse error */
	/* An scp sink the bastion cannot follow. */
	expect("cd /tmp && scp -t x", SCP_CMD_UNFOLLOWABLE);
	expect("sudo scp -t /root/x", SCP_CMD_UNFOLLOWABLE);
	expect("sh -c 'scp -t /x'", SCP_CMD_UNFOLLOWABLE);
	expect("scp -t $HOME/x", SCP_CMD_UNFOLLOWABLE);
	expect("scp -t \"$HOME\"", SCP_CMD_UNFOLLOWABLE);
	expect("scp -t /tmp/*", SCP_CMD_UNFOLLOWABLE);
	expect("scp -t ~root/x", SCP_CMD_UNFOLLOWABLE);
	expect("scp -t a b", SCP_CMD_UNFOLLOWABLE);
	expect("scp -t", SCP_CMD_UNFOLLOWABLE);
	expect("scp -t -x", SCP_CMD_UNFOLLOWABLE);
	expect("scp -tf x", SCP_CMD_UNFOLLOWABLE);
	expect("scp -t x > /tmp/log", SCP_CMD_UNFOLLOWABLE);
	expect("scp -t ''", SCP_CMD_UNFOLLOWABLE);
}

/* ---- the follower ---- */

static struct scp_state *
state(const char *path, int dir, int recursive)
{
	struct scp_sink s = { (char *)path, dir, recursive };
	struct scp_state *st = scp_state_new(&s);

	/* scp -t starts with its own \0. */
	assert_false(scp_quiet(st));
	scp_reply(st, (const uint8_t *)"", 1);
	assert_true(scp_quiet(st));
	return st;
}

/* Feeds one record; returns what the follower says. */
static enum scp_in
next(struct scp_state *st, const char *in, size_t n, struct scp_rec *r)
{
	scp_next(st, (const uint8_t *)in, n, r);
	return r->in;
}

static void
judged(struct scp_state *st, const char *rec, const char *text)
{
	struct scp_rec r;

	assert_int_equal(next(st, rec, strlen(rec), &r), SCP_IN_JUDGE);
	assert_int_equal(r.len, strlen(rec));
	assert_string_equal(r.text, text);
	scp_forwarded(st, &r, r.len);
	scp_rec_free(&r);
	/* Nothing more passes until the target answered. */
	assert_int_equal(next(st, "E\n", 2, &r), SCP_IN_WAIT);
	scp_rec_free(&r);
}

static void
test_files_and_folders(void **state_)
{
	struct scp_state *st = state("/srv/up/", 0, 1);
	struct scp_rec r;
	const char *denied = "\1scp: /srv/up/tree/locked: Permission denied\n";

	(void)state_;
	/* A T record passes, and is answered. */
	assert_int_equal(next(st, "T1700000000 0 1700000000 0\n", 27, &r),
	    SCP_IN_PASS);
	assert_int_equal(r.len, 27);
	scp_forwarded(st, &r, r.len);
	scp_rec_free(&r);
	scp_reply(st, (const uint8_t *)"", 1);
	judged(st, "D0755 0 tree\n", "mkdir -m 0755 '/srv/up/tree'");
	scp_reply(st, (const uint8_t *)"", 1);
	judged(st, "C0644 5 it's\n", "cat > '/srv/up/tree/it'\\''s'");
	scp_reply(st, (const uint8_t *)"", 1);
	/* Five bytes of data, given in two pieces, then the status byte. */
	assert_int_equal(next(st, "abc", 3, &r), SCP_IN_PASS);
	assert_int_equal(r.len, 3);
	scp_forwarded(st, &r, 3);
	scp_rec_free(&r);
	assert_int_equal(next(st, "de\0C0644 1 x\n", 13, &r), SCP_IN_PASS);
	assert_int_equal(r.len, 2);	/* only the file's bytes */
	scp_forwarded(st, &r, 2);
	scp_rec_free(&r);
	assert_int_equal(next(st, "\0C0644 1 x\n", 11, &r), SCP_IN_PASS);
	assert_int_equal(r.len, 1);
	scp_forwarded(st, &r, 1);
	scp_rec_free(&r);
	assert_int_equal(next(st, "C0644 1 x\n", 10, &r), SCP_IN_WAIT);
	scp_rec_free(&r);
	scp_reply(st, (const uint8_t *)"", 1);
	/* A file the target refuses to open: no data comes. */
	judged(st, "C0600 100 locked\n", "cat > '/srv/up/tree/locked'");
	scp_reply(st, (const uint8_t *)denied, strlen(denied));
	assert_true(scp_quiet(st));
	/* Leaving the folder. */
	assert_int_equal(next(st, "E\n", 2, &r), SCP_IN_PASS);
	scp_forwarded(st, &r, 2);
	scp_rec_free(&r);
	scp_reply(st, (const uint8_t *)"", 1);
	judged(st, "C0644 0 top\n", "cat > '/srv/up/top'");
	scp_reply(st, (const uint8_t *)"", 1);
	/* An empty file: straight to the status byte. */
	assert_int_equal(next(st, "\0", 1, &r), SCP_IN_PASS);
	scp_forwarded(st, &r, 1);
	scp_rec_free(&r);
	scp_reply(st, (const uint8_t *)"", 1);
	assert_false(scp_broken(st));
	scp_state_free(st);
}

static void
test_path_maybe_a_folder(void **state_)
{
	/* "scp -t /tmp/x": a file named x, or x/NAME if x is a folder. */
	struct scp_state *st = state("/tmp/x", 0, 1);
	struct scp_rec r;

	(void)state_;
	judged(st, "C0644 1 f\n", "cat > '/tmp/x/f'; cat > '/tmp/x'");
	scp_reply(st, (const uint8_t *)"", 1);
	assert_int_equal(next(st, "z\0", 2, &r), SCP_IN_PASS);
	scp_forwarded(st, &r, r.len);
	scp_rec_free(&r);
	assert_int_equal(next(st, "\0", 1, &r), SCP_IN_PASS);
	scp_forwarded(st, &r, 1);
	scp_rec_free(&r);
	scp_reply(st, (const uint8_t *)"", 1);
	/* A folder: x/d, or x itself; inside it x/d/g or x/g. */
	judged(st, "D0700 0 d\n", "mkdir -m 0700 '/tmp/x/d'; mkdir -m 0700 '/tmp/x'");
	scp_reply(st, (const uint8_t *)"", 1);
	judged(st, "C0644 1 g\n", "cat > '/tmp/x/d/g'; cat > '/tmp/x/g'");
	scp_state_free(st);
	/* -d, ".", and a trailing / say it is a folder. */
	st = state(".", 0, 0);
	judged(st, "C0644 1 f\n", "cat > './f'");
	scp_state_free(st);
	st = state("/tmp/x", 1, 0);
	judged(st, "C0644 1 f\n", "cat > '/tmp/x/f'");
	scp_state_free(st);
	st = state("/", 0, 0);
	judged(st, "C0644 1 f\n", "cat > '/f'");
	scp_state_free(st);
}

static void
test_refused_record(void **state_)
{
	struct scp_state *st = state("/srv/", 0, 0);
	struct scp_rec r;
	uint8_t out[64];
	size_t n;

	(void)state_;
	assert_int_equal(next(st, "C0644 9 bad\n", 12, &r), SCP_IN_JUDGE);
	scp_rec_free(&r);
	/* The bastion answered: the next record is read at once. */
	assert_true(scp_quiet(st));
	assert_int_equal(next(st, "C0644 1 ok\n", 11, &r), SCP_IN_JUDGE);
	scp_rec_free(&r);
	n = scp_refusal(out, sizeof(out), "denied by policy");
	assert_int_equal(n, 27);
	assert_memory_equal(out, "\1bastion: denied by policy\n", 27);
	assert_int_equal(scp_refusal(out, 10, "denied by policy"), 0);
	scp_state_free(st);
}

static void
bad(struct scp_state *st, const char *in, size_t n, const char *why)
{
	struct scp_rec r;

	assert_int_equal(next(st, in, n, &r), SCP_IN_BAD);
	assert_non_null(strstr(r.why, why));
	scp_rec_free(&r);
}

static void
test_malformed(void **state_)
{
	struct scp_state *st = state("/srv/", 0, 0);
	struct scp_rec r;
	char big[SCP_MAX_RECORD + 1];

	(void)state_;
	bad(st, "X\n", 2, "not C, D, E or T");
	bad(st, "\n", 1, "not C, D, E or T");
	bad(st, "C0644 1 a/b\n", 12, "file name");
	bad(st, "C0644 1 ..\n", 11, "file name");
	bad(st, "C0644 1 .\n", 10, "file name");
	bad(st, "C0944 1 a\n", 10, "malformed C or D");
	bad(st, "C0644 1a b\n", 11, "malformed C or D");
	bad(st, "C0644 1 \n", 9, "malformed C or D");
	{
		const char *huge = "C0644 99999999999999999999999 a\n";

		bad(st, huge, strlen(huge), "malformed C or D");
	}
	bad(st, "C0644 1 a\0b\n", 12, "NUL");
	bad(st, "D0755 0 dir\n", 12, "without -r");
	bad(st, "T1 0 1\n", 7, "malformed T");
	bad(st, "Ex\n", 3, "malformed E");
	memset(big, 'C', sizeof(big));
	bad(st, big, sizeof(big), "longer than 2048");
	/* Not complete yet, and the client's own error lines. */
	assert_int_equal(next(st, "C0644 1 a", 9, &r), SCP_IN_MORE);
	scp_rec_free(&r);
	assert_int_equal(next(st, "\1scp: x: No such file\n", 22, &r),
	    SCP_IN_PASS);
	scp_forwarded(st, &r, r.len);
	scp_rec_free(&r);
	assert_true(scp_quiet(st));	/* the sink does not answer those */
	/* After a file's data, only a status byte or an error line. */
	judged(st, "C0644 1 f\n", "cat > '/srv/f'");
	scp_reply(st, (const uint8_t *)"", 1);
	assert_int_equal(next(st, "z", 1, &r), SCP_IN_PASS);
	scp_forwarded(st, &r, 1);
	scp_rec_free(&r);
	bad(st, "C", 1, "no status byte");
	assert_int_equal(next(st, "\1read error", 11, &r), SCP_IN_MORE);
	scp_rec_free(&r);
	scp_state_free(st);
}

static void
test_broken_answers(void **state_)
{
	struct scp_state *st = state("/srv/", 0, 0);

	(void)state_;
	/* Bytes nobody asked for. */
	scp_reply(st, (const uint8_t *)"x", 1);
	assert_true(scp_broken(st));
	assert_false(scp_quiet(st));
	scp_state_free(st);
	/* An answer that is neither \0 nor an error line. */
	st = state("/srv/", 0, 0);
	judged(st, "C0644 1 f\n", "cat > '/srv/f'");
	scp_reply(st, (const uint8_t *)"Y", 1);
	assert_true(scp_broken(st));
	scp_state_free(st);
	/* An error line split anywhere is one answer. */
	st = state("/srv/", 0, 0);
	judged(st, "C0644 1 f\n", "cat > '/srv/f'");
	scp_reply(st, (const uint8_t *)"\1scp: ", 6);
	assert_false(scp_quiet(st));
	scp_reply(st, (const uint8_t *)"nope\n", 5);
	assert_true(scp_quiet(st));
	assert_false(scp_broken(st));
	scp_state_free(st);
}

static void
feed(struct sf_reader *r, enum sf_dir dir, const char *p, size_t n)
{
	sf_feed(r, dir, (const uint8_t *)p, n);
}

static void
test_files_from_recording(void **state_)
{
	struct scp_sink sink = { (char *)"/srv", 1, 0 };
	struct sf_reader *r = sf_new_scp(&sink, NULL, NULL);
	const struct sf_file *f;
	size_t n;
	int broken;

	(void)state_;
	feed(r, SF_REPLY, "", 1);			/* scp -t is ready */
	feed(r, SF_REQUEST, "C0644 3 a\n", 10);
	feed(r, SF_REPLY, "", 1);
	feed(r, SF_REQUEST, "xyz", 3);
	feed(r, SF_REQUEST, "", 1);
	feed(r, SF_REPLY, "", 1);
	/* A record the bastion refused: only its answer is recorded. */
	feed(r, SF_REPLY, "\1bastion: denied by policy\n", 27);
	/* The target refuses one: no file. */
	feed(r, SF_REQUEST, "C0644 5 c\n", 10);
	feed(r, SF_REPLY, "\1scp: /srv/c: Permission denied\n", 32);
	/* Data recorded before the answer it follows (one loop turn). */
	feed(r, SF_REQUEST, "C0600 2 b\nhi", 12);
	feed(r, SF_REQUEST, "", 1);
	feed(r, SF_REPLY, "\0\0", 2);
	f = sf_files(r, &n, &broken);
	assert_false(broken);
	assert_int_equal(n, 2);
	assert_string_equal(f[0].path, "/srv/a");
	assert_int_equal(f[0].bytes, 3);
	assert_true(f[0].upload);
	/* sha256("xyz") */
	assert_string_equal(f[0].sha256, "3608bca1e44ea6c4d268eb6db02260269892c0b42b86bbf1e77a6fa16c3c9282");
	assert_string_equal(f[1].path, "/srv/b");
	assert_int_equal(f[1].bytes, 2);
	/* Unasked-for bytes from the target: broken from there on. */
	feed(r, SF_REPLY, "?", 1);
	(void)sf_files(r, &n, &broken);
	assert_true(broken);
	sf_free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_commands),
		cmocka_unit_test(test_files_and_folders),
		cmocka_unit_test(test_path_maybe_a_folder),
		cmocka_unit_test(test_refused_record),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_broken_answers),
		cmocka_unit_test(test_files_from_recording),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
