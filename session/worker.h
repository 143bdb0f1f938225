/*
 * worker.h: one agent connection, from key exchange to the end of the
 * session.  Runs in the unprivileged worker process; everything it may
 * not decide itself goes through monitor_wrap.h.
 */
#ifndef BST_WORKER_H
#define BST_WORKER_H

#include "session/monitor_wrap.h"

/* Serves the agent on client_fd until the session ends.  Returns the
 * process exit status (0 for a session that ended in an orderly way). */
int worker_run(int client_fd, struct mm_init *init);

#endif
