/*
 * checkpoint.c: WAL checkpointer process (see checkpoint.h).  Trusts the
 * database path it is given; touches nothing but that database.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <sqlite3.h>

#include "common/log.h"
#include "common/proctitle.h"
#include "common/util.h"
#include "recorder/checkpoint.h"

#define CKPT_INTERVAL_MS	250
/* WAL frames (32 KiB pages) beyond which the checkpointer resets the WAL. */
#define CKPT_RESTART_FRAMES	1024

static void
checkpointer_main(const char *path, int pfd)
{
	struct pollfd p;
	sqlite3 *db = NULL;
	int r, nlog = 0, nckpt = 0;

	log_set_tag("bastion-checkpoint");
	(void)prctl(PR_SET_NAME, "bastion-ckpt");
	proctitle_set("bastion: checkpointer %s", path);
	(void)prctl(PR_SET_PDEATHSIG, SIGTERM);
	for (;;) {
		p.fd = pfd;
		p.events = POLLIN;
		r = poll(&p, 1, CKPT_INTERVAL_MS);
		if (r > 0)
			break;	/* the monitor closed its end: done */
		if (r < 0 && errno != EINTR)
			break;
		if (db == NULL) {
			if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE,
			    NULL) != SQLITE_OK) {
				sqlite3_close(db);
				db = NULL;
				continue;	/* not created yet */
			}
			sqlite3_busy_timeout(db, 1000);
			sqlite3_exec(db, "PRAGMA synchronous = NORMAL", NULL,
			    NULL, NULL);
		}
		r = sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE,
		    &nlog, &nckpt);
		if (r != SQLITE_OK && r != SQLITE_BUSY && r != SQLITE_LOCKED)
			log_warn("checkpoint of %s: %s", path,
			    sqlite3_errmsg(db));
		/*
		 * Under steady writes a passive checkpoint never catches up,
		 * so the WAL would only grow.  When it is large, finish with a
		 * RESTART: it holds the writer back only for the frames
		 * appended since the passive pass, and the monitor's next
		 * commit starts the WAL from its beginning again (pages the
		 * page cache already holds).
		 */
		if (r == SQLITE_OK && nlog >= CKPT_RESTART_FRAMES) {
			/*
			 * No waiting: RESTART holds the writer lock while it
			 * waits for readers (a long `bastionctl verify`), which
			 * would stall the monitor.  Without a busy handler it
			 * copies what it can and gives up at once; the next
			 * round tries again.
			 */
			sqlite3_busy_timeout(db, 0);
			(void)sqlite3_wal_checkpoint_v2(db, NULL,
			    SQLITE_CHECKPOINT_RESTART, NULL, NULL);
			sqlite3_busy_timeout(db, 1000);
		}
	}
	if (db != NULL) {
		sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE,
		    NULL, NULL);
		sqlite3_close(db);
	}
	_exit(0);
}

pid_t
rec_checkpointer_start(const char *path, char **cause)
{
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0) {
		*cause = xasprintf("pipe: %s", strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		*cause = xasprintf("fork: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		close(p[1]);
		checkpointer_main(path, p[0]);
	}
	close(p[0]);
	/* p[1] stays open (close-on-exec) for the monitor's lifetime. */
	return pid;
}
