/*
 * sandbox.c: demotion of a session worker (see sandbox.h).
 *
 * The worker parses untrusted SSH from the agent and untrusted output from
 * the target.  After sandbox_enter() a compromised worker can still use
 * the descriptors it holds (its agent socket, its monitor socketpair and,
 * once passed, its own target connection) and nothing else: no files, no
 * new sockets, no processes, no privileges.
 *
 * Trusts: its caller and the parameters the monitor sent.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <seccomp.h>

#include "common/log.h"
#include "common/proto.h"
#include "common/util.h"
#include "session/sandbox.h"

/* Descriptors: 0-2, agent, monitor, target connection, and slack. */
#define SANDBOX_NOFILE	8

/*
 * The allowlist.  Every entry is needed by the relay loop, libssh 0.10,
 * OpenSSL 3 or glibc 2.36 as the worker uses them; docs/SECURITY.md
 * repeats this list with the same reasons (a unit test keeps them equal).
 */
const struct sandbox_syscall sandbox_syscalls[] = {
	{ "read",		"monitor frames at start-up; libssh reads non-socket fds with read()" },
	{ "write",		"log lines to the stderr pipe" },
	{ "recvfrom",		"libssh reads its sockets with recv()" },
	{ "sendto",		"libssh writes its sockets with send()" },
	{ "recvmsg",		"monitor frames, and the target connection over SCM_RIGHTS" },
	{ "sendmsg",		"monitor frames" },
	{ "poll",		"the event loop (ssh_event_dopoll) and waits for the monitor" },
	{ "close",		"closing channels' and sessions' descriptors" },
	{ "fcntl",		"libssh sets O_NONBLOCK on the passed sockets" },
	{ "setsockopt",		"TCP_NODELAY, SO_KEEPALIVE, TCP_QUICKACK on the passed sockets" },
	{ "getsockopt",		"libssh checks a connected socket (SO_ERROR)" },
	{ "getpeername",	"libssh asks a socket's peer address" },
	{ "getsockname",	"libssh asks a socket's local address" },
	{ "shutdown",		"a refused agent's connection is half-closed so that the reason reaches it" },
	{ "brk",		"malloc" },
	{ "mmap",		"malloc of large blocks (never PROT_EXEC)" },
	{ "munmap",		"free of large blocks" },
	{ "mremap",		"realloc of large blocks" },
	{ "mprotect",		"malloc (never PROT_EXEC)" },
	{ "futex",		"glibc and OpenSSL locks" },
	{ "getrandom",		"key exchange randomness (OpenSSL, libssh)" },
	{ "getpid",		"OpenSSL's fork detection in RAND_bytes, and abort()" },
	{ "clock_gettime",	"timeouts, keepalives (when the vDSO cannot answer)" },
	{ "gettimeofday",	"libssh timestamps (when the vDSO cannot answer)" },
	{ "time",		"log timestamps (when the vDSO cannot answer)" },
	{ "nanosleep",		"libssh's short waits" },
	{ "clock_nanosleep",	"glibc implements nanosleep() with it" },
	{ "rt_sigprocmask",	"abort() unblocks SIGABRT: a failed assert is a crash, not a violation" },
	{ "rt_sigreturn",	"return from a signal handler (sanitizer builds install some)" },
	{ "restart_syscall",	"a poll interrupted by a stop signal resumes" },
	{ "exit_group",		"the worker exits" },
	{ NULL, NULL }
};

/*
 * Sanitizer (ASan/UBSan) builds only: their runtime returns memory with
 * madvise, reads limits and sets up signal stacks.  Release builds do not
 * allow these.
 */
#if defined(__SANITIZE_ADDRESS__)
static const char *const sanitizer_syscalls[] = {
	"madvise", "prlimit64", "getrlimit", "sigaltstack", "rt_sigaction",
	"sched_yield", "gettid", NULL
};
#endif

static int
rule(scmp_filter_ctx ctx, uint32_t action, const char *name,
    unsigned int n, const struct scmp_arg_cmp *cmp, char **cause)
{
	int nr = seccomp_syscall_resolve_name(name), r;

	if (nr == __NR_SCMP_ERROR) {
		*cause = xasprintf("seccomp: unknown syscall %s", name);
		return -1;
	}
	if ((r = seccomp_rule_add_array(ctx, action, nr, n, cmp)) < 0) {
		*cause = xasprintf("seccomp: rule for %s: %s", name,
		    strerror(-r));
		return -1;
	}
	return 0;
}

/* Probes of files fail with EACCES (there are none in the chroot). */
static const char *const soft_eacces[] = {
	"newfstatat", "statx", "stat", "lstat", "access", "faccessat",
	"faccessat2", NULL
};

/* A rule that only makes a call fail: skipped where the arch lacks it. */
static int
soft_rule(scmp_filter_ctx ctx, uint32_t action, const char *name,
    unsigned int n, const struct scmp_arg_cmp *cmp, char **cause)
{
	if (seccomp_syscall_resolve_name(name) == __NR_SCMP_ERROR)
		return 0;	/* e.g. no "stat" or "open" on arm64 */
	return rule(ctx, action, name, n, cmp, cause);
}

static int
load_filter(char **cause)
{
	/* Opens for reading fail softly: libssh reads known_hosts on rekey. */
	const struct scmp_arg_cmp open_ro[] = {
		SCMP_A1(SCMP_CMP_MASKED_EQ, O_ACCMODE | O_CREAT | O_TRUNC |
		    O_APPEND | (O_TMPFILE & ~O_DIRECTORY), O_RDONLY)
	};
	const struct scmp_arg_cmp openat_ro[] = {
		SCMP_A2(SCMP_CMP_MASKED_EQ, O_ACCMODE | O_CREAT | O_TRUNC |
		    O_APPEND | (O_TMPFILE & ~O_DIRECTORY), O_RDONLY)
	};
	const struct scmp_arg_cmp no_exec[] = {
		SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0)
	};
	const struct scmp_arg_cmp own_pid[] = {
		SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid())
	};
	const struct sandbox_syscall *s;
	scmp_filter_ctx ctx;
	int r = -1, i;

	if ((ctx = seccomp_init(SCMP_ACT_KILL_PROCESS)) == NULL) {
		*cause = xstrdup("seccomp_init failed");
		return -1;
	}
	/* A binary tree of syscall numbers: the hot ones stay cheap. */
	(void)seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
	for (s = sandbox_syscalls; s->name != NULL; s++) {
		if (strcmp(s->name, "mmap") == 0 ||
		    strcmp(s->name, "mprotect") == 0) {
			if (rule(ctx, SCMP_ACT_ALLOW, s->name, 1, no_exec,
			    cause) != 0)
				goto out;
		} else if (rule(ctx, SCMP_ACT_ALLOW, s->name, 0, NULL,
		    cause) != 0)
			goto out;
	}
#if defined(__SANITIZE_ADDRESS__)
	for (i = 0; sanitizer_syscalls[i] != NULL; i++)
		if (rule(ctx, SCMP_ACT_ALLOW, sanitizer_syscalls[i], 0, NULL,
		    cause) != 0)
			goto out;
#endif
	for (i = 0; soft_eacces[i] != NULL; i++)
		if (soft_rule(ctx, SCMP_ACT_ERRNO(EACCES), soft_eacces[i], 0,
		    NULL, cause) != 0)
			goto out;
	if (soft_rule(ctx, SCMP_ACT_ERRNO(EACCES), "open", 1, open_ro,
	    cause) != 0 ||
	    soft_rule(ctx, SCMP_ACT_ERRNO(EACCES), "openat", 1, openat_ro,
	    cause) != 0 ||
	    /* glibc tries clone3 first and falls back only on ENOSYS */
	    soft_rule(ctx, SCMP_ACT_ERRNO(ENOSYS), "clone3", 0, NULL,
	    cause) != 0 ||
	    /* abort() signals itself, and nothing else */
	    rule(ctx, SCMP_ACT_ALLOW, "tgkill", 1, own_pid, cause) != 0)
		goto out;
	if ((r = seccomp_load(ctx)) < 0) {
		*cause = xasprintf("seccomp_load: %s", strerror(-r));
		r = -1;
		goto out;
	}
	r = 0;
 out:
	seccomp_release(ctx);
	return r;
}

static int
set_limit(int resource, rlim_t v, const char *name, char **cause)
{
	struct rlimit rl = { v, v };

	if (setrlimit(resource, &rl) == 0)
		return 0;
	*cause = xasprintf("setrlimit %s: %s", name, strerror(errno));
	return -1;
}

static int
drop_privileges(const struct sandbox_params *p, char **cause)
{
	uid_t uid = (uid_t)p->uid;
	gid_t gid = (gid_t)p->gid;

	if (uid == 0 || gid == 0) {
		*cause = xstrdup("refusing to run a session as root");
		return -1;
	}
	if (chroot(p->chroot) != 0 || chdir("/") != 0) {
		*cause = xasprintf("chroot %s: %s", p->chroot,
		    strerror(errno));
		return -1;
	}
	if (setgroups(0, NULL) != 0 || setresgid(gid, gid, gid) != 0 ||
	    setresuid(uid, uid, uid) != 0) {
		*cause = xasprintf("cannot become uid %u gid %u: %s",
		    p->uid, p->gid, strerror(errno));
		return -1;
	}
	if (setuid(0) != -1 || geteuid() != uid || getegid() != gid) {
		*cause = xstrdup("privileges could be regained");
		return -1;
	}
	return 0;
}

int
sandbox_enter(const struct sandbox_params *p, char **cause)
{
	*cause = NULL;
	if (p->off) {
		log_warn("SANDBOX DISABLED (sandbox.mode \"none\", for tests "
		    "only): this session runs as uid %u without seccomp",
		    (unsigned int)geteuid());
		return 0;
	}
	/* No core dumps and no ptrace by other processes of the same uid. */
	if (prctl(PR_SET_DUMPABLE, 0) != 0) {
		*cause = xasprintf("PR_SET_DUMPABLE: %s", strerror(errno));
		return -1;
	}
	closefrom(PROTO_FD_MONITOR + 1);
	if (geteuid() == 0) {
		if (drop_privileges(p, cause) != 0)
			return -1;
	} else
		log_warn("not started as root: no chroot and no user change "
		    "(running as uid %u); seccomp still applies",
		    (unsigned int)geteuid());
	if (set_limit(RLIMIT_FSIZE, 0, "FSIZE", cause) != 0 ||
	    set_limit(RLIMIT_NPROC, 0, "NPROC", cause) != 0 ||
	    set_limit(RLIMIT_CORE, 0, "CORE", cause) != 0 ||
	    set_limit(RLIMIT_NOFILE, SANDBOX_NOFILE, "NOFILE", cause) != 0)
		return -1;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		*cause = xasprintf("PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
		return -1;
	}
	return load_filter(cause);
}

#ifdef BASTION_TEST_HOOKS
const char *
sandbox_probe(const char *what)
{
	static char buf[128];
	int fd, r;

	errno = 0;
	if (strcmp(what, "open-read") == 0) {
		fd = open("/etc/passwd", O_RDONLY);
		snprintf(buf, sizeof(buf), "open for reading: %s",
		    fd < 0 ? strerror(errno) : "opened");
		return buf;
	}
	if (strcmp(what, "log-flood") == 0) {
		/* 5 MiB of log lines: the monitor keeps 4 MiB at most */
		char line[1024];
		int i;

		memset(line, 'x', sizeof(line) - 1);
		line[sizeof(line) - 1] = '\n';
		for (i = 0; i < 5 * 1024; i++)
			if (write(STDERR_FILENO, line, sizeof(line)) < 0)
				break;
		return "flooded";
	}
	if (strcmp(what, "open-write") == 0)
		r = open("/tmp/bastion-sandbox-probe", O_WRONLY | O_CREAT,
		    0600);
	else if (strcmp(what, "socket") == 0)
		r = socket(AF_INET, SOCK_STREAM, 0);
	else if (strcmp(what, "execve") == 0)
		r = execl("/bin/sh", "sh", "-c", "true", (char *)NULL);
	else if (strcmp(what, "ptrace") == 0)
		r = (int)ptrace(PTRACE_TRACEME, 0, NULL, NULL);
	else if (strcmp(what, "fork") == 0)
		r = (int)fork();
	else if (strcmp(what, "kill") == 0)
		r = kill(1, SIGTERM);
	else
		return "unknown probe";
	snprintf(buf, sizeof(buf), "%s was not stopped (returned %d: %s)",
	    what, r, strerror(errno));
	return buf;
}
#else
const char *
sandbox_probe(const char *what)
{
	(void)what;
	return "probes exist only in test builds";
}
#endif
