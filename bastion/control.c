/*
 * control.c: control socket server (see control.h).  Requests are
 * dispatched through a table of commands; unknown commands get a JSON
 * error.  Clients are nonblocking with bounded buffers and a deadline, so
 * a stuck client never stalls the monitor.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <json-c/json.h>

#include "bastion/control.h"
#include "bastion/monitor.h"
#include "common/err.h"
#include "common/log.h"
#include "common/util.h"

#define CTL_MAX_CLIENTS	16
#define CTL_MAX_LINE	(64 * 1024)
#define CTL_TIMEOUT_US	(5 * 1000000)

struct ctl_client {
	int	 fd;
	char	*in;
	size_t	 inlen;
	char	*out;
	size_t	 outlen, outoff;
	int64_t	 deadline;
};

struct control {
	int			 fd;
	char			*path;
	struct ctl_client	 clients[CTL_MAX_CLIENTS];
	int			 nclients;
};

struct ctl_command {
	const char	*name;
	json_object	*(*fn)(struct monitor *, json_object *);
};

static json_object *
ctl_status(struct monitor *m, json_object *req)
{
	json_object *o = json_object_new_object();

	(void)req;
	json_object_object_add(o, "ok", json_object_new_boolean(1));
	json_object_object_add(o, "pid", json_object_new_int(getpid()));
	json_object_object_add(o, "started_us",
	    json_object_new_int64(monitor_started_us(m)));
	json_object_object_add(o, "policy", monitor_policy_json(m));
	json_object_object_add(o, "live_sessions", monitor_live_sessions(m));
	return o;
}

static json_object *ctl_error(const char *msg);

/* {"cmd":"vote","id":N,"vote":"approve"|"deny","reason":"...","token":"..."} */
static json_object *
ctl_vote(struct monitor *m, json_object *req)
{
	json_object *id, *vote, *reason, *token, *rep = NULL;
	const char *v;

	if (!json_object_object_get_ex(req, "id", &id) ||
	    !json_object_is_type(id, json_type_int) ||
	    !json_object_object_get_ex(req, "vote", &vote) ||
	    !json_object_is_type(vote, json_type_string) ||
	    !json_object_object_get_ex(req, "token", &token) ||
	    !json_object_is_type(token, json_type_string))
		return ctl_error("vote needs \"id\" (integer), \"vote\" and "
		    "\"token\"");
	v = json_object_get_string(vote);
	if (strcmp(v, "approve") != 0 && strcmp(v, "deny") != 0)
		return ctl_error("\"vote\" must be \"approve\" or \"deny\"");
	if (!json_object_object_get_ex(req, "reason", &reason) ||
	    !json_object_is_type(reason, json_type_string))
		reason = NULL;
	(void)monitor_vote(m, json_object_get_int64(id),
	    json_object_get_string(token), strcmp(v, "approve") == 0,
	    reason ? json_object_get_string(reason) : "", &rep);
	return rep ? rep : ctl_error("internal error");
}

/* {"cmd":"terminate","session":N,"reason":"...","token":"..."} */
static json_object *
ctl_terminate(struct monitor *m, json_object *req)
{
	json_object *sid, *reason, *token, *rep = NULL;

	if (!json_object_object_get_ex(req, "session", &sid) ||
	    !json_object_is_type(sid, json_type_int) ||
	    !json_object_object_get_ex(req, "token", &token) ||
	    !json_object_is_type(token, json_type_string))
		return ctl_error("terminate needs \"session\" (integer) and "
		    "\"token\"");
	if (!json_object_object_get_ex(req, "reason", &reason) ||
	    !json_object_is_type(reason, json_type_string))
		reason = NULL;
	(void)monitor_terminate(m, json_object_get_int64(sid),
	    json_object_get_string(token),
	    reason ? json_object_get_string(reason) : "", &rep);
	return rep ? rep : ctl_error("internal error");
}

static const struct ctl_command ctl_commands[] = {
	{ "status", ctl_status },
	{ "vote", ctl_vote },
	{ "terminate", ctl_terminate },
};

static json_object *
ctl_error(const char *msg)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "ok", json_object_new_boolean(0));
	json_object_object_add(o, "error", json_object_new_string(msg));
	return o;
}

int
control_open(const char *path, struct control **out, char **cause)
{
	struct sockaddr_un sun;
	struct control *ctl;
	int fd;

	*out = NULL;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		*cause = xasprintf("control socket path too long: %s", path);
		return BST_ERR_CONFIG;
	}
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*cause = xasprintf("socket: %s", strerror(errno));
		return BST_ERR_IO;
	}
	(void)unlink(path);	/* stale socket of a previous run */
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    chmod(path, 0660) < 0 || listen(fd, 16) < 0) {
		*cause = xasprintf("control socket %s: %s", path,
		    strerror(errno));
		close(fd);
		return BST_ERR_IO;
	}
	ctl = xcalloc(1, sizeof(*ctl));
	ctl->fd = fd;
	ctl->path = xstrdup(path);
	*out = ctl;
	return 0;
}

static void
client_drop(struct control *ctl, int i)
{
	close(ctl->clients[i].fd);
	free(ctl->clients[i].in);
	free(ctl->clients[i].out);
	ctl->clients[i] = ctl->clients[--ctl->nclients];
}

void
control_close(struct control *ctl)
{
	if (ctl == NULL)
		return;
	while (ctl->nclients > 0)
		client_drop(ctl, 0);
	close(ctl->fd);
	(void)unlink(ctl->path);
	free(ctl->path);
	free(ctl);
}

int
control_pollfds(struct control *ctl, struct pollfd *pfds, int max)
{
	int i, n = 0;
	int64_t now = now_mono_us();

	for (i = 0; i < ctl->nclients; i++) {
		if (now > ctl->clients[i].deadline) {
			client_drop(ctl, i);
			i--;
		}
	}
	if (max < 1 + ctl->nclients)
		return 0;
	pfds[n].fd = ctl->fd;
	pfds[n].events = ctl->nclients < CTL_MAX_CLIENTS ? POLLIN : 0;
	pfds[n++].revents = 0;
	for (i = 0; i < ctl->nclients; i++) {
		pfds[n].fd = ctl->clients[i].fd;
		pfds[n].events = ctl->clients[i].out ? POLLOUT : POLLIN;
		pfds[n++].revents = 0;
	}
	return n;
}

static void
client_request(struct ctl_client *c, struct monitor *m)
{
	json_object *req = NULL, *rep = NULL, *cmd;
	const char *name, *text;
	size_t i;

	c->in[c->inlen] = '\0';
	req = json_tokener_parse(c->in);
	if (req == NULL || !json_object_is_type(req, json_type_object) ||
	    !json_object_object_get_ex(req, "cmd", &cmd) ||
	    !json_object_is_type(cmd, json_type_string))
		rep = ctl_error("request must be a JSON object with \"cmd\"");
	else {
		name = json_object_get_string(cmd);
		for (i = 0; i < sizeof(ctl_commands) / sizeof(ctl_commands[0]);
		    i++)
			if (strcmp(ctl_commands[i].name, name) == 0)
				rep = ctl_commands[i].fn(m, req);
		if (rep == NULL)
			rep = ctl_error("unknown command");
	}
	text = json_object_to_json_string_ext(rep, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
	c->out = xasprintf("%s\n", text);
	c->outlen = strlen(c->out);
	c->outoff = 0;
	json_object_put(rep);
	json_object_put(req);
}

void
control_handle(struct control *ctl, struct monitor *m,
    const struct pollfd *pfds, int n)
{
	int i, j, fd;
	ssize_t r;

	if (n < 1)
		return;
	/* Clients first (indices shift when one is dropped). */
	for (j = n - 1; j >= 1; j--) {
		struct ctl_client *c;

		if (pfds[j].revents == 0)
			continue;
		for (i = 0; i < ctl->nclients; i++)
			if (ctl->clients[i].fd == pfds[j].fd)
				break;
		if (i == ctl->nclients)
			continue;
		c = &ctl->clients[i];
		if (c->out == NULL) {
			r = read(c->fd, c->in + c->inlen,
			    CTL_MAX_LINE - c->inlen);
			if (r <= 0) {
				if (r < 0 && errno == EAGAIN)
					continue;
				client_drop(ctl, i);
				continue;
			}
			c->inlen += (size_t)r;
			if (memchr(c->in, '\n', c->inlen) != NULL)
				client_request(c, m);
			else if (c->inlen >= CTL_MAX_LINE)
				client_drop(ctl, i);
			continue;
		}
		r = write(c->fd, c->out + c->outoff, c->outlen - c->outoff);
		if (r < 0 && errno == EAGAIN)
			continue;
		if (r <= 0 || (c->outoff += (size_t)r) == c->outlen)
			client_drop(ctl, i);
	}
	if (pfds[0].revents & POLLIN) {
		while (ctl->nclients < CTL_MAX_CLIENTS &&
		    (fd = accept4(ctl->fd, NULL, NULL,
		    SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
			struct ctl_client *c = &ctl->clients[ctl->nclients++];

			memset(c, 0, sizeof(*c));
			c->fd = fd;
			c->in = xmalloc(CTL_MAX_LINE + 1);
			c->deadline = now_mono_us() + CTL_TIMEOUT_US;
		}
	}
}
