/*
 * ctl-sessions.c: "bastionctl sessions": the recorded sessions, newest
 * first, from the database opened read-only, optionally filtered (who,
 * where, when, what ran, what was seen: rec_search_sessions()); with
 * --live, the sessions the running bastion reports on its control socket.
 * Trusts nothing it reads (printed through ctl_safe()).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "common/err.h"
#include "recorder/recorder.h"
#include "tools/ctl.h"

static const struct ctl_opt sessions_opts[] = {
	{ "--limit", 1 },
	{ "--live", 0 },
	{ "--identity", 1 },
	{ "--target", 1 },
	{ "--user", 1 },
	{ "--end", 1 },
	{ "--command", 1 },
	{ "--grep", 1 },
	{ "--since", 1 },
	{ "--until", 1 },
	{ NULL, 0 }
};

/* The filter options, as in sessions_opts. */
static const char *const filter_opts[] = { "--identity", "--target",
    "--user", "--end", "--command", "--grep", "--since", "--until", NULL };

/* One row of the table from a rec_list_sessions() object. */
static void
add_row(struct ctl_table *t, struct json_object *s)
{
	char id[32], started[32], dur[32], ident[128], client[128];
	char target[300], tu[128], tt[128], reason[64], exitbuf[64];
	char in[32], out[32], sig[32];
	const char *cells[10], *user, *tgt;
	int64_t v, started_us = 0, ended_us, status;

	ctl_jint(s, "id", &v);
	snprintf(id, sizeof(id), "%lld", (long long)v);
	ctl_jint(s, "started_us", &started_us);
	ctl_fmt_time(started_us, started, sizeof(started));
	if (ctl_jint(s, "ended_us", &ended_us) == 0)
		ctl_fmt_duration(ended_us - started_us, dur, sizeof(dur));
	else
		snprintf(dur, sizeof(dur), "live");
	user = ctl_jstr(s, "target_user");
	tgt = ctl_jstr(s, "target");
	if (tgt == NULL)
		snprintf(target, sizeof(target), "-");
	else if (user == NULL)
		snprintf(target, sizeof(target), "%s",
		    ctl_safe(tgt, tt, sizeof(tt)));
	else
		snprintf(target, sizeof(target), "%s@%s",
		    ctl_safe(user, tu, sizeof(tu)),
		    ctl_safe(tgt, tt, sizeof(tt)));
	if (ctl_jint(s, "exit_status", &status) == 0)
		snprintf(exitbuf, sizeof(exitbuf), "%lld", (long long)status);
	else if (ctl_jstr(s, "exit_signal") != NULL)
		snprintf(exitbuf, sizeof(exitbuf), "sig %s",
		    ctl_safe(ctl_jstr(s, "exit_signal"), sig, sizeof(sig)));
	else
		snprintf(exitbuf, sizeof(exitbuf), "-");
	v = 0;
	ctl_jint(s, "bytes_in", &v);
	ctl_fmt_bytes(v, in, sizeof(in));
	v = 0;
	ctl_jint(s, "bytes_out", &v);
	ctl_fmt_bytes(v, out, sizeof(out));

	cells[0] = id;
	cells[1] = started;
	cells[2] = dur;
	cells[3] = ctl_safe(ctl_jstr(s, "identity"), ident, sizeof(ident));
	cells[4] = ctl_safe(ctl_jstr(s, "client"), client, sizeof(client));
	cells[5] = target;
	cells[6] = ctl_safe(ctl_jstr(s, "end_reason"), reason, sizeof(reason));
	cells[7] = exitbuf;
	cells[8] = in;
	cells[9] = out;
	ctl_table_add(t, cells);
}

static int
sessions_live(struct ctl_ctx *ctx)
{
	struct json_object *reply = NULL, *live = NULL;
	char *line = NULL;
	int r;

	if ((r = ctl_status_request(ctx, &reply, &line)) != 0)
		return r;
	if (!json_object_object_get_ex(reply, "live_sessions", &live) ||
	    !json_object_is_type(live, json_type_array)) {
		r = ctl_error("the bastion's status has no live_sessions");
		goto out;
	}
	if (ctx->json)
		ctl_print_json(live);
	else if (json_object_array_length(live) == 0)
		printf("no live sessions\n");
	else
		ctl_status_print_live(live);
	r = CTL_EXIT_OK;
 out:
	json_object_put(reply);
	free(line);
	return r;
}

static int
sessions_fn(struct ctl_ctx *ctx)
{
	static const char *const heads[] = { ">ID", "STARTED (UTC)",
	    ">DURATION", "IDENTITY", "CLIENT", "TARGET", "END", "EXIT", ">IN",
	    ">OUT" };
	struct json_object *arr = NULL;
	struct rec_filter f;
	struct ctl_table *t;
	struct rec *rec;
	long limit = 0;
	size_t i, n;
	int r, filtered = 0;

	if (ctx->nargs > 0)
		return ctl_usage_error(ctx, "unexpected argument \"%s\"",
		    ctx->args[0]);
	for (i = 0; filter_opts[i] != NULL; i++)
		filtered |= ctl_opt_given(ctx, filter_opts[i]);
	if ((r = ctl_opt_long(ctx, "--limit", 0, INT_MAX, &limit)) != 0)
		return r;
	if (ctl_opt_given(ctx, "--live")) {
		if (ctl_opt_given(ctx, "--limit") || filtered)
			return ctl_usage_error(ctx, "--live lists what the "
			    "bastion runs now: no --limit or filters");
		return sessions_live(ctx);
	}
	memset(&f, 0, sizeof(f));
	f.limit = (int)limit;
	f.identity = ctl_opt_value(ctx, "--identity");
	f.target = ctl_opt_value(ctx, "--target");
	f.target_user = ctl_opt_value(ctx, "--user");
	f.end_reason = ctl_opt_value(ctx, "--end");
	f.command = ctl_opt_value(ctx, "--command");
	if ((f.grep = ctl_opt_value(ctx, "--grep")) != NULL)
		f.grep_len = strlen(f.grep);
	if ((f.command != NULL && *f.command == '\0') ||
	    (f.grep != NULL && f.grep_len == 0))
		return ctl_usage_error(ctx, "--command and --grep need some "
		    "text to look for");
	if ((r = ctl_opt_time(ctx, "--since", &f.since_us)) != 0 ||
	    (r = ctl_opt_time(ctx, "--until", &f.until_us)) != 0)
		return r;
	if (f.since_us != 0 && f.until_us != 0 && f.until_us <= f.since_us)
		return ctl_usage_error(ctx, "--until must come after --since");
	if ((r = ctl_db(ctx, &rec)) != 0)
		return r;
	if ((r = rec_search_sessions(rec, &f, &arr)) != 0)
		return ctl_error("listing sessions: %s", bst_strerror(r));
	if (ctx->json)
		ctl_print_json(arr);
	else if ((n = json_object_array_length(arr)) == 0)
		printf(filtered ? "no recorded session matches\n" :
		    "no recorded sessions\n");
	else {
		t = ctl_table_new(10, heads);
		for (i = 0; i < n; i++)
			add_row(t, json_object_array_get_idx(arr, i));
		ctl_table_print(t);
		ctl_table_free(t);
	}
	json_object_put(arr);
	return CTL_EXIT_OK;
}

const struct ctl_cmd ctl_sessions_entry = {
	"sessions",
	"[--limit N] [--identity NAME] [--target NAME] [--user NAME] [--end REASON]\n"
	"       [--command TEXT] [--grep TEXT] [--since TIME] [--until TIME] | --live",
	"Lists recorded sessions, newest first: id, start (UTC), duration or\n"
	"\"live\", identity, client address, target user@target, end reason,\n"
	"exit status of the last channel, bytes in (agent to target) and out.\n"
	"Filters combine (all must match):\n"
	"\n"
	"  --limit N        at most N sessions (0, the default: all)\n"
	"  --identity NAME  the agent's identity\n"
	"  --target NAME    the target, --user NAME the user on it\n"
	"  --end REASON     how it ended (closed, target-refused, ...)\n"
	"  --command TEXT   a command asked for (exec or shell line) contains TEXT\n"
	"  --grep TEXT      a channel's stdin, stdout or stderr contains TEXT\n"
	"  --since TIME     started at or after TIME, --until TIME before it:\n"
	"                   UTC \"2026-11-22\", \"2026-11-22 08:15[:30]\", or ago:\n"
	"                   90s, 30m, 2h, 7d\n"
	"  --live           ask the running bastion for its live sessions instead\n"
	"  --json           a JSON array of session objects\n",
	sessions_opts,
	sessions_fn,
};
