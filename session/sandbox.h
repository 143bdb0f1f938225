/*
 * sandbox.h: the demotion of a session worker, in one call.
 *
 * sandbox_enter() is called once, after the worker has its host key and
 * its two descriptors (agent socket, monitor socketpair) and before it
 * reads a byte from the agent.  In this order it: makes the process
 * non-dumpable, closes every descriptor above the monitor's, chroots to
 * an empty root-owned folder, drops to an unprivileged uid/gid with no
 * supplementary groups (and checks it cannot get root back), sets
 * rlimits (no file creation, no new processes, few descriptors, no core),
 * sets no_new_privs and loads a default-deny seccomp filter
 * (SCMP_ACT_KILL_PROCESS) that allows only the syscalls the relay needs.
 * docs/SECURITY.md lists every allowed syscall with its reason.
 *
 * Trusts: its caller and the parameters the monitor sent.
 */
#ifndef BST_SANDBOX_H
#define BST_SANDBOX_H

struct sandbox_params {
	int		 off;		/* null sandbox: tests only, logged loudly */
	unsigned int	 uid, gid;	/* never 0 */
	const char	*chroot;	/* empty folder, owned by root */
};

/* The unconditional allowlist, NULL-terminated (docs/SECURITY.md). */
struct sandbox_syscall {
	const char	*name;
	const char	*why;
};
extern const struct sandbox_syscall sandbox_syscalls[];

/* 0 on success; -1 with *cause (malloc'd): the worker must not go on. */
int sandbox_enter(const struct sandbox_params *p, char **cause);

/*
 * Test builds only (BASTION_TEST_HOOKS): attempts the forbidden action
 * named ("open-write", "socket", "execve", "ptrace", "fork", ...) from
 * inside the sandbox.  Returns only if the action was not stopped, with
 * a description of what happened.
 */
const char *sandbox_probe(const char *what);

#endif
