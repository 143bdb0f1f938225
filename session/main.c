/*
 * main.c: entry point of build/bastion-session, the per-connection worker.
 *
 * Exec'd by the monitor with the agent's socket on fd 3 and the monitor
 * socketpair on fd 4 (common/proto.h).  Trusts the monitor; trusts
 * nothing that arrives on fd 3.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "common/err.h"
#include "common/log.h"
#include "common/proctitle.h"
#include "common/proto.h"
#include "session/monitor_wrap.h"
#include "session/worker.h"

int
main(int argc, char **argv)
{
	struct mm_init init;
	char tag[64];
	int r, debug = 0, ch;
#if defined(__SANITIZE_ADDRESS__)
	int init_sandbox_off;
#endif

	while ((ch = getopt(argc, argv, "d")) != -1)
		if (ch == 'd')
			debug = 1;
	log_init("bastion-session", debug ? LOG_LVL_DEBUG : LOG_LVL_INFO);
	signal(SIGPIPE, SIG_IGN);
	tzset();
	/* Before the sandbox: OpenSSL reads its configuration file now. */
	OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CONFIG, NULL);
	if ((r = mm_open(PROTO_FD_MONITOR, &init)) != 0) {
		log_error("no session from the monitor: %s", bst_strerror(r));
		return 1;
	}
	snprintf(tag, sizeof(tag), "session %llu",
	    (unsigned long long)init.sid);
	log_set_tag(tag);
	proctitle_init(argc, argv);
	proctitle_set("bastion: session %llu [pre-auth] %s",
	    (unsigned long long)init.sid, init.client);
#if defined(__SANITIZE_ADDRESS__)
	init_sandbox_off = init.sandbox_off;
#endif
	r = worker_run(PROTO_FD_CLIENT, &init);
	mm_init_free(&init);
#if defined(__SANITIZE_ADDRESS__)
	/*
	 * LeakSanitizer's exit check needs /proc and ptrace, which the
	 * sandbox (chroot, seccomp) rightly refuses: it would kill the worker
	 * with SIGSYS.  Sanitizer builds skip it for sandboxed workers; their
	 * memory errors are still reported as they happen.
	 */
	if (!init_sandbox_off)
		_exit(r);
#endif
	return r;
}
