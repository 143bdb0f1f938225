/*
 * checkpoint.c: WAL checkpointer process and the writer's side of its
 * reset handshake (see checkpoint.h).  Trusts the database path it is
 * given and the monitor at the other end of its socket; touches nothing
 * but that database.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "common/log.h"
#include "common/proctitle.h"
#include "common/util.h"
#include "recorder/checkpoint.h"

#define CKPT_INTERVAL_MS	250
/*
 * Between passes while the monitor writes: keep the uncopied tail short,
 * so that a reset, which the monitor waits for, has little left to copy.
 */
#define CKPT_CATCHUP_MS		10
/*
 * The longest a reset waits for a lock: the writer lock, and then for
 * readers to leave the WAL.  The monitor waits meanwhile, so this bounds
 * the stall a long reader (`bastionctl verify`) can cause.
 */
#define CKPT_LOCK_WAIT_US	(20 * 1000)
/*
 * From this many WAL frames (128 MiB) on, each pass tries a reset; after
 * a failed try (the writer lock was taken, or a reader held the WAL) the
 * next waits 50 ms, doubling up to 2 s.
 */
#define CKPT_TRY_RESET_FRAMES	4096
#define CKPT_TRY_BACKOFF_MIN_MS	50
#define CKPT_TRY_BACKOFF_MAX_MS	2000
/* Of the database's cached pages, the newest this many bytes stay. */
#define CKPT_KEEP_CACHED	(1024 * 1024)

/* The handshake's bytes: a request, and its two answers. */
#define CKPT_MSG_RESET		'R'
#define CKPT_MSG_DONE		'D'
#define CKPT_MSG_BUSY		'B'

struct ckpt {
	const char	*path;
	sqlite3		*db;
	int		 dbfd;		/* our own fd on the database file */
	off_t		 dropped;	/* cache dropped below this offset */
	off_t		 written;	/* writeback started below this */
	int		 copied;	/* frames copied, as of the last pass */
	int		 try_backoff_ms;	/* after a failed reset try */
	int64_t		 next_try;	/* no reset try before this */
	int		 reset_nlog;	/* WAL frames at our last reset, until
					   the WAL restarts */
};

int
rec_busy_wait(void *arg, int n)
{
	struct rec_busy_wait *w = arg;
	int64_t now = now_mono_us();

	if (n == 0)
		w->since = now;
	if (now - w->since >= w->limit_us)
		return 0;
	usleep(n < w->fast_tries ? 100 : 2000);
	return 1;
}

static int
ckpt_open(struct ckpt *c)
{
	if (c->db != NULL)
		return 0;
	if (sqlite3_open_v2(c->path, &c->db, SQLITE_OPEN_READWRITE,
	    NULL) != SQLITE_OK) {
		sqlite3_close(c->db);
		c->db = NULL;
		return -1;	/* not created yet */
	}
	sqlite3_busy_timeout(c->db, 1000);
	sqlite3_exec(c->db, "PRAGMA synchronous = NORMAL", NULL, NULL, NULL);
	/*
	 * Never closed before the connection: closing any descriptor of a
	 * file drops the process's POSIX locks on it, SQLite's included.
	 */
	c->dbfd = open(c->path, O_RDONLY | O_CLOEXEC);
	return 0;
}

/*
 * Transcripts are written once and read rarely, so the database's pages
 * leave the page cache once they are on disk: the recording then reuses
 * the same few MiB of memory instead of growing the page cache by every
 * byte relayed, which on VMs that back guest memory lazily costs more
 * than the copy itself.  Each pass starts the writeback of what it
 * wrote (without waiting for it) and drops what the pass before it
 * wrote, by now clean.  The newest MiB always stays: the monitor
 * appends there.
 */
static void
ckpt_writeback(struct ckpt *c, int wait)
{
	struct stat st;
	off_t end;

	if (c->dbfd < 0 || fstat(c->dbfd, &st) != 0)
		return;
	if (wait)
		(void)fdatasync(c->dbfd);
	else if (st.st_size > c->written)
		(void)sync_file_range(c->dbfd, c->written,
		    st.st_size - c->written, SYNC_FILE_RANGE_WRITE);
	end = (wait ? st.st_size : c->written) - CKPT_KEEP_CACHED;
	if (end > c->dropped) {
		(void)posix_fadvise(c->dbfd, c->dropped, end - c->dropped,
		    POSIX_FADV_DONTNEED);
		c->dropped = end;
	}
	if (st.st_size < c->written || st.st_size < c->dropped)
		c->written = c->dropped = 0;	/* the file shrank */
	else
		c->written = st.st_size;
}

/*
 * The reset: a RESTART checkpoint takes the writer lock, copies the
 * frames the passes have not copied yet, syncs, and waits (briefly)
 * until no reader uses the WAL.  The writer's next commit then writes
 * the WAL from its beginning again, into pages the page cache already
 * holds.  When the writer asked for it, it waits and writes nothing
 * meanwhile, so the lock is free.
 */
static char
ckpt_reset(struct ckpt *c)
{
	struct rec_busy_wait wait = { CKPT_LOCK_WAIT_US, INT32_MAX, 0 };
	int r, nlog = 0, nckpt = 0;

	if (ckpt_open(c) != 0)
		return CKPT_MSG_BUSY;
	/*
	 * The writeback the passes started ends here, with no lock held:
	 * the sync under the writer lock then covers only the last frames.
	 */
	if (c->dbfd >= 0)
		(void)fdatasync(c->dbfd);
	sqlite3_busy_handler(c->db, rec_busy_wait, &wait);
	r = sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_RESTART,
	    &nlog, &nckpt);
	sqlite3_busy_timeout(c->db, 1000);
	if (r != SQLITE_OK)
		return CKPT_MSG_BUSY;
	ckpt_writeback(c, 1);
	c->copied = 0;
	/* No second reset before the monitor has restarted the WAL. */
	c->reset_nlog = nlog > 0 ? nlog : 1;
	return CKPT_MSG_DONE;
}

/*
 * A passive pass: copies committed frames without taking any lock the
 * writer needs.  Returns the milliseconds to wait before the next one.
 */
static int
ckpt_pass(struct ckpt *c)
{
	int r, nlog = 0, nckpt = 0;

	r = sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE,
	    &nlog, &nckpt);
	if (r != SQLITE_OK && r != SQLITE_BUSY && r != SQLITE_LOCKED) {
		log_warn("checkpoint of %s: %s", c->path, sqlite3_errmsg(c->db));
		return CKPT_INTERVAL_MS;
	}
	if (nckpt == c->copied)
		return CKPT_INTERVAL_MS;	/* nothing new: idle */
	if (nckpt > 0)
		ckpt_writeback(c, 0);
	c->copied = nckpt;
	/*
	 * A large WAL: reset it now if the writer lock is free (the monitor
	 * is between transactions), so the monitor seldom has to ask.
	 */
	if (c->reset_nlog > 0 && nlog < c->reset_nlog)
		c->reset_nlog = 0;	/* the WAL restarted after our reset */
	if (nlog >= CKPT_TRY_RESET_FRAMES && c->reset_nlog == 0 &&
	    now_mono_us() >= c->next_try) {
		if (ckpt_reset(c) == CKPT_MSG_DONE) {
			c->try_backoff_ms = 0;
		} else {
			c->try_backoff_ms = c->try_backoff_ms == 0 ?
			    CKPT_TRY_BACKOFF_MIN_MS : c->try_backoff_ms * 2;
			if (c->try_backoff_ms > CKPT_TRY_BACKOFF_MAX_MS)
				c->try_backoff_ms = CKPT_TRY_BACKOFF_MAX_MS;
			c->next_try = now_mono_us() +
			    (int64_t)c->try_backoff_ms * 1000;
		}
	}
	return CKPT_CATCHUP_MS;
}

static void __attribute__((noreturn))
checkpointer_main(const char *path, int fd)
{
	struct ckpt c = { .path = path, .dbfd = -1 };
	struct pollfd p;
	char buf[64], reply;
	ssize_t n;
	int64_t next_pass = now_mono_us() + CKPT_INTERVAL_MS * 1000, now;
	int r;

	log_set_tag("bastion-checkpoint");
	(void)prctl(PR_SET_NAME, "bastion-ckpt");
	proctitle_set("bastion: checkpointer %s", path);
	(void)prctl(PR_SET_PDEATHSIG, SIGTERM);
	for (;;) {
		p.fd = fd;
		p.events = POLLIN;
		now = now_mono_us();
		r = poll(&p, 1, next_pass > now ?
		    (int)((next_pass - now + 999) / 1000) : 0);
		if (r < 0 && errno != EINTR)
			break;
		if (r > 0) {
			n = recv(fd, buf, sizeof(buf), 0);
			if (n == 0 || (n < 0 && errno != EINTR))
				break;	/* the monitor is gone: done */
			if (n > 0 && memchr(buf, CKPT_MSG_RESET, (size_t)n)) {
				reply = ckpt_reset(&c);
				(void)send(fd, &reply, 1, MSG_NOSIGNAL);
				next_pass = now_mono_us() +
				    CKPT_CATCHUP_MS * 1000;
			}
			continue;
		}
		if (now_mono_us() < next_pass)
			continue;
		next_pass = now_mono_us() + (ckpt_open(&c) != 0 ?
		    CKPT_INTERVAL_MS : ckpt_pass(&c)) * 1000;
	}
	if (c.db != NULL) {
		sqlite3_wal_checkpoint_v2(c.db, NULL, SQLITE_CHECKPOINT_PASSIVE,
		    NULL, NULL);
		sqlite3_close(c.db);
	}
	if (c.dbfd >= 0)
		close(c.dbfd);
	_exit(0);
}

pid_t
rec_checkpointer_start(const char *path, int *fdp, char **cause)
{
	/* *fdp stays open for the monitor's lifetime. */
	pid_t pid = fork_helper(SOCK_STREAM, fdp, cause);

	if (pid == 0)
		checkpointer_main(path, 3);	/* nothing of the monitor's */
	return pid;
}

enum ckpt_reset_result
ckpt_reset_request(int fd, int timeout_ms)
{
	int64_t deadline = now_mono_us() + (int64_t)timeout_ms * 1000;
	struct pollfd p;
	char buf[64], req = CKPT_MSG_RESET;
	ssize_t n;
	int left;

	/* Answers to requests that timed out earlier are stale. */
	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
	if (send(fd, &req, 1, MSG_NOSIGNAL) != 1)
		return CKPT_RESET_GONE;
	for (;;) {
		left = (int)((deadline - now_mono_us()) / 1000);
		if (left < 0)
			return CKPT_RESET_TIMEOUT;
		p.fd = fd;
		p.events = POLLIN;
		if (poll(&p, 1, left) < 0 && errno != EINTR)
			return CKPT_RESET_GONE;
		n = recv(fd, buf, 1, MSG_DONTWAIT);
		if (n == 1)
			return buf[0] == CKPT_MSG_DONE ? CKPT_RESET_DONE :
			    CKPT_RESET_BUSY;
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			return CKPT_RESET_GONE;
	}
}
