/*
 * ctl-status.c: "bastionctl status": asks the running bastion, on its
 * control socket (AF_UNIX stream; see docs/PROTOCOL.md), for its status
 * and live sessions: one line {"cmd":"status"} out, one line of JSON
 * back.  Also the request behind "sessions --live".  Trusts the socket's
 * permissions to reach the real bastion; trusts nothing in the answer
 * (bounded in size and time, printed through ctl_safe()).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <json-c/json.h>

#include "common/util.h"
#include "tools/ctl.h"

#define STATUS_MAX_REPLY	(1024 * 1024)
#define STATUS_TIMEOUT_SEC	5

static const struct ctl_opt status_opts[] = {
	{ NULL, 0 }
};

static int
connect_control(const char *path, int *fdp)
{
	struct sockaddr_un sun;
	struct timeval tv = { STATUS_TIMEOUT_SEC, 0 };
	int fd, e;

	*fdp = -1;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path))
		return ctl_error("control socket path too long: %s", path);
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return ctl_error("socket: %s", strerror(errno));
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		e = errno;
		close(fd);
		if (e == ENOENT || e == ECONNREFUSED || e == ENOTSOCK)
			return ctl_error("bastion is not running (cannot "
			    "connect to %s: %s)", path, strerror(e));
		return ctl_error("cannot connect to %s: %s", path,
		    strerror(e));
	}
	*fdp = fd;
	return 0;
}

int
ctl_status_request(struct ctl_ctx *ctx, struct json_object **out,
    char **linep)
{
	static const char req[] = "{\"cmd\":\"status\"}\n";
	struct json_object *o = NULL, *ok;
	const char *path, *err;
	char *buf = NULL, *nl, safe[512];
	size_t len = 0, off = 0, cap = 4096;
	ssize_t n;
	int fd = -1, r;

	*out = NULL;
	*linep = NULL;
	if ((r = ctl_control_path(ctx, &path)) != 0)
		return r;
	if ((r = connect_control(path, &fd)) != 0)
		return r;
	r = CTL_EXIT_FAIL;
	while (off < sizeof(req) - 1) {
		n = send(fd, req + off, sizeof(req) - 1 - off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ctl_error("sending to %s: %s", path, n < 0 ?
			    strerror(errno) : "connection closed");
			goto out;
		}
		off += (size_t)n;
	}
	buf = xmalloc(cap);
	for (;;) {
		if (len + 1 >= cap) {
			if (cap >= STATUS_MAX_REPLY) {
				ctl_error("answer from %s is too long", path);
				goto out;
			}
			cap *= 2;
			buf = xrealloc(buf, cap);
		}
		n = recv(fd, buf + len, cap - len - 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			ctl_error("no answer from the bastion on %s within "
			    "%ds", path, STATUS_TIMEOUT_SEC);
			goto out;
		}
		if (n < 0) {
			ctl_error("reading from %s: %s", path,
			    strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (memchr(buf + len - (size_t)n, '\n', (size_t)n) != NULL)
			break;
	}
	buf[len] = '\0';
	if ((nl = strchr(buf, '\n')) != NULL)
		*nl = '\0';
	if (len == 0) {
		ctl_error("the bastion closed %s without answering", path);
		goto out;
	}
	o = json_tokener_parse(buf);
	if (o == NULL || !json_object_is_type(o, json_type_object)) {
		ctl_error("the bastion's answer on %s is not a JSON object",
		    path);
		goto out;
	}
	if (!json_object_object_get_ex(o, "ok", &ok) ||
	    !json_object_get_boolean(ok)) {
		err = ctl_jstr(o, "error");
		ctl_error("the bastion refused the status request: %s",
		    ctl_safe(err ? err : "no reason given", safe,
		    sizeof(safe)));
		goto out;
	}
	*out = o;
	o = NULL; /* transferred */
	*linep = buf;
	buf = NULL; /* transferred */
	r = 0;
 out:
	if (fd >= 0)
		close(fd);
	json_object_put(o);
	free(buf);
	return r;
}

/* A time member: ISO text ("started") or microseconds ("started_us"). */
static const char *
json_time(struct json_object *o, const char *key, char *buf, size_t sz)
{
	char k[64];
	int64_t us;

	snprintf(k, sizeof(k), "%s_us", key);
	if (ctl_jint(o, k, &us) == 0) {
		ctl_fmt_time(us, buf, sz);
		return buf;
	}
	return ctl_safe(ctl_jstr(o, key), buf, sz);
}

void
ctl_status_print_live(struct json_object *live)
{
	static const char *const heads[] = { ">ID", "STARTED (UTC)",
	    "IDENTITY", "CLIENT", "TARGET", ">PID" };
	char id[32], started[64], ident[128], client[128], target[300];
	char tu[128], tt[128], pid[32];
	const char *cells[6];
	struct json_object *s;
	struct ctl_table *t;
	int64_t v;
	size_t i, n = json_object_array_length(live);

	t = ctl_table_new(6, heads);
	for (i = 0; i < n; i++) {
		s = json_object_array_get_idx(live, i);
		if (ctl_jint(s, "id", &v) == 0)
			snprintf(id, sizeof(id), "%lld", (long long)v);
		else
			snprintf(id, sizeof(id), "-");
		if (ctl_jint(s, "pid", &v) == 0)
			snprintf(pid, sizeof(pid), "%lld", (long long)v);
		else
			snprintf(pid, sizeof(pid), "-");
		if (ctl_jstr(s, "target") == NULL)
			snprintf(target, sizeof(target), "-");
		else if (ctl_jstr(s, "target_user") == NULL)
			snprintf(target, sizeof(target), "%s",
			    ctl_safe(ctl_jstr(s, "target"), tt, sizeof(tt)));
		else
			snprintf(target, sizeof(target), "%s@%s",
			    ctl_safe(ctl_jstr(s, "target_user"), tu,
			    sizeof(tu)),
			    ctl_safe(ctl_jstr(s, "target"), tt, sizeof(tt)));
		cells[0] = id;
		cells[1] = json_time(s, "started", started, sizeof(started));
		cells[2] = ctl_safe(ctl_jstr(s, "identity"), ident,
		    sizeof(ident));
		cells[3] = ctl_safe(ctl_jstr(s, "client"), client,
		    sizeof(client));
		cells[4] = target;
		cells[5] = pid;
		ctl_table_add(t, cells);
	}
	ctl_table_print(t);
	ctl_table_free(t);
}

static int
status_fn(struct ctl_ctx *ctx)
{
	struct json_object *reply = NULL, *live = NULL;
	char *line = NULL, started[64], up[32];
	int64_t pid = 0, started_us;
	size_t n = 0;
	int r;

	if (ctx->nargs > 0)
		return ctl_usage_error(ctx, "unexpected argument \"%s\"",
		    ctx->args[0]);
	if ((r = ctl_status_request(ctx, &reply, &line)) != 0)
		return r;
	if (ctx->json) {
		printf("%s\n", line);
		goto done;
	}
	ctl_jint(reply, "pid", &pid);
	printf("bastion running, pid %lld", (long long)pid);
	if (ctl_jint(reply, "started_us", &started_us) == 0 ||
	    ctl_jstr(reply, "started") != NULL)
		printf(", started %s UTC", json_time(reply, "started", started,
		    sizeof(started)));
	if (ctl_jint(reply, "started_us", &started_us) == 0) {
		ctl_fmt_duration(now_real_us() - started_us, up, sizeof(up));
		printf(" (up %s)", up);
	}
	printf("\n");
	if (json_object_object_get_ex(reply, "live_sessions", &live) &&
	    json_object_is_type(live, json_type_array))
		n = json_object_array_length(live);
	printf("%zu live session%s\n", n, n == 1 ? "" : "s");
	if (n > 0) {
		printf("\n");
		ctl_status_print_live(live);
	}
 done:
	json_object_put(reply);
	free(line);
	return CTL_EXIT_OK;
}

const struct ctl_cmd ctl_status_entry = {
	"status",
	"",
	"Asks the running bastion, on its control socket, for its pid,\n"
	"start time and live sessions.  Exit status 1 if it is not running.\n"
	"\n"
	"  --json   the bastion's answer as it sent it (one JSON line)\n",
	status_opts,
	status_fn,
};
