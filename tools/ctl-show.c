/*
 * ctl-show.c: "bastionctl show ID": one session's metadata, its
 * channels, its log of non-data events and its approval requests (with
 * their votes), from rec_show_session() on the database opened
 * read-only.  Trusts nothing it reads (printed through ctl_safe(); JSON
 * output is escaped by json-c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "common/err.h"
#include "recorder/recorder.h"
#include "tools/ctl.h"

#define SAFE_MAX	4096

static const struct ctl_opt show_opts[] = {
	{ NULL, 0 }
};

/* "  label       value" with the value sanitized. */
static void
field(const char *label, const char *value)
{
	char buf[SAFE_MAX];

	printf("  %-10s %s\n", label, ctl_safe(value, buf, sizeof(buf)));
}

/* "HH:MM:SS.mmm" out of our ISO-8601 text, or "-". */
static const char *
clock_part(const char *iso, char *buf, size_t sz)
{
	if (iso == NULL || strlen(iso) < 23)
		return "-";
	snprintf(buf, sz, "%.12s", iso + 11);
	return ctl_safe(buf, buf, sz);
}

static void
print_meta(struct json_object *o)
{
	char a[SAFE_MAX], b[SAFE_MAX], c[SAFE_MAX], line[3 * SAFE_MAX];
	char t1[64], t2[64], dur[32], in[32], out[32];
	const char *s;
	int64_t id = 0, started = 0, ended, v, port, events = 0;
	int sealed;

	ctl_jint(o, "id", &id);
	ctl_jint(o, "started_us", &started);
	printf("session %lld\n", (long long)id);
	ctl_fmt_time(started, t1, sizeof(t1));
	printf("  %-10s %s UTC\n", "started", t1);
	if (ctl_jint(o, "ended_us", &ended) == 0) {
		ctl_fmt_time(ended, t2, sizeof(t2));
		ctl_fmt_duration(ended - started, dur, sizeof(dur));
		printf("  %-10s %s UTC (after %s)\n", "ended", t2, dur);
	} else
		printf("  %-10s live (not ended)\n", "ended");
	field("client", ctl_jstr(o, "client"));
	field("login", ctl_jstr(o, "login"));
	if ((s = ctl_jstr(o, "identity")) != NULL) {
		snprintf(line, sizeof(line), "%s (owner %s)",
		    ctl_safe(s, a, sizeof(a)),
		    ctl_safe(ctl_jstr(o, "owner"), b, sizeof(b)));
		printf("  %-10s %s\n", "identity", line);
	} else
		field("identity", NULL);
	if ((s = ctl_jstr(o, "key_fingerprint")) != NULL) {
		snprintf(line, sizeof(line), "%s %s",
		    ctl_safe(ctl_jstr(o, "key_type"), a, sizeof(a)),
		    ctl_safe(s, b, sizeof(b)));
		printf("  %-10s %s\n", "key", line);
	} else
		field("key", NULL);
	if ((s = ctl_jstr(o, "target")) != NULL) {
		port = 0;
		ctl_jint(o, "target_port", &port);
		snprintf(line, sizeof(line), "%s (%s@%s port %lld)",
		    ctl_safe(s, a, sizeof(a)),
		    ctl_safe(ctl_jstr(o, "target_user"), b, sizeof(b)),
		    ctl_safe(ctl_jstr(o, "target_host"), c, sizeof(c)),
		    (long long)port);
		printf("  %-10s %s\n", "target", line);
	} else
		field("target", NULL);
	if ((s = ctl_jstr(o, "end_reason")) != NULL) {
		if (ctl_jstr(o, "end_detail") != NULL &&
		    *ctl_jstr(o, "end_detail") != '\0')
			snprintf(line, sizeof(line), "%s: %s",
			    ctl_safe(s, a, sizeof(a)),
			    ctl_safe(ctl_jstr(o, "end_detail"), b, sizeof(b)));
		else
			snprintf(line, sizeof(line), "%s",
			    ctl_safe(s, a, sizeof(a)));
		printf("  %-10s %s\n", "end", line);
	} else
		field("end", NULL);
	ctl_jint(o, "events", &events);
	sealed = json_object_get_boolean(json_object_object_get(o, "sealed"));
	if (sealed)
		printf("  %-10s %lld, sealed (final hash %s%s)\n", "events",
		    (long long)events,
		    ctl_safe(ctl_jstr(o, "final_hash"), a, sizeof(a)),
		    ctl_jstr(o, "seal_signature") != NULL ? ", signed; "
		    "'verify' checks it" : "");
	else
		printf("  %-10s %lld, not sealed\n", "events",
		    (long long)events);
	v = 0;
	ctl_jint(o, "bytes_in", &v);
	ctl_fmt_bytes(v, in, sizeof(in));
	v = 0;
	ctl_jint(o, "bytes_out", &v);
	ctl_fmt_bytes(v, out, sizeof(out));
	printf("  %-10s in %s, out %s\n", "bytes", in, out);
}

static void
print_channels(struct json_object *chans)
{
	static const char *const heads[] = { ">CH", "TYPE", "COMMAND", "PTY",
	    "EXIT", "OPENED", "CLOSED" };
	char ch[32], type[256], cmd[SAFE_MAX], pty[300], term[256];
	char exitbuf[64], sig[32], op[32], cl[32];
	const char *cells[7];
	struct json_object *c;
	struct ctl_table *t;
	int64_t v, cols, rows;
	size_t i, n = json_object_array_length(chans);

	printf("\nchannels\n");
	if (n == 0) {
		printf("  none\n");
		return;
	}
	t = ctl_table_new(7, heads);
	for (i = 0; i < n; i++) {
		c = json_object_array_get_idx(chans, i);
		v = 0;
		ctl_jint(c, "channel", &v);
		snprintf(ch, sizeof(ch), "%lld", (long long)v);
		if (ctl_jstr(c, "term") != NULL) {
			cols = rows = 0;
			ctl_jint(c, "cols", &cols);
			ctl_jint(c, "rows", &rows);
			snprintf(pty, sizeof(pty), "%s %lldx%lld",
			    ctl_safe(ctl_jstr(c, "term"), term, sizeof(term)),
			    (long long)cols, (long long)rows);
		} else
			snprintf(pty, sizeof(pty), "-");
		if (ctl_jint(c, "exit_status", &v) == 0)
			snprintf(exitbuf, sizeof(exitbuf), "%lld",
			    (long long)v);
		else if (ctl_jstr(c, "exit_signal") != NULL)
			snprintf(exitbuf, sizeof(exitbuf), "signal %s",
			    ctl_safe(ctl_jstr(c, "exit_signal"), sig,
			    sizeof(sig)));
		else
			snprintf(exitbuf, sizeof(exitbuf), "-");
		cells[0] = ch;
		cells[1] = ctl_safe(ctl_jstr(c, "type"), type, sizeof(type));
		cells[2] = ctl_safe(ctl_jstr(c, "command"), cmd, sizeof(cmd));
		cells[3] = pty;
		cells[4] = exitbuf;
		cells[5] = clock_part(ctl_jstr(c, "opened"), op, sizeof(op));
		cells[6] = clock_part(ctl_jstr(c, "closed"), cl, sizeof(cl));
		ctl_table_add(t, cells);
	}
	ctl_table_print(t);
	ctl_table_free(t);
}

static void
print_log(struct json_object *log)
{
	char buf[SAFE_MAX], kind[128], when[32], chan[32];
	struct json_object *e, *d;
	const char *text;
	int64_t seq, t, ch;
	size_t i, n = json_object_array_length(log);

	printf("\nlog (times from the start; data events left out: see "
	    "replay)\n");
	for (i = 0; i < n; i++) {
		e = json_object_array_get_idx(log, i);
		seq = t = 0;
		ctl_jint(e, "seq", &seq);
		ctl_jint(e, "t_us", &t);
		d = json_object_object_get(e, "detail");
		text = d ? json_object_to_json_string_ext(d,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE) :
		    "";
		snprintf(when, sizeof(when), "+%.3fs", (double)t / 1e6);
		if (ctl_jint(e, "channel", &ch) == 0)
			snprintf(chan, sizeof(chan), "ch %lld", (long long)ch);
		else
			snprintf(chan, sizeof(chan), "-");
		printf("  %5lld %11s  %-6s %-14s %s\n", (long long)seq, when,
		    chan, ctl_safe(ctl_jstr(e, "kind"), kind, sizeof(kind)),
		    ctl_safe(text, buf, sizeof(buf)));
	}
}

/* "2024-05-01 12:00:00" from a request's NAME_us member, or "-". */
static const char *
req_time(struct json_object *q, const char *name, char *buf, size_t sz)
{
	char key[64];
	int64_t us;

	snprintf(key, sizeof(key), "%s_us", name);
	if (ctl_jint(q, key, &us) != 0)
		return "-";
	ctl_fmt_time(us, buf, sz);
	return buf;
}

static void
print_requests(struct json_object *reqs)
{
	char a[SAFE_MAX], b[SAFE_MAX], c[64], t[64];
	struct json_object *q, *votes, *v;
	const char *s;
	int64_t id, count, used_by, us;
	size_t i, j, n = json_object_array_length(reqs), nv;

	printf("\napproval requests (times UTC)\n");
	if (n == 0) {
		printf("  none\n");
		return;
	}
	for (i = 0; i < n; i++) {
		q = json_object_array_get_idx(reqs, i);
		id = count = 0;
		ctl_jint(q, "id", &id);
		ctl_jint(q, "count", &count);
		printf("  request %lld  %s\n", (long long)id,
		    ctl_safe(ctl_jstr(q, "status"), a, sizeof(a)));
		printf("    %-11s %s\n", "command",
		    ctl_safe(ctl_jstr(q, "command"), a, sizeof(a)));
		printf("    %-11s %s: %s\n", "rule",
		    ctl_safe(ctl_jstr(q, "rule"), a, sizeof(a)),
		    ctl_safe(ctl_jstr(q, "reason"), b, sizeof(b)));
		s = ctl_jstr(q, "groups");
		printf("    %-11s %lld of %s%s\n", "needs", (long long)count,
		    s == NULL || *s == '\0' ? "any approver" :
		    ctl_safe(s, a, sizeof(a)),
		    json_object_get_boolean(json_object_object_get(q,
		    "deferred")) ? " (deferred: the agent did not wait)" : "");
		printf("    %-11s %s\n", "created",
		    req_time(q, "created", t, sizeof(t)));
		if (ctl_jstr(q, "decided_by") != NULL ||
		    ctl_jint(q, "decided_us", &us) == 0) {
			printf("    %-11s %s by %s\n", "decided",
			    req_time(q, "decided", t, sizeof(t)),
			    ctl_safe(ctl_jstr(q, "decided_by"), a, sizeof(a)));
			if ((s = ctl_jstr(q, "detail")) != NULL)
				printf("    %-11s %s\n", "detail",
				    ctl_safe(s, a, sizeof(a)));
		} else
			printf("    %-11s not yet (expires %s)\n", "decided",
			    req_time(q, "expires", t, sizeof(t)));
		if (ctl_jint(q, "valid_until_us", &us) == 0)
			printf("    %-11s %s\n", "valid until",
			    req_time(q, "valid_until", t, sizeof(t)));
		if (ctl_jint(q, "used_by_session", &used_by) == 0)
			printf("    %-11s by session %lld at %s\n", "used",
			    (long long)used_by, req_time(q, "used", t,
			    sizeof(t)));
		if (!json_object_object_get_ex(q, "votes", &votes) ||
		    !json_object_is_type(votes, json_type_array) ||
		    (nv = json_object_array_length(votes)) == 0) {
			printf("    %-11s none\n", "votes");
			continue;
		}
		for (j = 0; j < nv; j++) {
			v = json_object_array_get_idx(votes, j);
			s = ctl_jstr(v, "reason");
			printf("    %-11s %-7s %s at %s%s%s\n",
			    j == 0 ? "votes" : "",
			    ctl_safe(ctl_jstr(v, "vote"), c, sizeof(c)),
			    ctl_safe(ctl_jstr(v, "approver"), a, sizeof(a)),
			    req_time(v, "time", t, sizeof(t)),
			    s != NULL && *s != '\0' ? ": " : "",
			    s != NULL && *s != '\0' ? ctl_safe(s, b,
			    sizeof(b)) : "");
		}
	}
}

static int
show_fn(struct ctl_ctx *ctx)
{
	struct json_object *o = NULL, *chans, *log, *reqs;
	struct rec *rec;
	int64_t sid;
	int r;

	if ((r = ctl_one_sid(ctx, &sid)) != 0)
		return r;
	if ((r = ctl_db(ctx, &rec)) != 0)
		return r;
	if ((r = rec_show_session(rec, sid, &o)) == BST_ERR_NOTFOUND)
		return ctl_error("no session %lld", (long long)sid);
	else if (r != 0)
		return ctl_error("reading session %lld: %s", (long long)sid,
		    bst_strerror(r));
	if (ctx->json)
		ctl_print_json(o);
	else {
		print_meta(o);
		if (json_object_object_get_ex(o, "channels", &chans) &&
		    json_object_is_type(chans, json_type_array))
			print_channels(chans);
		if (json_object_object_get_ex(o, "log", &log) &&
		    json_object_is_type(log, json_type_array))
			print_log(log);
		if (json_object_object_get_ex(o, "requests", &reqs) &&
		    json_object_is_type(reqs, json_type_array))
			print_requests(reqs);
	}
	json_object_put(o);
	return CTL_EXIT_OK;
}

const struct ctl_cmd ctl_show_entry = {
	"show",
	"ID",
	"Shows one session: who (identity, key, client), where (target),\n"
	"how it ended, its channels (command, pty, exit status or signal)\n"
	"and its log of non-data events with times from the start, then the\n"
	"approval requests it made or used: command, status, who decided,\n"
	"and each vote with its approver, time and reason.\n"
	"\n"
	"  --json   the session as one JSON object (\"requests\" included)\n",
	show_opts,
	show_fn,
};
