/*
 * upstream.h: the worker's connection to the target (see upstream.c).
 */
#ifndef BST_UPSTREAM_H
#define BST_UPSTREAM_H

#include "session/chan.h"

/*
 * Asks the monitor for the target connection and sets up the SSH session
 * on it (blocking, with timeouts): w->up_state is UP_READY, or UP_FAILED
 * with w->up_exit, w->up_reason and w->up_message saying why.
 */
void upstream_connect(struct worker *w);
/* The target went away: every open channel ends with a message. */
void upstream_lost(struct worker *w);

#endif
