/*
 * test_recorder.c: unit tests of recorder/recorder.c (cmocka).
 *
 * Each test works in its own temporary folder (under $TMPDIR) and removes
 * it.  Tampering goes through a separate raw SQLite connection, as an
 * attacker with write access to the file would.  The benchmark writes
 * REC_BENCH_MB megabytes (default 1000, about 10k events of 100 KiB) and
 * prints the rate; it asserts nothing about time.  Under valgrind set
 * REC_BENCH_MB=16.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sqlite3.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "recorder/checkpoint.h"
#include "recorder/recorder.h"

struct fixture {
	char	*dir;
	char	*db;
};

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	const char *tmp = getenv("TMPDIR");

	f->dir = xasprintf("%s/test_recorder.XXXXXX", tmp ? tmp : "/tmp");
	if (mkdtemp(f->dir) == NULL)
		fail_msg("mkdtemp %s", f->dir);
	f->db = xasprintf("%s/bastion.db", f->dir);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	static const char *const sfx[] = { "", "-wal", "-shm", "-journal" };
	size_t i;
	char *p;

	for (i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		p = xasprintf("%s%s", f->db, sfx[i]);
		unlink(p);
		free(p);
	}
	assert_int_equal(rmdir(f->dir), 0);
	free(f->db);
	free(f->dir);
	free(f);
	return 0;
}

/* Runs SQL on a separate connection, as an attacker would. */
static void
raw_sql(const char *db, const char *fmt, ...)
{
	sqlite3 *h = NULL;
	char *sql, *err = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&sql, fmt, ap) < 0)
		fail();
	va_end(ap);
	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	if (sqlite3_exec(h, sql, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("%s: %s", sql, err);
	sqlite3_close(h);
	free(sql);
}

static int64_t
raw_int(const char *db, const char *sql)
{
	sqlite3 *h = NULL;
	sqlite3_stmt *s = NULL;
	int64_t v;

	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(h);
	return v;
}

static struct json_object *
jparse(const char *text)
{
	struct json_object *o = json_tokener_parse(text);

	assert_non_null(o);
	return o;
}

static void
meta(struct rec *rec, int64_t sid, int32_t ch, const char *kind,
    const char *json)
{
	struct json_object *o = jparse(json);

	assert_int_equal(rec_meta(rec, sid, ch, kind, o), 0);
	json_object_put(o);
}

static const char *
jstr(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || v == NULL)
		return NULL;
	return json_object_get_string(v);
}

static int64_t
jint(struct json_object *o, const char *key)
{
	struct json_object *v;

	assert_true(json_object_object_get_ex(o, key, &v));
	assert_non_null(v);
	assert_true(json_object_is_type(v, json_type_int));
	return json_object_get_int64(v);
}

static int
jnull(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	assert_true(json_object_object_get_ex(o, key, &v));
	return v == NULL;
}

/*
 * A complete session: 14 events.
 *   1 connect, 2 auth (refused), 3 auth (accepted), 4 target,
 *   5 channel-open, 6 request pty-req, 7 request exec, 8 in, 9 out,
 *   10 err, 11 exit-status, 12 eof, 13 channel-close, 14 end
 */
static int64_t
full_session(struct rec *rec, int end)
{
	int64_t sid = 0;

	assert_int_equal(rec_session_begin(rec, "127.0.0.1", 5555, &sid), 0);
	assert_true(sid > 0);
	assert_int_equal(rec_session_auth(rec, sid, "deploy", "ssh-rsa",
	    "SHA256:bad", NULL, NULL, 0, "key not authorized"), 0);
	assert_int_equal(rec_session_auth(rec, sid, "deploy", "ssh-ed25519",
	    "SHA256:abc", "agent-ci", "alice", 1, NULL), 0);
	assert_int_equal(rec_session_target(rec, sid, "web1", "deploy",
	    "10.0.0.5", 22), 0);
	meta(rec, sid, 0, "channel-open", "{\"type\":\"session\"}");
	meta(rec, sid, 0, "request", "{\"type\":\"pty-req\",\"term\":"
	    "\"xterm-256color\",\"cols\":120,\"rows\":40,\"accepted\":true}");
	meta(rec, sid, 0, "request", "{\"type\":\"exec\",\"command\":"
	    "\"ls -la /tmp\",\"accepted\":true}");
	assert_int_equal(rec_data(rec, sid, 0, REC_IN, "ls\n", 3), 0);
	assert_int_equal(rec_data(rec, sid, 0, REC_OUT, "file1\nfile2\n", 12),
	    0);
	assert_int_equal(rec_data(rec, sid, 0, REC_ERR, "warn\n", 5), 0);
	meta(rec, sid, 0, "exit-status", "{\"status\":3}");
	meta(rec, sid, 0, "eof", "{\"from\":\"target\"}");
	meta(rec, sid, 0, "channel-close", "{}");
	if (end)
		assert_int_equal(rec_session_end(rec, sid, "closed",
		    "client closed"), 0);
	else
		assert_int_equal(rec_flush(rec), 0);
	return sid;
}

/*
 * Verifies sid: wants return value want, and a cause holding cause_has
 * (NULL: none).  A live session (REC_VERIFY_LIVE) reads as the cause
 * "not sealed".
 */
static void
expect_verify(struct rec *rec, int64_t sid, int want, const char *cause_has)
{
	char *cause = NULL;
	int flags = 0, r = rec_verify_session(rec, sid, &flags, &cause);

	if (r == 0 && (flags & REC_VERIFY_LIVE)) {
		assert_null(cause);
		cause = xstrdup("not sealed");
	}
	if (r != want)
		fail_msg("verify session %lld: %d (%s), wanted %d",
		    (long long)sid, r, cause ? cause : "-", want);
	if (cause_has == NULL)
		assert_null(cause);
	else {
		assert_non_null(cause);
		if (strstr(cause, cause_has) == NULL)
			fail_msg("cause \"%s\" lacks \"%s\"", cause, cause_has);
	}
	free(cause);
}

static void
test_lifecycle(void **state)
{
	struct fixture *f = *state;
	struct rec *rec = NULL;
	struct json_object *o = NULL, *chans, *c, *log, *e;
	char *cause = NULL;
	int64_t sid;
	static const char *const kinds[] = { "connect", "auth", "auth",
	    "target", "channel-open", "request", "request", "exit-status",
	    "eof", "channel-close", "end" };
	size_t i;

	assert_int_equal(rec_open(f->db, &rec, &cause), 0);
	assert_null(cause);
	assert_int_equal(raw_int(f->db, "PRAGMA user_version"), 5);
	sid = full_session(rec, 1);
	assert_int_equal(rec_pending_events(rec), 0);
	assert_int_equal(rec_pending_bytes(rec), 0);
	expect_verify(rec, sid, 0, NULL);

	/* Ending twice, or writing to an ended session, is refused. */
	assert_int_not_equal(rec_session_end(rec, sid, "closed", NULL), 0);
	assert_int_equal(rec_data(rec, sid, 0, REC_OUT, "x", 1),
	    BST_ERR_NOTFOUND);
	/* The recorder's own kinds cannot come through rec_meta. */
	e = jparse("{}");
	assert_int_not_equal(rec_meta(rec, sid, 0, "out", e), 0);
	assert_int_not_equal(rec_meta(rec, sid, -1, "end", e), 0);
	json_object_put(e);

	assert_int_equal(rec_show_session(rec, sid, &o), 0);
	assert_int_equal(jint(o, "id"), sid);
	assert_string_equal(jstr(o, "identity"), "agent-ci");
	assert_string_equal(jstr(o, "owner"), "alice");
	assert_string_equal(jstr(o, "login"), "deploy");
	assert_string_equal(jstr(o, "key_fingerprint"), "SHA256:abc");
	assert_string_equal(jstr(o, "client"), "127.0.0.1:5555");
	assert_string_equal(jstr(o, "target"), "web1");
	assert_string_equal(jstr(o, "target_user"), "deploy");
	assert_string_equal(jstr(o, "end_reason"), "closed");
	assert_string_equal(jstr(o, "end_detail"), "client closed");
	assert_non_null(jstr(o, "started"));
	assert_non_null(jstr(o, "ended"));
	assert_true(strchr(jstr(o, "started"), 'T') != NULL);
	assert_true(json_object_get_boolean(json_object_object_get(o,
	    "sealed")));
	assert_int_equal(jint(o, "events"), 14);
	assert_int_equal(jint(o, "bytes_in"), 3);
	assert_int_equal(jint(o, "bytes_out"), 17);
	assert_int_equal(jint(o, "exit_status"), 3);

	assert_true(json_object_object_get_ex(o, "channels", &chans));
	assert_int_equal(json_object_array_length(chans), 1);
	c = json_object_array_get_idx(chans, 0);
	assert_int_equal(jint(c, "channel"), 0);
	assert_string_equal(jstr(c, "type"), "exec");
	assert_string_equal(jstr(c, "command"), "ls -la /tmp");
	assert_string_equal(jstr(c, "term"), "xterm-256color");
	assert_int_equal(jint(c, "cols"), 120);
	assert_int_equal(jint(c, "rows"), 40);
	assert_int_equal(jint(c, "exit_status"), 3);
	assert_true(jnull(c, "exit_signal"));
	assert_non_null(jstr(c, "opened"));
	assert_non_null(jstr(c, "closed"));

	assert_true(json_object_object_get_ex(o, "log", &log));
	assert_int_equal(json_object_array_length(log),
	    sizeof(kinds) / sizeof(kinds[0]));
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		e = json_object_array_get_idx(log, i);
		assert_string_equal(jstr(e, "kind"), kinds[i]);
	}
	e = json_object_array_get_idx(log, 0);
	assert_int_equal(jint(e, "seq"), 1);
	assert_true(jnull(e, "channel"));
	e = json_object_array_get_idx(log, 6);
	assert_int_equal(jint(e, "seq"), 7);
	assert_int_equal(jint(e, "channel"), 0);
	assert_string_equal(jstr(json_object_object_get(e, "detail"),
	    "command"), "ls -la /tmp");
	json_object_put(o);
	o = NULL;

	assert_int_equal(rec_show_session(rec, sid + 100, &o),
	    BST_ERR_NOTFOUND);
	assert_null(o);
	rec_close(rec);

	/* The detail is stored as JSON text the sqlite3 CLI can query. */
	assert_int_equal(raw_int(f->db, "SELECT json_extract(data, "
	    "'$.cols') FROM events WHERE kind = 'request' AND "
	    "json_extract(data, '$.type') = 'pty-req'"), 120);
}

static void
test_channels_more(void **state)
{
	struct fixture *f = *state;
	struct rec *rec = NULL;
	struct json_object *o = NULL, *chans, *c;
	int64_t sid;

	assert_int_equal(rec_open(f->db, &rec, NULL), 0);
	assert_int_equal(rec_session_begin(rec, "::1", 40000, &sid), 0);
	meta(rec, sid, 0, "channel-open", "{\"type\":\"session\"}");
	meta(rec, sid, 0, "request", "{\"type\":\"shell\"}");
	meta(rec, sid, 0, "request", "{\"type\":\"window-change\","
	    "\"cols\":10,\"rows\":5}");
	meta(rec, sid, 0, "exit-signal", "{\"signal\":\"TERM\",\"core\":false}");
	meta(rec, sid, 1, "channel-open", "{\"type\":\"session\"}");
	meta(rec, sid, 1, "request", "{\"type\":\"exec\",\"command\":\"rm\","
	    "\"accepted\":false,\"reason\":\"policy\"}");
	meta(rec, sid, 1, "request", "{\"type\":\"subsystem\",\"name\":"
	    "\"sftp\",\"accepted\":true}");
	meta(rec, sid, -1, "upstream", "{\"ok\":true}");
	assert_int_equal(rec_session_end(rec, sid, "target-disconnected",
	    NULL), 0);
	assert_int_equal(rec_show_session(rec, sid, &o), 0);
	assert_string_equal(jstr(o, "client"), "[::1]:40000");
	assert_true(jnull(o, "identity"));
	assert_true(jnull(o, "end_detail"));
	assert_true(json_object_object_get_ex(o, "channels", &chans));
	assert_int_equal(json_object_array_length(chans), 2);
	c = json_object_array_get_idx(chans, 0);
	assert_string_equal(jstr(c, "type"), "shell");
	assert_string_equal(jstr(c, "exit_signal"), "TERM");
	assert_true(jnull(c, "exit_status"));
	assert_true(jnull(c, "term"));
	assert_true(jnull(c, "closed"));
	c = json_object_array_get_idx(chans, 1);
	assert_string_equal(jstr(c, "type"), "subsystem:sftp");
	assert_true(jnull(c, "command"));	/* refused exec */
	json_object_put(o);
	expect_verify(rec, sid, 0, NULL);
	rec_close(rec);
}

/* Tampering with SQL, the event number or column the cause must name. */
static const struct {
	const char	*sql;	/* %lld: session id */
	const char	*cause;
} tampers[] = {
	{ "UPDATE events SET data = X'66696c65320a' WHERE session_id = %lld "
	    "AND seq = 9", "event 9: hash mismatch" },
	{ "UPDATE events SET t_us = t_us + 1 WHERE session_id = %lld AND "
	    "seq = 11", "event 11: hash mismatch" },
	{ "UPDATE events SET kind = 'in' WHERE session_id = %lld AND "
	    "seq = 10", "event 10: hash mismatch" },
	{ "DELETE FROM events WHERE session_id = %lld AND seq = 5",
	    "event 5: missing" },
	{ "DELETE FROM events WHERE session_id = %lld AND seq = 14",
	    "event_count" },
	{ "UPDATE sessions SET identity = 'root' WHERE id = %lld",
	    "identity \"root\"" },
	{ "UPDATE sessions SET owner = NULL WHERE id = %lld", "owner NULL" },
	{ "UPDATE sessions SET target_user = 'root' WHERE id = %lld",
	    "target_user" },
	{ "UPDATE sessions SET target_port = 2222 WHERE id = %lld",
	    "target_port" },
	{ "UPDATE sessions SET client_addr = '10.1.1.1' WHERE id = %lld",
	    "client_addr" },
	{ "UPDATE sessions SET login = 'admin' WHERE id = %lld", "login" },
	{ "UPDATE sessions SET end_reason = 'closed', end_detail = 'x' "
	    "WHERE id = %lld", "end_detail" },
	{ "UPDATE sessions SET event_count = 13 WHERE id = %lld",
	    "event_count 13" },
	{ "UPDATE sessions SET bytes_out = 0 WHERE id = %lld", "bytes" },
	{ "UPDATE sessions SET final_hash = '00' WHERE id = %lld",
	    "final hash" },
	{ "UPDATE sessions SET sealed = 0 WHERE id = %lld", "not sealed" },
	{ "UPDATE sessions SET started_us = started_us - 1 WHERE id = %lld",
	    "event 1: hash mismatch" },
	{ "UPDATE sessions SET ended_us = ended_us + 1 WHERE id = %lld",
	    "ended_us" },
};

static void
test_tamper(void **state)
{
	struct fixture *f = *state;
	struct rec *rec = NULL, *ro = NULL;
	int64_t sid[sizeof(tampers) / sizeof(tampers[0])], other;
	size_t i;
	int flags;

	assert_int_equal(rec_open(f->db, &rec, NULL), 0);
	for (i = 0; i < sizeof(tampers) / sizeof(tampers[0]); i++)
		sid[i] = full_session(rec, 1);
	other = full_session(rec, 1);
	for (i = 0; i < sizeof(tampers) / sizeof(tampers[0]); i++)
		raw_sql(f->db, tampers[i].sql, (long long)sid[i]);
	/* Detected on the writer's handle and on a read-only one. */
	assert_int_equal(rec_open_readonly(f->db, &ro, NULL), 0);
	for (i = 0; i < sizeof(tampers) / sizeof(tampers[0]); i++) {
		expect_verify(rec, sid[i], BST_ERR_TAMPERED, tampers[i].cause);
		expect_verify(ro, sid[i], BST_ERR_TAMPERED, tampers[i].cause);
	}
	expect_verify(ro, other, 0, NULL);
	assert_int_equal(rec_verify_session(ro, other + 1, &flags, NULL),
	    BST_ERR_NOTFOUND);
	rec_close(ro);
	rec_close(rec);
}

static void
test_live_session(void **state)
{
	struct fixture *f = *state;
	struct rec *rec = NULL, *ro = NULL;
	struct json_object *o = NULL;
	int64_t sid;

	assert_int_equal(rec_open(f->db, &rec, NULL), 0);
	sid = full_session(rec, 0);
	assert_int_equal(rec_data(rec, sid, 0, REC_OUT, "pending", 7), 0);
	assert_int_equal(rec_pending_events(rec), 1);
	assert_int_equal(rec_pending_bytes(rec), 7);

	/* A reader sees only what is committed, and it verifies. */
	assert_int_equal(rec_open_readonly(f->db, &ro, NULL), 0);
	expect_verify(ro, sid, 0, "not sealed");
	assert_int_equal(rec_show_session(ro, sid, &o), 0);
	assert_int_equal(jint(o, "events"), 13);
	assert_true(jnull(o, "ended"));
	assert_true(jnull(o, "end_reason"));
	json_object_put(o);
	assert_int_equal(rec_flush(rec), 0);
	assert_int_equal(rec_pending_events(rec), 0);
	assert_int_equal(rec_show_session(ro, sid, &o), 0);
	assert_int_equal(jint(o, "events"), 14);
	json_object_put(o);
	expect_verify(ro, sid, 0, "not sealed");

	/* A write-side rec_flush with nothing pending is a no-op. */
	assert_int_equal(rec_flush(rec), 0);
	assert_int_equal(rec_list_sessions(ro, 0, &o), 0);
	assert_int_equal(json_object_array_length(o), 1);
	assert_true(jnull(json_object_array_get_idx(o, 0), "ended"));
	json_object_put(o);
	assert_int_equal(rec_session_end(rec, sid, "monitor-shutdown", NULL),
	    0);
	expect_verify(ro, sid, 0, NULL);
	rec_close(ro);
	rec_close(rec);
}

static void
test_crash_recovery(void **state)
{
	struct fixture *f = *state;
	struct rec *rec = NULL;
	struct json_object *o = NULL;
	int64_t sid = 0, sid2 = 0;
	pid_t pid;
	int status;

	/* A monitor that dies with a batch open: the batch is lost. */
	fflush(NULL);
	if ((pid = fork()) == 0) {
		if (rec_open(f->db, &rec, NULL) != 0)
			_exit(2);
		sid = full_session(rec, 0);
		if (rec_data(rec, sid, 0, REC_OUT, "lost", 4) != 0)
			_exit(3);
		/*
		 * Vanish without rec_close or a flush, as a crash would (the
		 * database fds are close-on-exec); exec rather than a signal
		 * keeps valgrind from reporting the abandoned heap.
		 */
		execl("/bin/true", "true", (char *)NULL);
		_exit(4);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	sid = raw_int(f->db, "SELECT max(id) FROM sessions");
	assert_true(raw_int(f->db, "SELECT ended_us IS NULL FROM sessions")
	    == 1);

	/* A monitor that closed the database without ending a session. */
	assert_int_equal(rec_open(f->db, &rec, NULL), 0);
	assert_int_equal(rec_session_begin(rec, "127.0.0.2", 1, &sid2), 0);
	assert_int_equal(rec_data(rec, sid2, 0, REC_OUT, "kept", 4), 0);
	/* The first open already sealed the crashed session. */
	expect_verify(rec, sid, 0, NULL);
	rec_close(rec);
	rec = NULL;

	assert_int_equal(rec_open(f->db, &rec, NULL), 0);
	assert_int_equal(rec_show_session(rec, sid, &o), 0);
	assert_string_equal(jstr(o, "end_reason"), "monitor-restart");
	assert_int_equal(jint(o, "events"), 14);	/* 13 + end */
	assert_int_equal(jint(o, "bytes_out"), 17);
	assert_null(strstr(jstr(o, "end_detail"), "broken"));
	json_object_put(o);
	assert_int_equal(rec_show_session(rec, sid2, &o), 0);
	assert_string_equal(jstr(o, "end_reason"), "monitor-restart");
	assert_int_equal(jint(o, "events"), 3);	/* connect, out, end */
	assert_int_equal(jint(o, "bytes_out"), 4);
	json_object_put(o);
	expect_verify(rec, sid, 0, NULL);
	expect_verify(rec, sid2, 0, NULL);
	/* Sealed sessions are not touched again. */
	rec_close(rec);
	rec = NULL;
	assert_int_equal(rec_open(f->db, &rec, NULL), 0);
	assert_int_equal(raw_int(f->db, "SELECT count(*) FROM events WHERE "
	    "kind = 'end'"), 2);
	rec_close(rec);
}

static void
test_crash_broken_chain(void **state)
{
	struct fixture *f = *state;
	struct rec *rec = NULL;
	struct json_object *o = NULL;
	int64_t sid;

	assert_int_equal(rec_open(f->db, &rec, NULL), 0);
	sid = full_session(rec, 0);
	rec_close(rec);
	rec = NULL;
	raw_sql(f->db, "UPDATE events SET data = X'00' WHERE seq = 8");
	assert_int_equal(rec_open(f->db, &rec, NULL), 0);
	assert_int_equal(rec_show_session(rec, sid, &o), 0);
	assert_string_equal(jstr(o, "end_reason"), "monitor-restart");
	assert_string_equal(jstr(o, "end_detail"), "chain broken at event 8");
	assert_true(json_object_get_boolean(json_object_object_get(o,
	    "sealed")));
	json_object_put(o);
	expect_verify(rec, sid, BST_ERR_TAMPERED, "event 8: hash mismatch");
	rec_close(rec);
}

static void
test_list(void **state)
{
	struct fixture *f = *state;
	struct rec *rec = NULL;
	struct json_object *arr = NULL, *s;
	int64_t a, b, c;

	assert_int_equal(rec_open(f->db, &rec, NULL), 0);
	assert_int_equal(rec_list_sessions(rec, 0, &arr), 0);
	assert_int_equal(json_object_array_length(arr), 0);
	json_object_put(arr);
	a = full_session(rec, 1);
	b = full_session(rec, 0);
	assert_int_equal(rec_session_begin(rec, "192.0.2.1", 2, &c), 0);
	assert_int_equal(rec_session_auth(rec, c, "x", "ssh-ed25519",
	    "SHA256:zz", NULL, NULL, 0, "unknown key"), 0);
	assert_int_equal(rec_session_end(rec, c, "auth-failed", NULL), 0);

	assert_int_equal(rec_list_sessions(rec, 0, &arr), 0);
	assert_int_equal(json_object_array_length(arr), 3);
	assert_int_equal(jint(json_object_array_get_idx(arr, 0), "id"), c);
	assert_int_equal(jint(json_object_array_get_idx(arr, 1), "id"), b);
	assert_int_equal(jint(json_object_array_get_idx(arr, 2), "id"), a);
	s = json_object_array_get_idx(arr, 0);
	assert_string_equal(jstr(s, "end_reason"), "auth-failed");
	assert_true(jnull(s, "identity"));
	assert_string_equal(jstr(s, "login"), "x");
	assert_int_equal(jint(s, "channels"), 0);
	assert_true(jnull(s, "exit_status"));
	s = json_object_array_get_idx(arr, 1);
	assert_true(jnull(s, "ended"));
	assert_true(jnull(s, "end_reason"));
	s = json_object_array_get_idx(arr, 2);
	assert_string_equal(jstr(s, "identity"), "agent-ci");
	assert_string_equal(jstr(s, "owner"), "alice");
	assert_string_equal(jstr(s, "key_fingerprint"), "SHA256:abc");
	assert_string_equal(jstr(s, "client"), "127.0.0.1:5555");
	assert_string_equal(jstr(s, "target"), "web1");
	assert_string_equal(jstr(s, "target_user"), "deploy");
	assert_string_equal(jstr(s, "end_reason"), "closed");
	assert_non_null(jstr(s, "ended"));
	assert_int_equal(jint(s, "channels"), 1);
	assert_int_equal(jint(s, "exit_status"), 3);
	assert_int_equal(jint(s, "bytes_in"), 3);
	assert_int_equal(jint(s, "bytes_out"), 17);
	json_object_put(arr);

	assert_int_equal(rec_list_sessions(rec, 2, &arr), 0);
	assert_int_equal(json_object_array_length(arr), 2);
	assert_int_equal(jint(json_object_array_get_idx(arr, 1), "id"), b);
	json_object_put(arr);
	rec_close(rec);
}

struct collect {
	int64_t	last_seq;
	int64_t	last_t;
	int	n;
	int	stop_at;
	char	kinds[32][16];
	size_t	out_len;
};

static int
collect_cb(void *arg, int64_t seq, int64_t t_us, int32_t channel,
    const char *kind, const void *data, size_t len)
{
	struct collect *c = arg;

	assert_int_equal(seq, c->last_seq + 1);
	assert_true(t_us >= c->last_t);
	assert_true(t_us >= 0);
	c->last_seq = seq;
	c->last_t = t_us;
	if (c->n < 32)
		snprintf(c->kinds[c->n], sizeof(c->kinds[0]), "%s", kind);
	c->n++;
	if (strcmp(kind, "out") == 0) {
		assert_int_equal(channel, 0);
		assert_memory_equal(data, "file1\nfile2\n", len);
		c->out_len += len;
	}
	if (c->stop_at != 0 && c->n == c->stop_at)
		return 42;
	return 0;
}

static void
test_foreach(void **state)
{
	struct fixture *f = *state;
	struct rec *rec = NULL;
	struct collect c;
	int64_t sid;

	assert_int_equal(rec_open(f->db, &rec, NULL), 0);
	sid = full_session(rec, 1);
	memset(&c, 0, sizeof(c));
	assert_int_equal(rec_foreach_event(rec, sid, collect_cb, &c), 0);
	assert_int_equal(c.n, 14);
	assert_string_equal(c.kinds[0], "connect");
	assert_string_equal(c.kinds[7], "in");
	assert_string_equal(c.kinds[8], "out");
	assert_string_equal(c.kinds[9], "err");
	assert_string_equal(c.kinds[13], "end");
	assert_int_equal(c.out_len, 12);

	memset(&c, 0, sizeof(c));
	c.stop_at = 3;
	assert_int_equal(rec_foreach_event(rec, sid, collect_cb, &c), 42);
	assert_int_equal(c.n, 3);

	/* Unknown session: an error, and the callback never runs. */
	memset(&c, 0, sizeof(c));
	assert_int_equal(rec_foreach_event(rec, sid + 1, collect_cb, &c),
	    BST_ERR_NOTFOUND);
	assert_int_equal(c.n, 0);
	rec_close(rec);
}

struct blob_check {
	const uint8_t	*want;
	size_t		 len;
	int		 seen;
	int		 empty;
};

static int
blob_cb(void *arg, int64_t seq, int64_t t_us, int32_t channel,
    const char *kind, const void *data, size_t len)
{
	struct blob_check *b = arg;

	(void)seq;
	(void)t_us;
	(void)channel;
	if (strcmp(kind, "out") != 0)
		return 0;
	if (len == 0) {
		b->empty++;
		return 0;
	}
	assert_int_equal(len, b->len);
	assert_memory_equal(data, b->want, len);
	b->seen++;
	return 0;
}

static void
test_large_blob(void **state)
{
	struct fixture *f = *state;
	struct rec *rec = NULL;
	struct blob_check b;
	uint8_t *buf;
	size_t i, len = 1024 * 1024;
	int64_t sid;

	buf = xmalloc(len);
	for (i = 0; i < len; i++)
		buf[i] = (uint8_t)(i * 131 + (i >> 9));
	buf[0] = 0;	/* NUL bytes survive */
	assert_int_equal(rec_open(f->db, &rec, NULL), 0);
	assert_int_equal(rec_session_begin(rec, "127.0.0.1", 1, &sid), 0);
	assert_int_equal(rec_data(rec, sid, 0, REC_OUT, buf, len), 0);
	assert_int_equal(rec_pending_bytes(rec), len);
	assert_int_equal(rec_data(rec, sid, 0, REC_OUT, buf, 0), 0);
	assert_int_equal(rec_session_end(rec, sid, "closed", NULL), 0);
	/* The empty write is an event too, with a zero-length blob. */
	assert_int_equal(raw_int(f->db, "SELECT count(*) FROM events WHERE "
	    "kind = 'out' AND length(data) = 0"), 1);
	expect_verify(rec, sid, 0, NULL);
	rec_close(rec);
	rec = NULL;

	assert_int_equal(rec_open_readonly(f->db, &rec, NULL), 0);
	memset(&b, 0, sizeof(b));
	b.want = buf;
	b.len = len;
	assert_int_equal(rec_foreach_event(rec, sid, blob_cb, &b), 0);
	assert_int_equal(b.seen, 1);
	assert_int_equal(b.empty, 1);
	expect_verify(rec, sid, 0, NULL);
	rec_close(rec);

	/* Far too big is refused, not truncated. */
	assert_int_equal(rec_open(f->db, &rec, NULL), 0);
	assert_int_equal(rec_session_begin(rec, "127.0.0.1", 1, &sid), 0);
	free(buf);
	len = (size_t)16 * 1024 * 1024 + 1;
	buf = xcalloc(1, len);
	assert_int_equal(rec_data(rec, sid, 0, REC_OUT, buf, len),
	    BST_ERR_TOOBIG);
	assert_int_equal(rec_session_end(rec, sid, "closed", NULL), 0);
	expect_verify(rec, sid, 0, NULL);
	rec_close(rec);
	free(buf);
}

static void
test_readonly(void **state)
{
	struct fixture *f = *state;
	struct rec *rec = NULL;
	char *cause = NULL, *path;
	struct stat sb;
	int64_t sid;

	path = xasprintf("%s/missing.db", f->dir);
	assert_int_not_equal(rec_open_readonly(path, &rec, &cause), 0);
	assert_null(rec);
	assert_non_null(cause);
	assert_non_null(strstr(cause, path));
	assert_non_null(strstr(cause, "No such file"));
	assert_int_not_equal(stat(path, &sb), 0);	/* not created */
	free(cause);
	cause = NULL;

	/* A file that is not a bastion database. */
	raw_sql(path, "CREATE TABLE t (x)");
	assert_int_not_equal(rec_open_readonly(path, &rec, &cause), 0);
	assert_non_null(strstr(cause, "not a bastion"));
	free(cause);
	cause = NULL;
	unlink(path);
	free(path);

	/* rec_open names the file when it cannot be created. */
	path = xasprintf("%s/no/such/dir.db", f->dir);
	assert_int_not_equal(rec_open(path, &rec, &cause), 0);
	assert_non_null(strstr(cause, path));
	free(cause);
	cause = NULL;
	free(path);

	assert_int_equal(rec_open(f->db, &rec, NULL), 0);
	assert_int_equal(rec_session_begin(rec, "127.0.0.1", 1, &sid), 0);
	rec_close(rec);
	rec = NULL;
	assert_int_equal(stat(f->db, &sb), 0);
	assert_int_equal(sb.st_mode & 007, 0);	/* not world-readable */
	assert_int_equal(rec_open_readonly(f->db, &rec, &cause), 0);
	assert_null(cause);
	/* Writes through a read-only handle fail. */
	assert_int_not_equal(rec_session_begin(rec, "x", 1, &sid), 0);
	rec_close(rec);
}

static off_t
file_size(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0 ? sb.st_size : 0;
}

/*
 * Disk full in the middle of a batch (RLIMIT_FSIZE): rec_flush() may
 * return 0 only if every event appended since the last commit is stored;
 * afterwards recording goes on and every chain verifies.
 */
static void
test_disk_full(void **state)
{
	struct fixture *f = *state;
	struct rec *rec = NULL;
	struct rlimit old, lim;
	char *wal;
	uint8_t *big;
	size_t len = 1024 * 1024;
	int64_t a, b, before_a, before_b;
	off_t max;
	int i, ok_b = 0, failed = 0, r;

	big = xcalloc(1, len);
	wal = xasprintf("%s-wal", f->db);
	assert_int_equal(rec_open(f->db, &rec, NULL), 0);
	assert_int_equal(rec_session_begin(rec, "127.0.0.1", 1, &a), 0);
	assert_int_equal(rec_session_begin(rec, "127.0.0.1", 2, &b), 0);
	assert_int_equal(rec_data(rec, a, 0, REC_OUT, "committed", 9), 0);
	assert_int_equal(rec_flush(rec), 0);
	before_a = raw_int(f->db, "SELECT count(*) FROM events WHERE "
	    "session_id = 1");
	before_b = raw_int(f->db, "SELECT count(*) FROM events WHERE "
	    "session_id = 2");

	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	max = file_size(f->db) > file_size(wal) ? file_size(f->db) :
	    file_size(wal);
	lim = old;
	lim.rlim_cur = (rlim_t)max + 3 * len;
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	assert_int_equal(rec_data(rec, a, 0, REC_OUT, "pending", 7), 0);
	for (i = 0; i < 12 && !failed; i++) {
		if ((r = rec_data(rec, b, 0, REC_OUT, big, len)) == 0)
			ok_b++;
		else
			failed = 1;
	}
	if (!failed)
		failed = rec_flush(rec) != 0;
	assert_true(failed);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_DFL);

	r = rec_flush(rec);
	if (r == 0) {
		/* Nothing was lost: all of it is there. */
		assert_int_equal(raw_int(f->db, "SELECT count(*) FROM events "
		    "WHERE session_id = 1"), before_a + 1);
		assert_int_equal(raw_int(f->db, "SELECT count(*) FROM events "
		    "WHERE session_id = 2"), before_b + ok_b);
	}
	assert_int_equal(rec_pending_events(rec), 0);
	/* Recording goes on from the committed chain heads. */
	assert_int_equal(rec_data(rec, a, 0, REC_OUT, "after", 5), 0);
	assert_int_equal(rec_data(rec, b, 0, REC_OUT, "after", 5), 0);
	assert_int_equal(rec_flush(rec), 0);
	assert_int_equal(rec_session_end(rec, a, "closed", NULL), 0);
	assert_int_equal(rec_session_end(rec, b, "closed", NULL), 0);
	expect_verify(rec, a, 0, NULL);
	expect_verify(rec, b, 0, NULL);
	rec_close(rec);
	free(wal);
	free(big);
}

/* Bytes of path that the page cache holds (mincore). */
static off_t
cached_bytes(const char *path)
{
	long pg = sysconf(_SC_PAGESIZE);
	struct stat sb;
	unsigned char *vec;
	void *m;
	off_t n = 0;
	size_t i, pages;
	int fd;

	if ((fd = open(path, O_RDONLY)) < 0 || fstat(fd, &sb) != 0)
		fail_msg("open %s", path);
	if (sb.st_size == 0) {
		close(fd);
		return 0;
	}
	m = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		fail_msg("mmap %s", path);
	pages = ((size_t)sb.st_size + (size_t)pg - 1) / (size_t)pg;
	vec = xmalloc(pages);
	if (mincore(m, (size_t)sb.st_size, vec) != 0)
		fail_msg("mincore %s", path);
	for (i = 0; i < pages; i++)
		if (vec[i] & 1)
			n += pg;
	free(vec);
	munmap(m, (size_t)sb.st_size);
	close(fd);
	return n;
}

/* The WAL header's salts (they change at every WAL restart), or 0. */
static uint64_t
wal_salts(const char *wal)
{
	uint64_t salts = 0;
	int fd = open(wal, O_RDONLY);

	if (fd >= 0) {
		if (pread(fd, &salts, sizeof(salts), 16) != sizeof(salts))
			salts = 0;
		close(fd);
	}
	return salts;
}

/*
 * The checkpointer under steady writes, as the monitor makes them but
 * without the monitor's pauses (a commit right after the other, so the
 * checkpointer seldom finds the writer lock free): the WAL must still be
 * reset (the monitor asks for it at 256 MiB), or it would only grow (a
 * passive checkpoint never catches up with a busy writer), and the
 * database's pages must leave the page cache once on disk, or the cache
 * grows by every byte recorded.
 */
static void
test_checkpointer(void **state)
{
	struct fixture *f = *state;
	struct rec *rec = NULL;
	char *wal = xasprintf("%s-wal", f->db), *cause = NULL;
	size_t len = 512 * 1024, i, n = 1024;	/* 512 MiB */
	uint8_t *chunk = xmalloc(len);
	off_t wal_max = 0, cached = 0;
	uint64_t salts = 0, s;
	int64_t sid;
	pid_t pid;
	int st, tries, fd, restarts = 0;

	for (i = 0; i < len; i++)
		chunk[i] = (uint8_t)(i * 7);
	pid = rec_checkpointer_start(f->db, &fd, &cause);
	assert_true(pid > 0);
	assert_int_equal(rec_open(f->db, &rec, NULL), 0);
	rec_set_checkpointer(rec, fd);
	assert_int_equal(rec_session_begin(rec, "127.0.0.1", 1, &sid), 0);
	for (i = 0; i < n; i++) {
		chunk[0] = (uint8_t)i;
		assert_int_equal(rec_data(rec, sid, 0, REC_OUT, chunk, len), 0);
		assert_int_equal(rec_flush(rec), 0);
		if (file_size(wal) > wal_max)
			wal_max = file_size(wal);
		if ((s = wal_salts(wal)) != salts) {
			if (salts != 0)
				restarts++;
			salts = s;
		}
	}
	/* Reset at least once, well before it held all 512 MiB. */
	assert_true(restarts >= 1);
	assert_true(wal_max < 448 * 1024 * 1024);
	/* Within a few passes the written pages leave the cache. */
	for (tries = 0; tries < 50; tries++) {
		cached = cached_bytes(f->db);
		if (cached < 64 * 1024 * 1024)
			break;
		usleep(100 * 1000);
	}
	if (cached >= 64 * 1024 * 1024)
		fail_msg("%lld bytes of the database still cached",
		    (long long)cached);
	assert_true(file_size(f->db) > 64 * 1024 * 1024);

	assert_int_equal(rec_session_end(rec, sid, "closed", NULL), 0);
	expect_verify(rec, sid, 0, NULL);
	rec_close(rec);
	close(fd);	/* the checkpointer sees EOF and exits */
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	free(chunk);
	free(wal);
}

/*
 * The reset handshake itself: the writer asks between transactions, the
 * checkpointer answers once the WAL is checkpointed and the next commit
 * restarts it; a checkpointer that is gone is reported as such.
 */
static void
test_checkpointer_handshake(void **state)
{
	struct fixture *f = *state;
	struct rec *rec = NULL;
	char *wal = xasprintf("%s-wal", f->db), *cause = NULL;
	uint8_t chunk[64 * 1024];
	uint64_t salts;
	int64_t sid;
	pid_t pid;
	int st, fd, i;

	memset(chunk, 'x', sizeof(chunk));
	pid = rec_checkpointer_start(f->db, &fd, &cause);
	assert_true(pid > 0);
	assert_int_equal(rec_open(f->db, &rec, NULL), 0);
	rec_set_checkpointer(rec, fd);
	assert_int_equal(rec_session_begin(rec, "127.0.0.1", 1, &sid), 0);
	for (i = 0; i < 64; i++)
		assert_int_equal(rec_data(rec, sid, 0, REC_OUT, chunk,
		    sizeof(chunk)), 0);
	assert_int_equal(rec_flush(rec), 0);
	salts = wal_salts(wal);
	assert_true(salts != 0);

	assert_int_equal(ckpt_reset_request(fd, 5000), CKPT_RESET_DONE);
	assert_int_equal(rec_data(rec, sid, 0, REC_OUT, "after", 5), 0);
	assert_int_equal(rec_flush(rec), 0);
	assert_true(wal_salts(wal) != salts);	/* the WAL started over */
	assert_int_equal(rec_session_end(rec, sid, "closed", NULL), 0);
	expect_verify(rec, sid, 0, NULL);

	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_int_equal(ckpt_reset_request(fd, 1000), CKPT_RESET_GONE);
	rec_close(rec);
	close(fd);
	free(wal);
}

struct bench_count {
	int64_t	bytes;
};

static int
bench_cb(void *arg, int64_t seq, int64_t t_us, int32_t channel,
    const char *kind, const void *data, size_t len)
{
	struct bench_count *b = arg;

	(void)seq;
	(void)t_us;
	(void)channel;
	(void)data;
	if (strcmp(kind, "out") == 0)
		b->bytes += (int64_t)len;
	return 0;
}

static void
test_bench(void **state)
{
	struct fixture *f = *state;
	struct rec *rec = NULL;
	struct bench_count bc = { 0 };
	const char *env = getenv("REC_BENCH_MB");
	size_t chunk = 100 * 1024, total, done = 0, i;
	uint8_t *buf;
	int64_t sid, t0, t1, t2, t3;
	double mb;

	total = (size_t)(env ? atol(env) : 1000) * 1024 * 1024;
	buf = xmalloc(chunk);
	for (i = 0; i < chunk; i++)
		buf[i] = (uint8_t)(i * 7 + 3);
	assert_int_equal(rec_open(f->db, &rec, NULL), 0);
	assert_int_equal(rec_session_begin(rec, "127.0.0.1", 1, &sid), 0);
	t0 = now_mono_us();
	for (i = 0; done < total; i++) {
		buf[0] = (uint8_t)i;
		assert_int_equal(rec_data(rec, sid, 0, REC_OUT, buf, chunk),
		    0);
		done += chunk;
		/* As the monitor does: commit every few MiB. */
		if (rec_pending_bytes(rec) >= 4 * 1024 * 1024)
			assert_int_equal(rec_flush(rec), 0);
	}
	assert_int_equal(rec_session_end(rec, sid, "closed", NULL), 0);
	t1 = now_mono_us();
	expect_verify(rec, sid, 0, NULL);
	t2 = now_mono_us();
	assert_int_equal(rec_foreach_event(rec, sid, bench_cb, &bc), 0);
	t3 = now_mono_us();
	assert_int_equal(bc.bytes, (int64_t)done);
	mb = (double)done / (1024.0 * 1024.0);
	printf("bench: %zu events, %.0f MiB: insert %.2fs (%.0f MiB/s), "
	    "verify %.2fs (%.0f MiB/s), read %.2fs (%.0f MiB/s)\n", i, mb,
	    (t1 - t0) / 1e6, mb / ((t1 - t0) / 1e6 + 1e-9),
	    (t2 - t1) / 1e6, mb / ((t2 - t1) / 1e6 + 1e-9),
	    (t3 - t2) / 1e6, mb / ((t3 - t2) / 1e6 + 1e-9));
	rec_close(rec);
	free(buf);
}


/* ---- approval requests ---- */

/* A request for session sid, channel 0, command cmd. */
static int64_t
make_request(struct rec *rec, int64_t sid, const char *cmd, int deferred,
    int timeout)
{
	struct rec_request req;
	struct json_object *analysis;
	int64_t id = 0;

	analysis = jparse("{\"decision\":\"approve\",\"rule\":\"prod-writes\","
	    "\"programs\":[\"systemctl\"]}");
	memset(&req, 0, sizeof(req));
	req.session_id = sid;
	req.channel = 0;
	req.identity = "agent-ci";
	req.owner = "alice";
	req.target = "web1";
	req.target_user = "deploy";
	req.command = cmd;
	req.rule = "prod-writes";
	req.reason = "writes on production need two SREs";
	req.groups = "sre security";
	req.count = 2;
	req.timeout = timeout;
	req.deferred = deferred;
	req.analysis = analysis;
	assert_int_equal(rec_request_create(rec, &req, &id), 0);
	assert_true(id > 0);
	assert_int_equal(req.id, id);
	json_object_put(analysis);
	return id;
}

/* A session up to its target, committed. */
static int64_t
target_session(struct rec *rec)
{
	int64_t sid = 0;

	assert_int_equal(rec_session_begin(rec, "127.0.0.1", 4000, &sid), 0);
	assert_int_equal(rec_session_auth(rec, sid, "deploy", "ssh-ed25519",
	    "SHA256:abc", "agent-ci", "alice", 1, NULL), 0);
	assert_int_equal(rec_session_target(rec, sid, "web1", "deploy",
	    "10.0.0.5", 22), 0);
	meta(rec, sid, 0, "channel-open", "{\"type\":\"session\"}");
	return sid;
}

/* The "approval" events of a session's log, their "event" members. */
static void
expect_approval_events(struct json_object *show, const char *const *want,
    size_t n)
{
	struct json_object *log, *e, *d;
	size_t i, k = 0;

	assert_true(json_object_object_get_ex(show, "log", &log));
	for (i = 0; i < json_object_array_length(log); i++) {
		e = json_object_array_get_idx(log, i);
		if (strcmp(jstr(e, "kind"), "approval") != 0)
			continue;
		d = json_object_object_get(e, "detail");
		assert_true(k < n);
		assert_string_equal(jstr(d, "event"), want[k]);
		assert_non_null(json_object_object_get(d, "request"));
		k++;
	}
	assert_int_equal(k, n);
}

static void
test_approval_lifecycle(void **state)
{
	static const char *const events[] = { "created", "vote", "vote",
	    "finished", "created", "vote", "finished" };
	struct fixture *f = *state;
	struct rec *rec = NULL;
	struct json_object *o = NULL, *v, *votes, *reqs, *e, *d, *arr;
	int64_t sid, a, b, t, before;
	char *sql;

	assert_string_equal(rec_req_status_name(REC_REQ_PENDING), "pending");
	assert_string_equal(rec_req_status_name(REC_REQ_APPROVED),
	    "approved");
	assert_string_equal(rec_req_status_name(REC_REQ_DENIED), "denied");
	assert_string_equal(rec_req_status_name(REC_REQ_EXPIRED), "expired");
	assert_string_equal(rec_req_status_name(REC_REQ_CANCELLED),
	    "cancelled");
	assert_string_equal(rec_req_status_name(REC_REQ_USED), "used");
	assert_string_equal(rec_req_status_name((enum rec_req_status)42),
	    "unknown");

	assert_int_equal(rec_open(f->db, &rec, NULL), 0);
	sid = target_session(rec);
	/* Data still in the batch is committed with the request. */
	assert_int_equal(rec_data(rec, sid, 0, REC_IN, "x", 1), 0);
	a = make_request(rec, sid, "systemctl restart nginx", 0, 300);
	assert_int_equal(rec_pending_events(rec), 0);
	assert_int_equal(raw_int(f->db, "SELECT count(*) FROM events WHERE "
	    "kind = 'approval'"), 1);

	assert_int_equal(rec_request_get(rec, a, &o), 0);
	assert_int_equal(jint(o, "id"), a);
	assert_int_equal(jint(o, "session_id"), sid);
	assert_int_equal(jint(o, "channel"), 0);
	assert_string_equal(jstr(o, "identity"), "agent-ci");
	assert_string_equal(jstr(o, "owner"), "alice");
	assert_string_equal(jstr(o, "target"), "web1");
	assert_string_equal(jstr(o, "target_user"), "deploy");
	assert_string_equal(jstr(o, "command"), "systemctl restart nginx");
	/* printf 'systemctl restart nginx' | sha256sum */
	assert_string_equal(jstr(o, "command_sha256"), "af72e7d42dc52c5e6f1871"
	    "d2a03807f14cf40683321425bf1388c7d8952928ae");
	assert_string_equal(jstr(o, "rule"), "prod-writes");
	assert_string_equal(jstr(o, "groups"), "sre security");
	assert_int_equal(jint(o, "count"), 2);
	assert_int_equal(jint(o, "timeout"), 300);
	assert_false(json_object_get_boolean(json_object_object_get(o,
	    "deferred")));
	assert_string_equal(jstr(json_object_object_get(o, "analysis"),
	    "rule"), "prod-writes");
	assert_string_equal(jstr(o, "status"), "pending");
	assert_int_equal(jint(o, "expires_us") - jint(o, "created_us"),
	    300 * 1000000LL);
	assert_non_null(jstr(o, "created"));
	assert_true(jnull(o, "decided"));
	assert_true(jnull(o, "decided_by"));
	assert_true(jnull(o, "valid_until"));
	assert_true(jnull(o, "used_by_session"));
	assert_true(json_object_object_get_ex(o, "votes", &votes));
	assert_int_equal(json_object_array_length(votes), 0);
	json_object_put(o);
	o = NULL;
	/* The analysis is stored as JSON text the sqlite3 CLI can query. */
	sql = xasprintf("SELECT json_extract(analysis, '$.decision') = "
	    "'approve' FROM approval_requests WHERE id = %lld", (long long)a);
	assert_int_equal(raw_int(f->db, sql), 1);
	free(sql);

	/* Votes: one per approver. */
	assert_int_equal(rec_request_vote(rec, a, "bob", 1, "looks fine"), 0);
	assert_int_equal(rec_data(rec, sid, 0, REC_IN, "y", 1), 0);
	assert_int_equal(rec_request_vote(rec, a, "bob", 0, "again"),
	    BST_ERR_DENIED);
	/* The refused vote left nothing, and committed the batch. */
	assert_int_equal(rec_pending_events(rec), 0);
	assert_int_equal(raw_int(f->db, "SELECT count(*) FROM "
	    "approval_votes"), 1);
	assert_int_equal(rec_request_vote(rec, a, "carol", 1, NULL), 0);
	assert_int_equal(rec_request_vote(rec, a + 100, "carol", 1, NULL),
	    BST_ERR_NOTFOUND);
	assert_int_equal(rec_request_finish(rec, a, REC_REQ_APPROVED, "carol",
	    "2 of 2 approvals"), 0);
	/* Final: no more votes, no second decision, not "used" by finish. */
	assert_int_equal(rec_request_vote(rec, a, "dave", 0, NULL),
	    BST_ERR_DENIED);
	assert_int_equal(rec_request_finish(rec, a, REC_REQ_DENIED, "dave",
	    NULL), BST_ERR_DENIED);
	assert_int_not_equal(rec_request_finish(rec, a, REC_REQ_PENDING,
	    "x", NULL), 0);
	b = make_request(rec, sid, "rm -rf /var/cache/app", 0, 60);
	assert_int_not_equal(rec_request_finish(rec, b, REC_REQ_USED, "x",
	    NULL), 0);
	assert_int_equal(rec_request_vote(rec, b, "bob", 0, "no"), 0);
	assert_int_equal(rec_request_finish(rec, b, REC_REQ_DENIED, "bob",
	    "denied by bob: no"), 0);

	assert_int_equal(rec_request_get(rec, a, &o), 0);
	assert_string_equal(jstr(o, "status"), "approved");
	assert_string_equal(jstr(o, "decided_by"), "carol");
	assert_string_equal(jstr(o, "detail"), "2 of 2 approvals");
	assert_int_equal(jint(o, "valid_until_us") - jint(o, "decided_us"),
	    300 * 1000000LL);
	assert_true(json_object_object_get_ex(o, "votes", &votes));
	assert_int_equal(json_object_array_length(votes), 2);
	v = json_object_array_get_idx(votes, 0);
	assert_string_equal(jstr(v, "approver"), "bob");
	assert_string_equal(jstr(v, "vote"), "approve");
	assert_string_equal(jstr(v, "reason"), "looks fine");
	assert_non_null(jstr(v, "time"));
	t = jint(v, "time_us");
	assert_true(t >= jint(o, "created_us"));
	v = json_object_array_get_idx(votes, 1);
	assert_string_equal(jstr(v, "approver"), "carol");
	assert_true(jnull(v, "reason"));
	json_object_put(o);
	o = NULL;

	/* Lists: newest first, by status. */
	assert_int_equal(rec_request_list(rec, -1, &arr), 0);
	assert_int_equal(json_object_array_length(arr), 2);
	assert_int_equal(jint(json_object_array_get_idx(arr, 0), "id"), b);
	json_object_put(arr);
	assert_int_equal(rec_request_list(rec, REC_REQ_DENIED, &arr), 0);
	assert_int_equal(json_object_array_length(arr), 1);
	assert_string_equal(jstr(json_object_array_get_idx(arr, 0),
	    "command"), "rm -rf /var/cache/app");
	json_object_put(arr);
	assert_int_equal(rec_request_list(rec, REC_REQ_PENDING, &arr), 0);
	assert_int_equal(json_object_array_length(arr), 0);
	json_object_put(arr);
	assert_int_equal(rec_request_get(rec, b + 1, &o), BST_ERR_NOTFOUND);
	assert_null(o);

	/* The chain holds every change and still verifies, live and sealed. */
	expect_verify(rec, sid, 0, "not sealed");
	assert_int_equal(rec_session_end(rec, sid, "closed", NULL), 0);
	expect_verify(rec, sid, 0, NULL);
	/* A sealed session: the request changes only the tables. */
	before = raw_int(f->db, "SELECT event_count FROM sessions");
	assert_int_not_equal(rec_request_vote(rec, b, "eve", 1, NULL), 0);
	assert_int_equal(raw_int(f->db, "SELECT event_count FROM sessions"),
	    before);

	assert_int_equal(rec_show_session(rec, sid, &o), 0);
	expect_approval_events(o, events, sizeof(events) / sizeof(events[0]));
	assert_true(json_object_object_get_ex(o, "requests", &reqs));
	assert_int_equal(json_object_array_length(reqs), 2);
	e = json_object_array_get_idx(reqs, 0);
	assert_int_equal(jint(e, "id"), a);
	assert_true(json_object_object_get_ex(e, "votes", &votes));
	assert_int_equal(json_object_array_length(votes), 2);
	/* The created event carries the exact command and the analysis. */
	assert_true(json_object_object_get_ex(o, "log", &votes));
	e = NULL;
	for (t = 0; t < (int64_t)json_object_array_length(votes); t++) {
		e = json_object_array_get_idx(votes, (size_t)t);
		if (strcmp(jstr(e, "kind"), "approval") == 0)
			break;
	}
	d = json_object_object_get(e, "detail");
	assert_int_equal(jint(e, "channel"), 0);
	assert_string_equal(jstr(d, "command"), "systemctl restart nginx");
	assert_int_equal(jint(d, "count"), 2);
	assert_string_equal(jstr(json_object_object_get(d, "analysis"),
	    "decision"), "approve");
	json_object_put(o);

	/* The recorder's own kind cannot be forged through rec_meta. */
	sid = target_session(rec);
	e = jparse("{\"request\":1,\"event\":\"finished\"}");
	assert_int_not_equal(rec_meta(rec, sid, 0, "approval", e), 0);
	json_object_put(e);
	assert_int_equal(rec_session_end(rec, sid, "closed", NULL), 0);
	rec_close(rec);

	/* Tampering with a chained approval event is found. */
	raw_sql(f->db, "UPDATE events SET data = replace(data, 'nginx', "
	    "'sshd') WHERE kind = 'approval' AND session_id = 1");
	assert_int_equal(rec_open_readonly(f->db, &rec, NULL), 0);
	expect_verify(rec, 1, BST_ERR_TAMPERED, "hash mismatch");
	rec_close(rec);
}

static void
test_approval_deferred(void **state)
{
	struct fixture *f = *state;
	struct rec *rec = NULL;
	struct json_object *o = NULL, *reqs, *log, *e, *d;
	int64_t sid, sid2, a, other, id, vu, events;
	const char *cmd = "systemctl restart nginx";
	size_t i;
	int found = 0;

	assert_int_equal(rec_open(f->db, &rec, NULL), 0);
	sid = target_session(rec);
	a = make_request(rec, sid, cmd, 1, 600);
	/* The agent did not wait: its session ends; approvers vote later. */
	assert_int_equal(rec_session_end(rec, sid, "closed", NULL), 0);
	events = raw_int(f->db, "SELECT event_count FROM sessions");
	/* Not approved yet: nothing to find. */
	assert_int_equal(rec_request_find_deferred(rec, "agent-ci", "web1",
	    "deploy", cmd, now_real_us(), &id), BST_ERR_NOTFOUND);
	assert_int_equal(rec_request_vote(rec, a, "bob", 1, NULL), 0);
	assert_int_equal(rec_request_vote(rec, a, "carol", 1, NULL), 0);
	assert_int_equal(rec_request_finish(rec, a, REC_REQ_APPROVED, "carol",
	    NULL), 0);
	assert_int_equal(raw_int(f->db, "SELECT event_count FROM sessions"),
	    events);
	assert_int_equal(raw_int(f->db, "SELECT count(*) FROM events"),
	    events);
	expect_verify(rec, sid, 0, NULL);

	/* Another approved deferred request must not be confused with it. */
	sid2 = target_session(rec);
	other = make_request(rec, sid2, "systemctl restart sshd", 1, 600);
	assert_int_equal(rec_request_finish(rec, other, REC_REQ_APPROVED,
	    "bob", NULL), 0);
	assert_int_equal(rec_request_get(rec, a, &o), 0);
	vu = jint(o, "valid_until_us");
	json_object_put(o);
	o = NULL;

	/* Exact text only, and the same identity, target and user. */
	assert_int_equal(rec_request_find_deferred(rec, "agent-ci", "web1",
	    "deploy", cmd, now_real_us(), &id), 0);
	assert_int_equal(id, a);
	assert_int_equal(rec_request_find_deferred(rec, "agent-ci", "web1",
	    "deploy", "systemctl restart nginx ", now_real_us(), &id),
	    BST_ERR_NOTFOUND);
	assert_int_equal(id, 0);
	assert_int_equal(rec_request_find_deferred(rec, "agent-ci", "web1",
	    "deploy", "systemctl restart Nginx", now_real_us(), &id),
	    BST_ERR_NOTFOUND);
	assert_int_equal(rec_request_find_deferred(rec, "agent-ci", "web1",
	    "deploy", "systemctl restart nginx; id", now_real_us(), &id),
	    BST_ERR_NOTFOUND);
	assert_int_equal(rec_request_find_deferred(rec, "agent-other", "web1",
	    "deploy", cmd, now_real_us(), &id), BST_ERR_NOTFOUND);
	assert_int_equal(rec_request_find_deferred(rec, "agent-ci", "web2",
	    "deploy", cmd, now_real_us(), &id), BST_ERR_NOTFOUND);
	assert_int_equal(rec_request_find_deferred(rec, "agent-ci", "web1",
	    "root", cmd, now_real_us(), &id), BST_ERR_NOTFOUND);
	/* The window: valid up to and including valid_until. */
	assert_int_equal(rec_request_find_deferred(rec, "agent-ci", "web1",
	    "deploy", cmd, vu, &id), 0);
	assert_int_equal(rec_request_find_deferred(rec, "agent-ci", "web1",
	    "deploy", cmd, vu + 1, &id), BST_ERR_NOTFOUND);

	/* The re-run uses it, once. */
	assert_int_equal(rec_request_use(rec, a, sid2), 0);
	assert_int_equal(rec_request_use(rec, a, sid2), BST_ERR_DENIED);
	assert_int_equal(rec_request_find_deferred(rec, "agent-ci", "web1",
	    "deploy", cmd, now_real_us(), &id), BST_ERR_NOTFOUND);
	assert_int_equal(rec_request_get(rec, a, &o), 0);
	assert_string_equal(jstr(o, "status"), "used");
	assert_int_equal(jint(o, "used_by_session"), sid2);
	assert_non_null(jstr(o, "used"));
	json_object_put(o);
	o = NULL;
	/* A pending or denied request cannot be used. */
	id = make_request(rec, sid2, "reboot", 1, 600);
	assert_int_equal(rec_request_use(rec, id, sid2), BST_ERR_DENIED);
	assert_int_equal(rec_request_finish(rec, id, REC_REQ_EXPIRED,
	    "expiry", NULL), 0);
	assert_int_equal(rec_request_use(rec, id, sid2), BST_ERR_DENIED);

	assert_int_equal(rec_session_end(rec, sid2, "closed", NULL), 0);
	expect_verify(rec, sid, 0, NULL);
	expect_verify(rec, sid2, 0, NULL);
	/* The using session's chain says so; its show lists the request. */
	assert_int_equal(rec_show_session(rec, sid2, &o), 0);
	assert_true(json_object_object_get_ex(o, "log", &log));
	for (i = 0; i < json_object_array_length(log); i++) {
		e = json_object_array_get_idx(log, i);
		d = json_object_object_get(e, "detail");
		if (strcmp(jstr(e, "kind"), "approval") == 0 &&
		    strcmp(jstr(d, "event"), "used") == 0) {
			assert_int_equal(jint(d, "request"), a);
			assert_int_equal(jint(d, "session"), sid);
			assert_int_equal(strlen(jstr(d, "command_sha256")),
			    64);
			found++;
		}
	}
	assert_int_equal(found, 1);
	assert_true(json_object_object_get_ex(o, "requests", &reqs));
	assert_int_equal(json_object_array_length(reqs), 3);
	assert_int_equal(jint(json_object_array_get_idx(reqs, 0), "id"), a);
	json_object_put(o);
	rec_close(rec);
}

static void
test_approval_stale(void **state)
{
	struct fixture *f = *state;
	struct rec *rec = NULL;
	struct json_object *o = NULL;
	int64_t sid, a, b, c, events;
	int n = -1;

	assert_int_equal(rec_open(f->db, &rec, NULL), 0);
	sid = target_session(rec);
	a = make_request(rec, sid, "reboot", 0, 300);
	b = make_request(rec, sid, "shutdown -h now", 1, 300);
	c = make_request(rec, sid, "uptime", 1, 300);
	assert_int_equal(rec_request_finish(rec, c, REC_REQ_APPROVED,
	    "policy", NULL), 0);
	assert_int_equal(rec_request_vote(rec, b, "bob", 1, NULL), 0);
	/* The monitor goes away with the session open. */
	rec_close(rec);
	rec = NULL;

	assert_int_equal(rec_open(f->db, &rec, NULL), 0);
	events = raw_int(f->db, "SELECT event_count FROM sessions");
	assert_int_equal(rec_request_close_stale(rec, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(raw_int(f->db, "SELECT event_count FROM sessions"),
	    events);
	assert_int_equal(raw_int(f->db, "SELECT count(*) FROM events"),
	    events);
	assert_int_equal(rec_request_get(rec, a, &o), 0);
	assert_string_equal(jstr(o, "status"), "denied");
	assert_string_equal(jstr(o, "decided_by"), "monitor-restart");
	assert_string_equal(jstr(o, "detail"), "the bastion restarted while "
	    "the request was pending; the command did not run");
	assert_non_null(jstr(o, "decided"));
	assert_true(jnull(o, "valid_until"));
	json_object_put(o);
	assert_int_equal(rec_request_get(rec, b, &o), 0);
	assert_string_equal(jstr(o, "status"), "denied");
	json_object_put(o);
	/* Decided requests are left alone. */
	assert_int_equal(rec_request_get(rec, c, &o), 0);
	assert_string_equal(jstr(o, "status"), "approved");
	assert_string_equal(jstr(o, "decided_by"), "policy");
	json_object_put(o);
	assert_int_equal(rec_request_close_stale(rec, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(rec_show_session(rec, sid, &o), 0);
	assert_string_equal(jstr(o, "end_reason"), "monitor-restart");
	json_object_put(o);
	expect_verify(rec, sid, 0, NULL);
	rec_close(rec);
}

/* A version-1 database is upgraded in place by the writer. */
static void
test_migrate_v1(void **state)
{
	struct fixture *f = *state;
	struct rec *rec = NULL;
	struct json_object *o = NULL, *arr = NULL, *reqs;
	char *cause = NULL;
	int64_t sid, sid2, a;

	/*
	 * Version 1 is version 5 without the approval tables, seal_keys,
	 * sessions.seal_signature and policies.
	 */
	assert_int_equal(rec_open(f->db, &rec, NULL), 0);
	sid = full_session(rec, 1);
	rec_close(rec);
	rec = NULL;
	raw_sql(f->db, "DROP TABLE approval_notify; DROP TABLE "
	    "approval_votes; DROP TABLE approval_requests; "
	    "ALTER TABLE sessions DROP COLUMN seal_signature; "
	    "DROP TABLE seal_keys; DROP TABLE policies; "
	    "PRAGMA user_version = 1");
	assert_int_equal(raw_int(f->db, "SELECT count(*) FROM sqlite_master "
	    "WHERE name LIKE 'approval%'"), 0);

	/* bastionctl reads it as it is: no requests. */
	assert_int_equal(rec_open_readonly(f->db, &rec, &cause), 0);
	assert_null(cause);
	assert_int_equal(rec_request_list(rec, -1, &arr), 0);
	assert_int_equal(json_object_array_length(arr), 0);
	json_object_put(arr);
	assert_int_equal(rec_request_get(rec, 1, &o), BST_ERR_NOTFOUND);
	assert_int_equal(rec_show_session(rec, sid, &o), 0);
	assert_true(json_object_object_get_ex(o, "requests", &reqs));
	assert_int_equal(json_object_array_length(reqs), 0);
	json_object_put(o);
	o = NULL;
	expect_verify(rec, sid, 0, NULL);
	rec_close(rec);
	rec = NULL;

	/* The monitor upgrades it. */
	assert_int_equal(rec_open(f->db, &rec, &cause), 0);
	assert_null(cause);
	assert_int_equal(raw_int(f->db, "PRAGMA user_version"), 5);
	assert_int_equal(raw_int(f->db, "SELECT count(*) FROM sqlite_master "
	    "WHERE type = 'table' AND name LIKE 'approval%'"), 3);
	assert_int_equal(raw_int(f->db, "SELECT count(*) FROM sqlite_master "
	    "WHERE type = 'table' AND name = 'policies'"), 1);
	/* policy versions: inserted once, the load time and source updated */
	assert_int_equal(rec_policy_put(rec, "ab12", "{\"rules\":[]}", "/p1",
	    1000), 0);
	assert_int_equal(rec_policy_put(rec, "cd34", "{}", "/p2", 2000), 0);
	assert_int_equal(rec_policy_put(rec, "ab12", "{\"rules\":[]}", "/p3",
	    3000), 0);
	assert_int_equal(raw_int(f->db, "SELECT count(*) FROM policies"), 2);
	assert_int_equal(raw_int(f->db, "SELECT first_loaded_us FROM policies "
	    "WHERE sha256 = 'ab12' AND source = '/p3'"), 1000);
	assert_int_equal(raw_int(f->db, "SELECT last_loaded_us FROM policies "
	    "WHERE sha256 = 'ab12'"), 3000);
	assert_int_equal(raw_int(f->db, "SELECT count(*) FROM "
	    "pragma_table_info('sessions') WHERE name = 'seal_signature'"), 1);
	expect_verify(rec, sid, 0, NULL);
	sid2 = target_session(rec);
	a = make_request(rec, sid2, "uptime", 0, 30);
	assert_int_equal(rec_request_vote(rec, a, "bob", 1, NULL), 0);
	assert_int_equal(rec_session_end(rec, sid2, "closed", NULL), 0);
	expect_verify(rec, sid2, 0, NULL);
	rec_close(rec);
	rec = NULL;

	/* A newer schema than this program knows is refused. */
	raw_sql(f->db, "PRAGMA user_version = 6");
	assert_int_not_equal(rec_open(f->db, &rec, &cause), 0);
	assert_non_null(strstr(cause, "schema version 6"));
	free(cause);
	cause = NULL;
	assert_int_not_equal(rec_open_readonly(f->db, &rec, &cause), 0);
	assert_non_null(cause);
	free(cause);
	raw_sql(f->db, "PRAGMA user_version = 4");
}

/* ---- signed seals ---- */

/* Writes a new Ed25519 key to dir/name (private PEM) and dir/name.pub. */
static void
write_seal_key(const char *dir, const char *name)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	char *p = xasprintf("%s/%s", dir, name);
	char *pub = xasprintf("%s/%s.pub", dir, name);
	FILE *f;

	assert_non_null(k);
	assert_non_null(f = fopen(p, "w"));
	assert_int_equal(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL,
	    NULL), 1);
	assert_int_equal(fclose(f), 0);
	assert_non_null(f = fopen(pub, "w"));
	assert_int_equal(PEM_write_PUBKEY(f, k), 1);
	assert_int_equal(fclose(f), 0);
	EVP_PKEY_free(k);
	free(p);
	free(pub);
}

/* Verifies sid with the key at path (NULL: none); returns the flags. */
static int
verify_with(const char *db, const char *key, int64_t sid, int want,
    const char *cause_has)
{
	struct rec *ro = NULL;
	char *cause = NULL;
	int flags = 0, r;

	assert_int_equal(rec_open_readonly(db, &ro, NULL), 0);
	if (key != NULL)
		assert_int_equal(rec_set_seal_public_key(ro, key, NULL), 0);
	r = rec_verify_session(ro, sid, &flags, &cause);
	if (r != want)
		fail_msg("verify %lld: %d (%s), wanted %d", (long long)sid, r,
		    cause ? cause : "-", want);
	if (cause_has != NULL && (cause == NULL ||
	    strstr(cause, cause_has) == NULL))
		fail_msg("cause \"%s\" lacks \"%s\"", cause ? cause : "",
		    cause_has);
	free(cause);
	rec_close(ro);
	return flags;
}

static void
test_seal_signature(void **state)
{
	struct fixture *f = *state;
	struct rec *rec = NULL;
	char *key = xasprintf("%s/seal", f->dir);
	char *pub = xasprintf("%s/seal.pub", f->dir);
	char *other = xasprintf("%s/other.pub", f->dir);
	char *cause = NULL, hex[65];
	int64_t sid, forged, crashed, n;
	int is_signed = 0;

	write_seal_key(f->dir, "seal");
	write_seal_key(f->dir, "other");

	/* A wrong key file is refused, naming it. */
	assert_int_equal(rec_open_sealing(f->db, pub, &rec, &cause),
	    BST_ERR_CONFIG);
	assert_non_null(strstr(cause, pub));
	free(cause);
	cause = NULL;

	assert_int_equal(rec_open_sealing(f->db, key, &rec, &cause), 0);
	sid = full_session(rec, 1);
	assert_int_equal(rec_session_seal(rec, sid, hex, sizeof(hex), &n,
	    &is_signed), 0);
	assert_int_equal(n, 14);
	assert_true(is_signed);
	assert_int_equal(raw_int(f->db, "SELECT length(seal_signature) FROM "
	    "sessions WHERE id = 1"), 128);
	/* A session the monitor did not end (it crashed) ... */
	crashed = full_session(rec, 0);
	rec_close(rec);

	/* ... is sealed, and signed, by the next monitor. */
	assert_int_equal(rec_open_sealing(f->db, key, &rec, NULL), 0);
	rec_close(rec);
	assert_int_equal(verify_with(f->db, pub, crashed, 0, NULL),
	    REC_VERIFY_SIGNED);

	/* Checked with the public key (or the private one); not without. */
	assert_int_equal(verify_with(f->db, pub, sid, 0, NULL),
	    REC_VERIFY_SIGNED);
	assert_int_equal(verify_with(f->db, key, sid, 0, NULL),
	    REC_VERIFY_SIGNED);
	assert_int_equal(verify_with(f->db, NULL, sid, 0, NULL), 0);
	/* Another key: no match. */
	verify_with(f->db, other, sid, BST_ERR_TAMPERED, "does not match");

	/*
	 * Someone with write access but not the key writes a session the
	 * way the bastion would (the chain is consistent: it verifies
	 * without a key), or rewrites one that way.  No signature ...
	 */
	assert_int_equal(rec_open(f->db, &rec, NULL), 0);
	forged = full_session(rec, 1);
	rec_close(rec);
	assert_int_equal(verify_with(f->db, NULL, forged, 0, NULL), 0);
	verify_with(f->db, pub, forged, BST_ERR_TAMPERED, "not signed");
	/* ... and a signature taken from another session does not fit. */
	raw_sql(f->db, "UPDATE sessions SET seal_signature = (SELECT "
	    "seal_signature FROM sessions WHERE id = %lld) WHERE id = %lld",
	    (long long)sid, (long long)forged);
	verify_with(f->db, pub, forged, BST_ERR_TAMPERED, "does not match");
	/* Garbage in the column is a mismatch, not a crash. */
	raw_sql(f->db, "UPDATE sessions SET seal_signature = 'zz' WHERE "
	    "id = %lld", (long long)forged);
	verify_with(f->db, pub, forged, BST_ERR_TAMPERED, "does not match");

	unlink(key);
	unlink(pub);
	free(key);
	free(pub);
	key = xasprintf("%s/other", f->dir);
	unlink(key);
	unlink(other);
	free(key);
	free(other);
}

/*
 * A seal key put to use on a database with sessions: those before it
 * pass unsigned; its seal_keys row (signed by the key) says where it
 * starts, and editing or removing that row cannot move the start.
 */
static void
test_seal_key_start(void **state)
{
	struct fixture *f = *state;
	struct rec *rec = NULL;
	char *key = xasprintf("%s/seal", f->dir);
	char *pub = xasprintf("%s/seal.pub", f->dir);
	int64_t a, b;

	write_seal_key(f->dir, "seal");
	assert_int_equal(rec_open(f->db, &rec, NULL), 0);
	a = full_session(rec, 1);
	rec_close(rec);
	assert_int_equal(rec_open_sealing(f->db, key, &rec, NULL), 0);
	b = full_session(rec, 1);
	rec_close(rec);
	assert_int_equal(raw_int(f->db, "SELECT first_session FROM "
	    "seal_keys"), b);
	assert_int_equal(verify_with(f->db, pub, a, 0, NULL),
	    REC_VERIFY_BEFORE_KEY);
	assert_int_equal(verify_with(f->db, pub, b, 0, NULL),
	    REC_VERIFY_SIGNED);

	/* Row removed: every session must be signed ... */
	raw_sql(f->db, "DELETE FROM seal_keys");
	verify_with(f->db, pub, a, BST_ERR_TAMPERED, "not signed");
	assert_int_equal(verify_with(f->db, pub, b, 0, NULL),
	    REC_VERIFY_SIGNED);
	/* ... until the monitor puts it back where the signatures start. */
	assert_int_equal(rec_open_sealing(f->db, key, &rec, NULL), 0);
	rec_close(rec);
	assert_int_equal(raw_int(f->db, "SELECT first_session FROM "
	    "seal_keys"), b);
	assert_int_equal(verify_with(f->db, pub, a, 0, NULL),
	    REC_VERIFY_BEFORE_KEY);

	/* Moved by hand: its signature no longer fits; nothing is exempt. */
	raw_sql(f->db, "UPDATE seal_keys SET first_session = 100");
	verify_with(f->db, pub, a, BST_ERR_TAMPERED, "not signed");
	assert_int_equal(rec_open_sealing(f->db, key, &rec, NULL), 0);
	rec_close(rec);
	assert_int_equal(raw_int(f->db, "SELECT first_session FROM "
	    "seal_keys"), 100);
	verify_with(f->db, pub, a, BST_ERR_TAMPERED, "not signed");

	unlink(key);
	unlink(pub);
	free(key);
	free(pub);
}

/* Session ids a search finds, newest first, as a string "3 1". */
static char *
search_ids(struct rec *rec, const struct rec_filter *f)
{
	struct json_object *arr = NULL, *v;
	char buf[256] = "";
	size_t i, n;

	assert_int_equal(rec_search_sessions(rec, f, &arr), 0);
	n = json_object_array_length(arr);
	for (i = 0; i < n; i++) {
		assert_true(json_object_object_get_ex(
		    json_object_array_get_idx(arr, i), "id", &v));
		snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s%d",
		    i ? " " : "", json_object_get_int(v));
	}
	json_object_put(arr);
	return xstrdup(buf);
}

static void
expect_grep(struct rec *rec, const char *needle, int limit, const char *want)
{
	struct rec_filter f;
	char *got;

	memset(&f, 0, sizeof(f));
	f.grep = needle;
	f.grep_len = strlen(needle);
	f.limit = limit;
	got = search_ids(rec, &f);
	if (strcmp(got, want) != 0)
		fail_msg("grep \"%s\": sessions \"%s\", wanted \"%s\"", needle,
		    got, want);
	free(got);
}

static void
test_search_grep(void **state)
{
	struct fixture *f = *state;
	struct rec *rec = NULL;
	struct rec_filter flt;
	char *got;
	int64_t a, b;

	assert_int_equal(rec_open(f->db, &rec, NULL), 0);
	/* a: "hello wor" + "ld" on channel 0's stdout, "xyz" on stderr */
	assert_int_equal(rec_session_begin(rec, "127.0.0.1", 1, &a), 0);
	assert_int_equal(rec_data(rec, a, 0, REC_OUT, "hello wor", 9), 0);
	assert_int_equal(rec_data(rec, a, 0, REC_ERR, "xyz", 3), 0);
	assert_int_equal(rec_data(rec, a, 0, REC_OUT, "ld", 2), 0);
	assert_int_equal(rec_data(rec, a, 0, REC_OUT, "!", 1), 0);
	assert_int_equal(rec_session_end(rec, a, "closed", NULL), 0);
	/* b: "ab" on channel 0, "cd" on channel 1; "pass" typed in */
	assert_int_equal(rec_session_begin(rec, "127.0.0.1", 2, &b), 0);
	assert_int_equal(rec_data(rec, b, 0, REC_OUT, "ab", 2), 0);
	assert_int_equal(rec_data(rec, b, 1, REC_OUT, "cd", 2), 0);
	assert_int_equal(rec_data(rec, b, 1, REC_IN, "pa", 2), 0);
	assert_int_equal(rec_data(rec, b, 1, REC_IN, "ss", 2), 0);
	assert_int_equal(rec_session_end(rec, b, "closed", NULL), 0);
	rec_close(rec);
	assert_int_equal(rec_open_readonly(f->db, &rec, NULL), 0);

	expect_grep(rec, "hello", 0, "1");
	/* across chunks of one stream, even three of them */
	expect_grep(rec, "world", 0, "1");
	expect_grep(rec, "rld!", 0, "1");
	expect_grep(rec, "o world!", 0, "1");
	/* ... but not across streams or channels */
	expect_grep(rec, "worxyz", 0, "");
	expect_grep(rec, "bc", 0, "");
	expect_grep(rec, "pass", 0, "2");
	expect_grep(rec, "d", 0, "2 1");
	expect_grep(rec, "d", 1, "2");
	expect_grep(rec, "nowhere", 0, "");
	/* combined with another filter */
	memset(&flt, 0, sizeof(flt));
	flt.grep = "d";
	flt.grep_len = 1;
	flt.until_us = 1;
	got = search_ids(rec, &flt);
	assert_string_equal(got, "");
	free(got);
	rec_close(rec);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_lifecycle, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_channels_more, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_tamper, setup, teardown),
		cmocka_unit_test_setup_teardown(test_live_session, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_crash_recovery, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_crash_broken_chain, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_foreach, setup, teardown),
		cmocka_unit_test_setup_teardown(test_large_blob, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_readonly, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_disk_full, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_approval_lifecycle, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_approval_deferred, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_approval_stale, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_migrate_v1, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_seal_signature, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_seal_key_start, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_search_grep, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_checkpointer, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_checkpointer_handshake,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_bench, setup, teardown),
	};

	log_init("test_recorder", LOG_LVL_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
