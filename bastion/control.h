/*
 * control.h: the monitor's control socket (AF_UNIX, mode 0660: the owner and its group) for
 * bastionctl.  One request per connection: a line of JSON
 * {"cmd":"status"} answered with a line of JSON.  Trusts the socket's
 * file permissions for who may connect; trusts nothing in the request.
 */
#ifndef BST_CONTROL_H
#define BST_CONTROL_H

#include <poll.h>

struct control;
struct monitor;

int control_open(const char *path, struct control **out, char **cause);
void control_close(struct control *ctl);
/* Adds the listening and client fds to pfds (at most max); returns count. */
int control_pollfds(struct control *ctl, struct pollfd *pfds, int max);
/* Handles readiness reported in pfds[0..n). */
void control_handle(struct control *ctl, struct monitor *m,
    const struct pollfd *pfds, int n);

#endif
