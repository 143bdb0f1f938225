/*
 * test_sandbox.c: the worker sandbox outside SSH.
 *
 * - sandbox_enter() in a forked child: allowed syscalls work, reads of
 *   files fail with EACCES, a forbidden syscall kills the child with
 *   SIGSYS, root is refused.
 * - docs/SECURITY.md lists exactly the allowlist in session/sandbox.c.
 * - kmsg_parse_seccomp() reads the kernel's seccomp record.
 * - wlog_feed() forwards worker stderr lines safely.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "bastion/kmsg.h"
#include "bastion/worker_log.h"
#include "session/sandbox.h"

static char empty_dir[] = "/tmp/bastion-sandbox-test.XXXXXX";

/* Runs fn in a sandboxed child; returns its wait status. */
static int
in_sandbox(int (*fn)(void))
{
	struct sandbox_params p = { 0, 65534, 65534, empty_dir };
	char *cause = NULL;
	int status;
	pid_t pid;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (sandbox_enter(&p, &cause) != 0) {
			fprintf(stderr, "sandbox_enter: %s\n", cause);
			_exit(100);
		}
		_exit(fn());
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static int
allowed_things(void)
{
	char buf[64];
	void *p;

	/* memory, time, randomness, pid (not even getuid is allowed) */
	p = malloc(8 << 20);
	if (p == NULL)
		return 1;
	memset(p, 1, 8 << 20);
	free(p);
	if (getrandom(buf, sizeof(buf), 0) != sizeof(buf))
		return 2;
	if (getpid() <= 0)
		return 3;
	if (time(NULL) == (time_t)-1)
		return 4;
	return 0;
}

static int
read_open_fails_softly(void)
{
	int fd = open("/etc/hostname", O_RDONLY);

	return fd < 0 && errno == EACCES ? 0 : 1;
}

static int
try_socket(void)
{
	(void)socket(AF_INET, SOCK_STREAM, 0);
	return 0;
}

static int
try_write_open(void)
{
	(void)open("/tmp/should-not-exist", O_WRONLY | O_CREAT, 0600);
	return 0;
}

static int
try_exec_mmap(void)
{
	(void)mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE |
	    MAP_ANONYMOUS, -1, 0);
	return 0;
}

static int
try_geteuid(void)
{
	(void)geteuid();
	return 0;
}

static void
test_allowed(void **state)
{
	int st;

	(void)state;
	if (geteuid() != 0)
		skip();
	st = in_sandbox(allowed_things);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	st = in_sandbox(read_open_fails_softly);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static void
test_forbidden_kills(void **state)
{
	/* even harmless calls the worker does not need kill: geteuid */
	int (*fns[])(void) = { try_socket, try_write_open, try_exec_mmap,
	    try_geteuid };
	size_t i;
	int st;

	(void)state;
	if (geteuid() != 0)
		skip();
	for (i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
		st = in_sandbox(fns[i]);
		assert_true(WIFSIGNALED(st));
		assert_int_equal(WTERMSIG(st), SIGSYS);
	}
}

static void
test_root_refused(void **state)
{
	struct sandbox_params p = { 0, 0, 0, empty_dir };
	char *cause = NULL;
	int st;
	pid_t pid;

	(void)state;
	if (geteuid() != 0)
		skip();
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(sandbox_enter(&p, &cause) == 0 ? 0 : 9);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 9);
}

/* Every allowlisted syscall is a row of the docs table and vice versa. */
static void
test_docs_list_the_allowlist(void **state)
{
	FILE *f = fopen("docs/SECURITY.md", "r");
	char line[1024], name[64];
	const struct sandbox_syscall *s;
	int in_table = 0, rows = 0, n;

	(void)state;
	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strstr(line, "<!-- sandbox-allowlist -->") != NULL) {
			in_table = 1;
			continue;
		}
		if (in_table && line[0] != '|' && rows > 0)
			break;
		if (!in_table || sscanf(line, "| `%63[a-z_0-9]` |", name) != 1)
			continue;
		rows++;
		for (s = sandbox_syscalls; s->name != NULL; s++)
			if (strcmp(s->name, name) == 0)
				break;
		if (s->name == NULL)
			fail_msg("docs/SECURITY.md lists %s, not allowed", name);
	}
	fclose(f);
	for (n = 0, s = sandbox_syscalls; s->name != NULL; s++)
		n++;
	assert_int_equal(rows, n);
}

static void
test_kmsg_parse(void **state)
{
	const char *rec = "5,1234,9324673863,-;audit: type=1326 "
	    "audit(1795316274.954:2): auid=4294967295 uid=65534 gid=65534 "
	    "ses=4294967295 pid=3242 comm=\"bastion-session\" exe=\"/x\" "
	    "sig=31 arch=c000003e syscall=41 compat=0 ip=0x7f code=0x80000000";
	const char *other = "6,99,1,-;audit: type=1400 pid=3242 syscall=41";
	const char *ppid = "5,1,1,-;audit: type=1326 ppid=3242 syscall=41";

	(void)state;
	assert_int_equal(kmsg_parse_seccomp(rec, strlen(rec), 3242), 41);
	assert_int_equal(kmsg_parse_seccomp(rec, strlen(rec), 3243), -1);
	assert_int_equal(kmsg_parse_seccomp(other, strlen(other), 3242), -1);
	assert_int_equal(kmsg_parse_seccomp(ppid, strlen(ppid), 3242), -1);
	assert_int_equal(kmsg_parse_seccomp(rec, 20, 3242), -1);
	assert_int_equal(kmsg_parse_seccomp("", 0, 1), -1);
	assert_string_equal(kmsg_syscall_name(41), "socket");
	assert_null(kmsg_syscall_name(-1));
}

struct lines {
	char	*v[8];
	int	 n;
};

static void
collect(const char *line, void *arg)
{
	struct lines *l = arg;

	if (l->n < 8)
		l->v[l->n++] = strdup(line);
}

static void
test_wlog(void **state)
{
	struct wlog w;
	struct lines l = { { NULL }, 0 };
	char big[5000];
	int i;

	(void)state;
	wlog_init(&w, -1);
	wlog_feed(&w, "one\ntw", 6, collect, &l);
	wlog_feed(&w, "o\x1b[31m\n", 7, collect, &l);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.v[0], "one");
	assert_string_equal(l.v[1], "two?[31m");
	memset(big, 'x', sizeof(big));
	big[sizeof(big) - 1] = '\n';
	wlog_feed(&w, big, sizeof(big), collect, &l);
	wlog_feed(&w, "tail", 4, collect, &l);
	wlog_flush(&w, collect, &l);
	assert_int_equal(l.n, 4);
	assert_int_equal(strlen(l.v[2]), WLOG_LINE_MAX - 1);
	assert_string_equal(l.v[3], "tail");
	for (i = 0; i < l.n; i++)
		free(l.v[i]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_allowed),
		cmocka_unit_test(test_forbidden_kills),
		cmocka_unit_test(test_root_refused),
		cmocka_unit_test(test_docs_list_the_allowlist),
		cmocka_unit_test(test_kmsg_parse),
		cmocka_unit_test(test_wlog),
	};
	int r;

	if (mkdtemp(empty_dir) == NULL)
		return 1;
	chmod(empty_dir, 0555);
	r = cmocka_run_group_tests(tests, NULL, NULL);
	rmdir(empty_dir);
	return r;
}
