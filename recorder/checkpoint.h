/*
 * checkpoint.h: the WAL checkpointer, a small child process of the
 * monitor, and the handshake that lets it reset the WAL.
 *
 * The monitor commits recording batches to the WAL without ever waiting
 * for the disk (synchronous=NORMAL).  Moving WAL pages into the database
 * file and the fsyncs that go with it happen here, in a separate process
 * with its own SQLite connection, so a slow disk never stalls the relay:
 * passive checkpoints every 250 ms (every 10 ms while the WAL is large),
 * which never block the writer.
 *
 * Passive checkpoints never catch up with a writer that commits without
 * pause, so the WAL would only grow.  When it is large the writer asks
 * for a reset between two transactions (ckpt_reset_request()) and waits:
 * the checkpointer copies the short uncopied tail under a RESTART
 * checkpoint, and the writer's next commit starts the WAL from its
 * beginning.  The child exits when the monitor's end of the socket
 * closes.
 */
#ifndef BST_CHECKPOINT_H
#define BST_CHECKPOINT_H

#include <stdint.h>
#include <sys/types.h>

/*
 * Forks the checkpointer for the database at path; *fd gets the
 * monitor's end of its socket (close-on-exec).  Call before opening the
 * database in this process (never carry a connection across fork).
 * Returns the child's pid, or -1 with *cause set.
 */
pid_t rec_checkpointer_start(const char *path, int *fd, char **cause);

enum ckpt_reset_result {
	CKPT_RESET_DONE,	/* the next commit restarts the WAL */
	CKPT_RESET_BUSY,	/* a reader still uses the WAL: try later */
	CKPT_RESET_TIMEOUT,	/* no answer in time: try later */
	CKPT_RESET_GONE,	/* the checkpointer is gone */
};

/*
 * The writer's side of a reset.  Call between transactions; blocks for
 * at most timeout_ms.
 */
enum ckpt_reset_result ckpt_reset_request(int fd, int timeout_ms);

/*
 * A SQLite busy handler (sqlite3_busy_handler(db, rec_busy_wait, &w))
 * for waits on a lock the other process holds for milliseconds: it
 * retries every 100 us for the first fast_tries tries, every 2 ms after,
 * and gives up limit_us after the wait's first try.  sqlite3_busy_timeout
 * would sleep 1, 2, 5, 10 ms... from the start.
 */
struct rec_busy_wait {
	int64_t	limit_us;
	int	fast_tries;
	int64_t	since;		/* set by the handler */
};
int rec_busy_wait(void *wait, int n);

#endif
