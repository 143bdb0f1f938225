/*
 * ctl-watch.c: "bastionctl watch ID": follows a session as it is
 * recorded: the target's output (out, err) to stdout byte for byte, and,
 * as they happen, each line's decision and each approval request
 * (held, votes, outcome) as one "[bastion] ..." line on stderr.  It polls
 * the database read-only (what the monitor has committed, which is what
 * has reached the agent) and ends when the session does.  Read-only: it
 * never talks to the session.  Metadata is printed through ctl_safe();
 * the output bytes are the session's terminal output, as replay prints
 * them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "common/err.h"
#include "policy/cmdparse.h"
#include "policy/scpcmd.h"
#include "recorder/recorder.h"
#include "common/util.h"
#include "tools/ctl.h"

#define WATCH_POLL_MS	200

static const struct ctl_opt watch_opts[] = {
	{ "--new", 0 },
	{ "--interval", 1 },
	{ NULL, 0 }
};

struct watch {
	int64_t	 last;		/* highest seq shown */
	int	 ended;
	int	 show;		/* 0 while skipping what was there (--new) */
	int	 err;
	struct ctl_xfer xfer;	/* channels whose bytes are not shown */
};

static const char *
jstr_path(struct json_object *o, const char *a, const char *b)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, a, &v))
		return NULL;
	if (b != NULL && !json_object_object_get_ex(v, b, &v))
		return NULL;
	return json_object_is_type(v, json_type_string) ?
	    json_object_get_string(v) : NULL;
}

/*
 * fmt's three %s, malloc'd: each made safe for a terminal (ctl_safe), or
 * as they are (NULL as "?") for a caller that cleans the line itself.
 */
static char *
line3(int terminal, const char *fmt, const char *a, const char *b,
    const char *c)
{
	char sa[512], sb[512], sc[512];

	if (!terminal)
		return xasprintf(fmt, a ? a : "?", b ? b : "?", c ? c : "?");
	return xasprintf(fmt, ctl_safe(a, sa, sizeof(sa)),
	    ctl_safe(b, sb, sizeof(sb)), ctl_safe(c, sc, sizeof(sc)));
}

char *
ctl_decision_text(const char *kind, const void *data, size_t len,
    int terminal)
{
	struct json_object *o;
	char id[32], *line = NULL;
	int64_t rid = 0;
	char *text = strndup(data, len);

	if (text == NULL)
		return NULL;
	o = json_tokener_parse(text);
	free(text);
	if (o == NULL)
		return NULL;
	if (strcmp(kind, "policy") == 0) {
		const char *k = jstr_path(o, "kind", NULL);
		const char *rule = jstr_path(o, "decision", "rule");
		const char *ver = jstr_path(o, "policy_sha256", NULL);
		const char *action = jstr_path(o, "decision", "action");
		const char *cmd;
		char what[400];

		/* Built-in decisions, and events recorded before policy
		 * versions were, have no version. */
		if (ver == NULL)
			ver = "";
		if (rule == NULL)
			rule = "?";
		snprintf(what, sizeof(what), "%s (rule %s%s%.12s)",
		    action != NULL ? action : "?", rule,
		    *ver != '\0' ? ", policy " : "", ver);
		cmd = jstr_path(o, "command", NULL);
		if (cmd != NULL && *cmd == '\0')	/* a shell */
			line = line3(terminal, "[bastion] %s: %s%s", k, what,
			    "");
		else
			line = line3(terminal, "[bastion] %s: %s: %s", k, cmd,
			    what);
	} else if (strcmp(kind, "approval") == 0) {
		const char *ev = jstr_path(o, "event", NULL);

		ctl_jint(o, "request", &rid);
		snprintf(id, sizeof(id), "%lld", (long long)rid);
		if (ev != NULL && strcmp(ev, "created") == 0)
			line = line3(terminal, "[bastion] held: request %s: %s%s", id,
			    jstr_path(o, "command", NULL), "");
		else if (ev != NULL && strcmp(ev, "finished") == 0)
			line = line3(terminal, "[bastion] request %s %s by %s", id,
			    jstr_path(o, "status", NULL),
			    jstr_path(o, "decided_by", NULL));
		else if (ev != NULL && strcmp(ev, "vote") == 0)
			line = line3(terminal, "[bastion] request %s: vote by %s%s", id,
			    jstr_path(o, "approver", NULL), "");
	} else if (strcmp(kind, "end") == 0)
		line = line3(terminal, "[bastion] session ended: %s%s%s",
		    jstr_path(o, "reason", NULL), "", "");
	json_object_put(o);
	return line;
}

void
ctl_show_decision(const char *kind, const void *data, size_t len)
{
	char *line = ctl_decision_text(kind, data, len, 1);

	if (line == NULL)
		return;
	fflush(stdout);
	fprintf(stderr, "%s\n", line);
	fflush(stderr);
	free(line);
}

int
ctl_xfer_note(struct ctl_xfer *s, int32_t channel, const void *data,
    size_t len, struct scp_sink *sink)
{
	char *text = strndup(data, len);
	struct json_object *o = text != NULL ? json_tokener_parse(text) : NULL;
	const char *type = o ? ctl_jstr(o, "type") : NULL;
	const char *name = o ? ctl_jstr(o, "name") : NULL;
	const char *cmd = o ? ctl_jstr(o, "command") : NULL;
	struct json_object *acc;
	struct scp_sink found;
	struct pc_result *pr;
	int r = CTL_XFER_NONE, accepted;

	free(text);
	/*
	 * Only a request the bastion accepted: a refused second one on a
	 * channel already running a command must not hide its output.
	 */
	accepted = type != NULL &&
	    json_object_object_get_ex(o, "accepted", &acc) &&
	    json_object_is_type(acc, json_type_boolean) &&
	    json_object_get_boolean(acc);

	if (accepted && s->n < CTL_XFER_MAX) {
		if (name != NULL && strcmp(type, "subsystem") == 0 &&
		    strcmp(name, "sftp") == 0)
			r = CTL_XFER_SFTP;
		else if (cmd != NULL && strcmp(type, "exec") == 0) {
			pr = pc_parse(cmd, strlen(cmd));
			if (scp_cmd_parse(cmd, pr, &found) == SCP_CMD_SINK) {
				r = CTL_XFER_SCP;
				if (sink != NULL) {
					*sink = found;	/* the caller frees it */
					memset(&found, 0, sizeof(found));
				}
			}
			scp_sink_free(&found);
			pc_result_free(pr);
		}
	}
	if (r != CTL_XFER_NONE)
		s->chan[s->n++] = channel;
	json_object_put(o);
	return r;
}

int
ctl_xfer_is(const struct ctl_xfer *s, int32_t channel)
{
	int i;

	for (i = 0; i < s->n; i++)
		if (s->chan[i] == channel)
			return 1;
	return 0;
}

static int
watch_cb(void *arg, int64_t seq, int64_t t_us, int32_t channel,
    const char *kind, const void *data, size_t len)
{
	struct watch *wt = arg;
	int x;

	(void)t_us;
	wt->last = seq;
	if (strcmp(kind, "end") == 0)
		wt->ended = 1;
	if (strcmp(kind, "request") == 0 &&
	    (x = ctl_xfer_note(&wt->xfer, channel, data, len, NULL)) !=
	    CTL_XFER_NONE && wt->show) {
		fflush(stdout);
		fprintf(stderr, "[bastion] channel %d runs %s: its file "
		    "operations are shown, not its bytes\n", (int)channel,
		    x == CTL_XFER_SFTP ? "sftp" : "a legacy scp upload");
		fflush(stderr);
		return 0;
	}
	if (!wt->show && strcmp(kind, "end") != 0)
		return 0;
	if (strcmp(kind, "out") == 0 && ctl_xfer_is(&wt->xfer, channel))
		return 0;	/* binary protocol */
	if (strcmp(kind, "out") == 0 || strcmp(kind, "err") == 0) {
		if (len > 0 && fwrite(data, 1, len, stdout) != len) {
			wt->err = errno;
			return 1;
		}
		return 0;
	}
	if (strcmp(kind, "in") != 0)
		ctl_show_decision(kind, data, len);
	return 0;
}

static int
watch_fn(struct ctl_ctx *ctx)
{
	struct watch wt;
	struct timespec ts;
	struct rec *rec;
	int64_t sid;
	long interval = WATCH_POLL_MS;
	int r;

	if ((r = ctl_one_sid(ctx, &sid)) != 0)
		return r;
	if ((r = ctl_opt_long(ctx, "--interval", 10, 60000, &interval)) != 0)
		return r;
	if ((r = ctl_db(ctx, &rec)) != 0)
		return r;
	memset(&wt, 0, sizeof(wt));
	wt.show = !ctl_opt_given(ctx, "--new");
	for (;;) {
		r = rec_foreach_event_after(rec, sid, wt.last, watch_cb, &wt);
		fflush(stdout);
		if (r == BST_ERR_NOTFOUND)
			return ctl_error("no session %lld", (long long)sid);
		if (r != 0 && wt.err == 0)
			return ctl_error("reading session %lld: %s",
			    (long long)sid, bst_strerror(r));
		if (wt.err != 0)
			return ctl_error("writing: %s", strerror(wt.err));
		if (wt.ended)
			return CTL_EXIT_OK;
		wt.show = 1;
		ts.tv_sec = interval / 1000;
		ts.tv_nsec = (interval % 1000) * 1000000L;
		(void)nanosleep(&ts, NULL);
	}
}

const struct ctl_cmd ctl_watch_entry = {
	"watch",
	"ID",
	"Follows a session while it is recorded: what the agent receives goes\n"
	"to stdout as it is committed, and each line's policy decision and\n"
	"each approval request (held, votes, outcome) appear on stderr as\n"
	"\"[bastion] ...\" lines as they happen.  Read-only.  Ends when the\n"
	"session ends (at once for an ended session, after printing it).\n"
	"\n"
	"  --new           skip what was recorded before watch started\n"
	"  --interval MS   how often to look for new events (default 200)\n",
	watch_opts,
	watch_fn,
};
