/*
 * kmsg.c: finds the kernel's record of a seccomp kill (see kmsg.h).
 * Trusts the kernel log; parses it defensively all the same.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <seccomp.h>

#include "bastion/kmsg.h"

int
kmsg_open(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd >= 0 && lseek(fd, 0, SEEK_END) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The decimal value after " key=" in rec, or -1. */
static long
field(const char *rec, size_t n, const char *key)
{
	size_t klen = strlen(key), i;
	long v;

	for (i = 0; i + klen < n; i++) {
		if ((i > 0 && rec[i - 1] != ' ') ||
		    memcmp(rec + i, key, klen) != 0)
			continue;
		i += klen;
		if (i >= n || rec[i] < '0' || rec[i] > '9')
			return -1;
		for (v = 0; i < n && rec[i] >= '0' && rec[i] <= '9'; i++) {
			if (v > 100000000)
				return -1;
			v = v * 10 + (rec[i] - '0');
		}
		return v;
	}
	return -1;
}

long
kmsg_parse_seccomp(const char *rec, size_t n, pid_t pid)
{
	static const char tag[] = "type=1326";
	size_t i;
	int found = 0;

	for (i = 0; i + sizeof(tag) - 1 <= n; i++)
		if (memcmp(rec + i, tag, sizeof(tag) - 1) == 0) {
			found = 1;
			break;
		}
	if (!found || field(rec, n, "pid=") != (long)pid)
		return -1;
	return field(rec, n, "syscall=");
}

long
kmsg_seccomp_kill(int fd, pid_t pid)
{
	char rec[8192];
	ssize_t n;
	long nr = -1, v;
	int i;

	if (fd < 0)
		return -1;
	for (i = 0; i < 10000; i++) {
		n = read(fd, rec, sizeof(rec));
		if (n < 0 && (errno == EPIPE || errno == EINTR))
			continue;	/* records were overwritten: go on */
		if (n <= 0)
			break;
		if ((v = kmsg_parse_seccomp(rec, (size_t)n, pid)) >= 0)
			nr = v;
	}
	return nr;
}

const char *
kmsg_syscall_name(long nr)
{
	static char name[64];
	char *s;

	if (nr < 0 || (s = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE,
	    (int)nr)) == NULL)
		return NULL;
	strncpy(name, s, sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	free(s);
	return name;
}
