/*
 * ctl-export.c: "bastionctl export ID": one channel of a session as an
 * asciicast v2 recording (tools/asciicast.h), for `asciinema play` and
 * the asciinema web player.
 *
 * The channel is the one asked for (--channel), else the session's first
 * terminal (a pty), else its first command.  Its output (stdout and
 * stderr, as the terminal showed them) becomes "o" events, window changes
 * "r" events, what the agent typed "i" events (--stdin), and each
 * decision on it (policy, approvals) and the session's end an "m" marker,
 * at their recorded times from the channel's opening.  File transfers
 * (sftp, legacy scp) are binary protocol: refused, see 'files'.  Reads
 * the database read-only; trusts nothing in the recorded bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "common/err.h"
#include "common/util.h"
#include "recorder/recorder.h"
#include "tools/asciicast.h"
#include "tools/ctl.h"

#define EXPORT_STOP	1	/* callback result: output failed */

static const struct ctl_opt export_opts[] = {
	{ "--format", 1 },
	{ "--channel", 1 },
	{ "--stdin", 0 },
	{ "--idle-cap", 1 },
	{ "--output", 1 },
	{ NULL, 0 }
};

enum { S_OUT, S_ERR, S_IN, S_N };

struct export {
	FILE		*fp;
	int32_t		 channel;
	int		 with_in;
	int64_t		 t0;		/* the channel's first event */
	int		 started;
	struct cast_utf8 utf[S_N];
	int		 err;		/* errno of a failed write */
};

static int
put_line(struct export *ex, char *line)
{
	int r = fputs(line, ex->fp) == EOF ? -1 : 0;

	free(line);
	if (r != 0)
		ex->err = errno;
	return r;
}

static int
put_event(struct export *ex, int64_t t_us, const char *type,
    const char *data, size_t len)
{
	return put_line(ex, cast_event((double)(t_us - ex->t0) / 1e6, type,
	    data, len));
}

/* Data of stream s as UTF-8; final flushes what waits for more. */
static int
put_data(struct export *ex, int64_t t_us, int s, const void *data,
    size_t len, int final)
{
	char *buf = xmalloc(CAST_UTF8_ROOM(len));
	size_t n = cast_utf8(&ex->utf[s], data, len, buf, final);
	int r = 0;

	if (n > 0)
		r = put_event(ex, t_us, s == S_IN ? "i" : "o", buf, n);
	free(buf);
	return r;
}

/* A window-change request: an "r" event "COLSxROWS". */
static int
put_resize(struct export *ex, int64_t t_us, const void *data, size_t len)
{
	char *text = strndup(data, len), size[32];
	json_object *o = text != NULL ? json_tokener_parse(text) : NULL;
	const char *type = o != NULL ? ctl_jstr(o, "type") : NULL;
	int64_t cols, rows;
	int r = 0;

	if (type != NULL && strcmp(type, "window-change") == 0 &&
	    ctl_jint(o, "cols", &cols) == 0 && ctl_jint(o, "rows", &rows) == 0 &&
	    cols > 0 && rows > 0 && cols < 100000 && rows < 100000) {
		snprintf(size, sizeof(size), "%lldx%lld", (long long)cols,
		    (long long)rows);
		r = put_event(ex, t_us, "r", size, strlen(size));
	}
	json_object_put(o);
	free(text);
	return r;
}

/* A decision or the end: an "m" marker, its text as UTF-8. */
static int
put_mark(struct export *ex, int64_t t_us, const char *kind,
    const void *data, size_t len)
{
	struct cast_utf8 st;
	char *mark = ctl_decision_text(kind, data, len, 0), *buf;
	size_t n;
	int r = 0;

	if (mark == NULL)
		return 0;
	memset(&st, 0, sizeof(st));
	buf = xmalloc(CAST_UTF8_ROOM(strlen(mark)));
	n = cast_utf8(&st, (const unsigned char *)mark, strlen(mark), buf, 1);
	r = put_event(ex, t_us, "m", buf, n);
	free(buf);
	free(mark);
	return r;
}

static int
export_cb(void *arg, int64_t seq, int64_t t_us, int32_t channel,
    const char *kind, const void *data, size_t len)
{
	struct export *ex = arg;
	int r = 0;

	(void)seq;
	if (channel == ex->channel && !ex->started) {
		ex->started = 1;
		ex->t0 = t_us;
	}
	if (!ex->started)
		return 0;
	if (channel == REC_NO_CHANNEL && strcmp(kind, "end") == 0)
		return put_mark(ex, t_us, kind, data, len) ? EXPORT_STOP : 0;
	if (channel != ex->channel)
		return 0;
	if (strcmp(kind, "out") == 0)
		r = put_data(ex, t_us, S_OUT, data, len, 0);
	else if (strcmp(kind, "err") == 0)
		r = put_data(ex, t_us, S_ERR, data, len, 0);
	else if (strcmp(kind, "in") == 0 && ex->with_in)
		r = put_data(ex, t_us, S_IN, data, len, 0);
	else if (strcmp(kind, "request") == 0)
		r = put_resize(ex, t_us, data, len);
	else if (strcmp(kind, "policy") == 0 ||
	    strcmp(kind, "approval") == 0)
		r = put_mark(ex, t_us, kind, data, len);
	return r ? EXPORT_STOP : 0;
}

/*
 * The channel to export from the session's "channels": want, or the
 * first with a pty, or the first; *ch its object.  Refuses file
 * transfers.  0 or a CTL exit status.
 */
static int
pick_channel(json_object *show, long want, json_object **ch)
{
	json_object *chans, *c, *first = NULL, *pty = NULL;
	const char *type, *cmd;
	int64_t n;
	size_t i;

	*ch = NULL;
	if (!json_object_object_get_ex(show, "channels", &chans) ||
	    json_object_array_length(chans) == 0)
		return ctl_error("the session has no channel to export");
	for (i = 0; i < json_object_array_length(chans); i++) {
		c = json_object_array_get_idx(chans, i);
		if (ctl_jint(c, "channel", &n) != 0)
			continue;
		if (want >= 0 && n == want)
			*ch = c;
		if (first == NULL)
			first = c;
		if (pty == NULL && ctl_jstr(c, "term") != NULL)
			pty = c;
	}
	if (want >= 0 && *ch == NULL)
		return ctl_error("the session has no channel %ld", want);
	if (*ch == NULL)
		*ch = pty != NULL ? pty : first;
	type = ctl_jstr(*ch, "type");
	cmd = ctl_jstr(*ch, "command");
	ctl_jint(*ch, "channel", &n);
	if ((type != NULL && strcmp(type, "subsystem") == 0) ||
	    (cmd != NULL && strncmp(cmd, "scp ", 4) == 0))
		return ctl_error("channel %lld is a file transfer (binary "
		    "protocol, not a terminal): see 'bastionctl files'",
		    (long long)n);
	return 0;
}

static json_object *
make_header(json_object *show, json_object *ch, int64_t t0, double cap)
{
	json_object *h = json_object_new_object(), *env;
	const char *term = ctl_jstr(ch, "term"), *cmd = ctl_jstr(ch, "command");
	int64_t cols = 80, rows = 24, started = 0, id = 0, n = 0;
	char *title;

	if (ctl_jint(ch, "cols", &cols) != 0 || cols <= 0)
		cols = 80;
	if (ctl_jint(ch, "rows", &rows) != 0 || rows <= 0)
		rows = 24;
	ctl_jint(show, "started_us", &started);
	ctl_jint(show, "id", &id);
	ctl_jint(ch, "channel", &n);
	title = xasprintf("session %lld, channel %lld: %s on %s as %s: %s",
	    (long long)id, (long long)n, ctl_jstr(show, "identity") ?
	    ctl_jstr(show, "identity") : "?", ctl_jstr(show, "target") ?
	    ctl_jstr(show, "target") : "?", ctl_jstr(show, "target_user") ?
	    ctl_jstr(show, "target_user") : "?", cmd != NULL ? cmd : "shell");
	json_object_object_add(h, "version", json_object_new_int(2));
	json_object_object_add(h, "width", json_object_new_int64(cols));
	json_object_object_add(h, "height", json_object_new_int64(rows));
	json_object_object_add(h, "timestamp",
	    json_object_new_int64((started + t0) / 1000000));
	if (cap > 0)
		json_object_object_add(h, "idle_time_limit",
		    json_object_new_double(cap));
	json_object_object_add(h, "title", json_object_new_string(title));
	env = json_object_new_object();
	if (term != NULL)
		json_object_object_add(env, "TERM",
		    json_object_new_string(term));
	json_object_object_add(h, "env", env);
	free(title);
	return h;
}

/* The channel's first event time (its opening), for the header. */
static int
first_cb(void *arg, int64_t seq, int64_t t_us, int32_t channel,
    const char *kind, const void *data, size_t len)
{
	struct export *ex = arg;

	(void)seq; (void)kind; (void)data; (void)len;
	if (channel != ex->channel)
		return 0;
	ex->t0 = t_us;
	return EXPORT_STOP;
}

static int
export_fn(struct ctl_ctx *ctx)
{
	struct export ex;
	struct rec *rec;
	json_object *show = NULL, *ch, *header;
	const char *fmt = ctl_opt_value(ctx, "--format");
	const char *path = ctl_opt_value(ctx, "--output");
	double cap = 0;
	long want = -1;
	int64_t sid, n;
	int r, fd, i;

	if (ctx->json)
		return ctl_usage_error(ctx, "--json does not apply: export "
		    "writes asciicast (JSON lines) already");
	if (fmt != NULL && strcmp(fmt, "asciicast") != 0)
		return ctl_usage_error(ctx, "unknown --format \"%s\" (known: "
		    "asciicast)", fmt);
	if ((r = ctl_one_sid(ctx, &sid)) != 0 ||
	    (r = ctl_opt_long(ctx, "--channel", 0, INT_MAX, &want)) != 0 ||
	    (r = ctl_opt_double(ctx, "--idle-cap", 1, &cap)) != 0)
		return r;
	memset(&ex, 0, sizeof(ex));
	ex.with_in = ctl_opt_given(ctx, "--stdin");
	if ((r = ctl_db(ctx, &rec)) != 0)
		return r;
	r = rec_show_session(rec, sid, &show);
	if (r == BST_ERR_NOTFOUND)
		return ctl_error("no session %lld", (long long)sid);
	if (r != 0)
		return ctl_error("reading session %lld: %s", (long long)sid,
		    bst_strerror(r));
	if ((r = pick_channel(show, want, &ch)) != 0)
		goto out;
	ctl_jint(ch, "channel", &n);
	ex.channel = (int32_t)n;
	if ((r = rec_foreach_event(rec, sid, first_cb, &ex)) != 0 &&
	    r != EXPORT_STOP) {
		r = ctl_error("reading session %lld: %s", (long long)sid,
		    bst_strerror(r));
		goto out;
	}
	if (path != NULL) {
		/* A recording is as sensitive as the database. */
		if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		    0600)) < 0 || (ex.fp = fdopen(fd, "w")) == NULL) {
			r = ctl_error("%s: %s", path, strerror(errno));
			goto out;
		}
	} else
		ex.fp = stdout;
	header = make_header(show, ch, ex.t0, cap);
	r = put_line(&ex, cast_header(header));
	json_object_put(header);
	ex.started = 0;
	if (r == 0)
		r = rec_foreach_event(rec, sid, export_cb, &ex);
	for (i = 0; r == 0 && i < S_N; i++)
		if (ex.utf[i].npend > 0 && put_data(&ex, ex.t0, i, "", 0, 1))
			r = EXPORT_STOP;
	if (r == 0 && fflush(ex.fp) != 0) {
		ex.err = errno;
		r = EXPORT_STOP;
	}
	if (path != NULL && fclose(ex.fp) != 0 && r == 0) {
		ex.err = errno;
		r = EXPORT_STOP;
	}
	if (r == EXPORT_STOP)
		r = ex.err == EPIPE ? CTL_EXIT_FAIL : ctl_error("writing %s: %s",
		    path ? path : "output", strerror(ex.err));
	else if (r != 0)
		r = ctl_error("reading session %lld: %s", (long long)sid,
		    bst_strerror(r));
	else
		r = CTL_EXIT_OK;
 out:
	json_object_put(show);
	return r;
}

const struct ctl_cmd ctl_export_entry = {
	"export",
	"ID [--format asciicast] [--channel N] [--stdin] [--idle-cap SECONDS] "
	"[--output FILE]",
	"Writes one channel of session ID as an asciicast v2 recording, for\n"
	"`asciinema play FILE` and the asciinema web player: the channel's\n"
	"output (stdout and stderr as the terminal showed them), window\n"
	"changes, and a marker for each decision on it and for the session's\n"
	"end, with their recorded times.  Bytes that are not UTF-8 are shown\n"
	"as U+FFFD (replay gives the exact bytes).\n"
	"\n"
	"  --format asciicast  the only format (default)\n"
	"  --channel N         this channel (default: the first with a pty,\n"
	"                      else the first)\n"
	"  --stdin             also what the agent sent (\"i\" events)\n"
	"  --idle-cap SECONDS  players shorten longer pauses to this\n"
	"                      (idle_time_limit); the times stay as recorded\n"
	"  --output FILE       write FILE (mode 0600) instead of stdout\n",
	export_opts,
	export_fn,
};
