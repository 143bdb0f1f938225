/*
 * ctl-status.c: "bastionctl status": asks the running bastion, on its
 * control socket (AF_UNIX stream; see docs/PROTOCOL.md), for its status
 * and live sessions: one line {"cmd":"status"} out, one line of JSON
 * back, through ctl_control_request() (bastionctl.c).  Also the request
 * behind "sessions --live".  Trusts the socket's permissions to reach the
 * real bastion; trusts nothing in the answer (printed through ctl_safe()).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "common/util.h"
#include "tools/ctl.h"

static const struct ctl_opt status_opts[] = {
	{ NULL, 0 }
};

int
ctl_status_request(struct ctl_ctx *ctx, struct json_object **out,
    char **linep)
{
	struct json_object *req, *o = NULL, *ok;
	const char *err;
	char *line = NULL, safe[512];
	int r;

	*out = NULL;
	*linep = NULL;
	req = json_object_new_object();
	json_object_object_add(req, "cmd", json_object_new_string("status"));
	r = ctl_control_request(ctx, req, &o, &line);
	json_object_put(req);
	if (r != 0)
		return r;
	if (!json_object_object_get_ex(o, "ok", &ok) ||
	    !json_object_get_boolean(ok)) {
		err = ctl_jstr(o, "error");
		ctl_error("the bastion refused the status request: %s",
		    ctl_safe(err ? err : "no reason given", safe,
		    sizeof(safe)));
		json_object_put(o);
		free(line);
		return CTL_EXIT_FAIL;
	}
	*out = o;
	*linep = line;
	return 0;
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
	struct json_object *reply = NULL, *live = NULL, *pol;
	char *line = NULL, started[64], up[32], when[32], ssha[80], src[512];
	const char *sha;
	int64_t pid = 0, started_us, nrules = 0, since = 0;
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
	if (json_object_object_get_ex(reply, "policy", &pol) &&
	    (sha = ctl_jstr(pol, "sha256")) != NULL) {
		ctl_jint(pol, "rules", &nrules);
		ctl_jint(pol, "in_force_us", &since);
		ctl_fmt_time(since, when, sizeof(when));
		printf("policy %.12s (%s, %lld rule%s), in force since %s "
		    "UTC\n", ctl_safe(sha, ssha, sizeof(ssha)),
		    ctl_safe(ctl_jstr(pol, "source"), src, sizeof(src)),
		    (long long)nrules, nrules == 1 ? "" : "s", when);
	}
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
	"start time, the policy in force (version, source, since when) and\n"
	"live sessions.  Exit status 1 if it is not running.\n"
	"\n"
	"  --json   the bastion's answer as it sent it (one JSON line)\n",
	status_opts,
	status_fn,
};
