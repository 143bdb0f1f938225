/*
 * kmsg.h: which syscall the seccomp filter killed a worker for.
 *
 * SCMP_ACT_KILL_PROCESS leaves the parent only the signal (SIGSYS); the
 * kernel writes the syscall number to its log ("audit: type=1326 ...
 * pid=N ... syscall=K").  When the monitor runs as root it reads
 * /dev/kmsg to name the syscall in the session's record.  Best effort:
 * the kernel may rate-limit these lines.
 *
 * Trusts: the kernel log (only root and the kernel write it).
 */
#ifndef BST_KMSG_H
#define BST_KMSG_H

#include <stddef.h>
#include <sys/types.h>

/* Opens /dev/kmsg positioned at its end; -1 if unavailable. */
int kmsg_open(void);
/*
 * Reads the records logged since the last call; returns the syscall
 * number of a seccomp kill of pid, or -1.
 */
long kmsg_seccomp_kill(int fd, pid_t pid);
/* Pure: the syscall number if rec (n bytes) is a seccomp kill of pid. */
long kmsg_parse_seccomp(const char *rec, size_t n, pid_t pid);
/* "socket", or NULL when unknown. */
const char *kmsg_syscall_name(long nr);

#endif
