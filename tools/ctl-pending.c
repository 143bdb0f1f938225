/*
 * ctl-pending.c: "bastionctl pending": the approval requests still
 * waiting for votes, oldest last, from rec_request_list() on the database
 * opened read-only (the monitor commits every request and vote before it
 * acts, so this is what it knows).  Trusts nothing it reads: every string
 * is printed through ctl_safe(); JSON output is escaped by json-c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "common/err.h"
#include "common/util.h"
#include "recorder/recorder.h"
#include "tools/ctl.h"

#define PENDING_CMD_WIDTH	60	/* command column, in characters */
#define SAFE_MAX		4096

static const struct ctl_opt pending_opts[] = {
	{ NULL, 0 }
};

/* Sanitized text cut to width characters, "..." marking the cut. */
static const char *
truncated(const char *s, size_t width, char *buf, size_t sz)
{
	ctl_safe(s, buf, sz);
	if (strlen(buf) > width && width > 3 && sz > width)
		memcpy(buf + width - 3, "...", 4);
	return buf;
}

/* "alice, bob, carol (deny)" */
static void
votes_text(struct json_object *votes, char *buf, size_t sz)
{
	struct json_object *v;
	const char *vote;
	char name[128];
	size_t i, n, off = 0;
	int w;

	buf[0] = '\0';
	if (votes == NULL || !json_object_is_type(votes, json_type_array) ||
	    (n = json_object_array_length(votes)) == 0) {
		snprintf(buf, sz, "-");
		return;
	}
	for (i = 0; i < n && off < sz; i++) {
		v = json_object_array_get_idx(votes, i);
		vote = ctl_jstr(v, "vote");
		w = snprintf(buf + off, sz - off, "%s%s%s", i > 0 ? ", " : "",
		    ctl_safe(ctl_jstr(v, "approver"), name, sizeof(name)),
		    vote != NULL && strcmp(vote, "approve") == 0 ? "" :
		    " (deny)");
		if (w < 0)
			break;
		off += (size_t)w;
	}
}

/* "slack ok, webhook:1 retrying" from the "notify" array (schema 3). */
static void
notify_text(struct json_object *arr, char *buf, size_t sz)
{
	struct json_object *v;
	char ch[64], st[32];
	size_t i, n, off = 0;
	int w;

	snprintf(buf, sz, "-");
	if (arr == NULL || !json_object_is_type(arr, json_type_array) ||
	    (n = json_object_array_length(arr)) == 0)
		return;
	for (i = 0; i < n && off < sz; i++) {
		v = json_object_array_get_idx(arr, i);
		w = snprintf(buf + off, sz - off, "%s%s %s", i > 0 ? ", " : "",
		    ctl_safe(ctl_jstr(v, "channel"), ch, sizeof(ch)),
		    ctl_safe(ctl_jstr(v, "status"), st, sizeof(st)));
		if (w < 0)
			break;
		off += (size_t)w;
	}
}

static void
add_row(struct ctl_table *t, struct json_object *q, int64_t now)
{
	char id[32], age[32], expires[32], ident[300], target[300];
	char a[128], b[128], cmd[SAFE_MAX], rule[128], needs[300];
	char votes[1024], notify[512];
	const char *cells[10], *groups;
	int64_t v = 0, created = 0, exp = 0, count = 0;

	ctl_jint(q, "id", &v);
	snprintf(id, sizeof(id), "%lld", (long long)v);
	ctl_jint(q, "created_us", &created);
	ctl_fmt_duration(now - created, age, sizeof(age));
	if (ctl_jint(q, "expires_us", &exp) == 0 && exp > now)
		ctl_fmt_duration(exp - now, expires, sizeof(expires));
	else
		snprintf(expires, sizeof(expires), "expired");
	snprintf(ident, sizeof(ident), "%s (%s)",
	    ctl_safe(ctl_jstr(q, "identity"), a, sizeof(a)),
	    ctl_safe(ctl_jstr(q, "owner"), b, sizeof(b)));
	snprintf(target, sizeof(target), "%s@%s",
	    ctl_safe(ctl_jstr(q, "target_user"), a, sizeof(a)),
	    ctl_safe(ctl_jstr(q, "target"), b, sizeof(b)));
	ctl_jint(q, "count", &count);
	groups = ctl_jstr(q, "groups");
	if (groups == NULL || *groups == '\0')
		snprintf(needs, sizeof(needs), "%lld of any approver",
		    (long long)count);
	else
		snprintf(needs, sizeof(needs), "%lld of %s", (long long)count,
		    ctl_safe(groups, a, sizeof(a)));
	votes_text(json_object_object_get(q, "votes"), votes, sizeof(votes));

	cells[0] = id;
	cells[1] = age;
	cells[2] = expires;
	cells[3] = ident;
	cells[4] = target;
	cells[5] = truncated(ctl_jstr(q, "command"), PENDING_CMD_WIDTH, cmd,
	    sizeof(cmd));
	cells[6] = ctl_safe(ctl_jstr(q, "rule"), rule, sizeof(rule));
	cells[7] = needs;
	cells[8] = votes;
	notify_text(json_object_object_get(q, "notify"), notify,
	    sizeof(notify));
	cells[9] = notify;
	ctl_table_add(t, cells);
}

static int
pending_fn(struct ctl_ctx *ctx)
{
	static const char *const heads[] = { ">ID", ">AGE", ">EXPIRES IN",
	    "IDENTITY (OWNER)", "TARGET", "COMMAND", "RULE", "NEEDS",
	    "VOTES", "NOTIFY" };
	struct json_object *arr = NULL;
	struct ctl_table *t;
	struct rec *rec;
	int64_t now;
	size_t i, n;
	int r;

	if (ctx->nargs > 0)
		return ctl_usage_error(ctx, "unexpected argument \"%s\"",
		    ctx->args[0]);
	if ((r = ctl_db(ctx, &rec)) != 0)
		return r;
	if ((r = rec_request_list(rec, REC_REQ_PENDING, &arr)) != 0)
		return ctl_error("listing approval requests: %s",
		    bst_strerror(r));
	now = now_real_us();
	if (ctx->json)
		ctl_print_json(arr);
	else if ((n = json_object_array_length(arr)) == 0)
		printf("no pending approval requests\n");
	else {
		t = ctl_table_new(10, heads);
		for (i = 0; i < n; i++)
			add_row(t, json_object_array_get_idx(arr, i), now);
		ctl_table_print(t);
		ctl_table_free(t);
	}
	json_object_put(arr);
	return CTL_EXIT_OK;
}

const struct ctl_cmd ctl_pending_entry = {
	"pending",
	"",
	"Lists the approval requests waiting for votes, newest first: id,\n"
	"age, time left before they expire, the identity that asked (and its\n"
	"owner), target user@target, the command (cut to 60 characters: see\n"
	"'show SESSION' or --json for all of it), the rule that held it, the\n"
	"approvals it needs (\"2 of sre security\": from any of those groups)\n"
	"and who has voted, and how telling approvers went (NOTIFY: per\n"
	"channel, slack / teams / webhook:N, \"ok\", \"sending\", \"retrying\"\n"
	"or \"failed\"; --json has the last error in \"notify\").  Vote with\n"
	"'bastionctl approve ID' or 'deny ID'.\n"
	"\n"
	"  --json   a JSON array of request objects (id, command, identity,\n"
	"           owner, target, rule, groups, count, votes, notify,\n"
	"           created, expires...)\n",
	pending_opts,
	pending_fn,
};
