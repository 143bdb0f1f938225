/*
 * checkpoint.h: the WAL checkpointer, a small child process of the
 * monitor.
 *
 * The monitor commits recording batches to the WAL without ever waiting
 * for the disk (synchronous=NORMAL, automatic checkpoints off).  Moving
 * WAL pages into the database file and the fsyncs that go with it happen
 * here, in a separate process with its own SQLite connection, so a slow
 * disk never stalls the relay.  Passive checkpoints never block the
 * writer.  The child exits when the monitor goes away (its pipe closes).
 */
#ifndef BST_CHECKPOINT_H
#define BST_CHECKPOINT_H

#include <sys/types.h>

/*
 * Forks the checkpointer for the database at path.  Call before opening
 * the database in this process (never carry a connection across fork).
 * Returns the child's pid, or -1 with *cause set.
 */
pid_t rec_checkpointer_start(const char *path, char **cause);

#endif
