/*
 * ctl-replay.c: "bastionctl replay ID": writes a session's recorded
 * output to stdout, byte for byte, in order, sleeping the recorded gaps
 * (divided by --speed, each capped by --idle-cap).  The bytes are written
 * as recorded: they are the target's terminal output, meant for a
 * terminal or a file, and are not sanitized (the session's metadata is
 * never printed here).  The bytes of sftp channels are binary protocol,
 * not terminal output: they are left out (with a note on stderr) unless
 * --channel asks for that channel.  Reads the database read-only.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "recorder/recorder.h"
#include "tools/ctl.h"

#define REPLAY_IDLE_CAP	2.0	/* seconds */
#define REPLAY_STOP	1	/* callback result: output failed */

static const struct ctl_opt replay_opts[] = {
	{ "--speed", 1 },
	{ "--no-wait", 0 },
	{ "--idle-cap", 1 },
	{ "--channel", 1 },
	{ "--stdin", 0 },
	{ "--split", 0 },
	{ "--decisions", 0 },
	{ NULL, 0 }
};

struct replay {
	double	 speed;
	int64_t	 cap_us;	/* 0: no cap */
	int	 wait;
	long	 channel;	/* -1: every channel */
	int	 with_in;
	int	 split;
	int	 decisions;	/* policy/approval events on stderr */
	int64_t	 last_t;	/* of the last event written, -1 before */
	FILE	*last_fp;
	int	 err;		/* errno of a failed write */
	struct ctl_xfer xfer;	/* channels whose bytes are left out */
};

static int
sleep_us(int64_t us)
{
	struct timespec ts;

	ts.tv_sec = (time_t)(us / 1000000);
	ts.tv_nsec = (long)(us % 1000000) * 1000;
	while (nanosleep(&ts, &ts) != 0)
		if (errno != EINTR)
			return -1;
	return 0;
}

static int
replay_cb(void *arg, int64_t seq, int64_t t_us, int32_t channel,
    const char *kind, const void *data, size_t len)
{
	struct replay *rp = arg;
	FILE *fp = stdout;
	int64_t gap;

	(void)seq;
	if (strcmp(kind, "request") == 0) {
		int x = ctl_xfer_note(&rp->xfer, channel, data, len, NULL);

		if (x != CTL_XFER_NONE && rp->channel != channel)
			fprintf(stderr, "bastionctl: channel %d is %s (binary "
			    "protocol): its bytes are left out; its file "
			    "operations: --decisions, or show; its files: "
			    "files; its bytes: --channel %d\n", (int)channel,
			    x == CTL_XFER_SFTP ? "an sftp session" :
			    "a legacy scp upload", (int)channel);
		return 0;
	}
	if (rp->decisions && (strcmp(kind, "policy") == 0 ||
	    strcmp(kind, "approval") == 0)) {
		if (rp->channel < 0 || channel == rp->channel)
			ctl_show_decision(kind, data, len);
		return 0;
	}
	if (strcmp(kind, "out") == 0)
		;
	else if (strcmp(kind, "err") == 0) {
		if (rp->split)
			fp = stderr;
	} else if (strcmp(kind, "in") != 0 || !rp->with_in)
		return 0;
	if (rp->channel >= 0 && channel != rp->channel)
		return 0;
	if (rp->channel < 0 && ctl_xfer_is(&rp->xfer, channel))
		return 0;

	if (rp->wait && rp->last_t >= 0 && t_us > rp->last_t) {
		gap = t_us - rp->last_t;
		if (rp->cap_us > 0 && gap > rp->cap_us)
			gap = rp->cap_us;
		gap = (int64_t)((double)gap / rp->speed);
		if (gap > 0) {
			if (fflush(rp->last_fp) != 0)
				goto fail;
			sleep_us(gap);
		}
	}
	/* Keep the order of stdout and stderr when they are one terminal. */
	if (rp->last_fp != NULL && rp->last_fp != fp &&
	    fflush(rp->last_fp) != 0)
		goto fail;
	if (len > 0 && fwrite(data, 1, len, fp) != len)
		goto fail;
	rp->last_t = t_us;
	rp->last_fp = fp;
	return 0;
 fail:
	rp->err = errno;
	return REPLAY_STOP;
}

static int
replay_fn(struct ctl_ctx *ctx)
{
	struct replay rp;
	struct rec *rec;
	double cap = REPLAY_IDLE_CAP;
	int64_t sid;
	int r;

	if (ctx->json)
		return ctl_usage_error(ctx, "--json does not apply: replay "
		    "writes the recorded bytes");
	if ((r = ctl_one_sid(ctx, &sid)) != 0)
		return r;
	memset(&rp, 0, sizeof(rp));
	rp.speed = 1.0;
	rp.channel = -1;
	rp.last_t = -1;
	rp.wait = !ctl_opt_given(ctx, "--no-wait");
	rp.with_in = ctl_opt_given(ctx, "--stdin");
	rp.split = ctl_opt_given(ctx, "--split");
	rp.decisions = ctl_opt_given(ctx, "--decisions");
	if ((r = ctl_opt_double(ctx, "--speed", 1, &rp.speed)) != 0 ||
	    (r = ctl_opt_double(ctx, "--idle-cap", 0, &cap)) != 0 ||
	    (r = ctl_opt_long(ctx, "--channel", 0, INT_MAX,
	    &rp.channel)) != 0)
		return r;
	if (cap > 86400.0 * 365)
		cap = 0;
	rp.cap_us = (int64_t)(cap * 1e6);
	if ((r = ctl_db(ctx, &rec)) != 0)
		return r;
	r = rec_foreach_event(rec, sid, replay_cb, &rp);
	if (r == BST_ERR_NOTFOUND)
		return ctl_error("no session %lld", (long long)sid);
	if (r == REPLAY_STOP) {
		if (rp.err == EPIPE)
			return CTL_EXIT_FAIL;	/* reader went away */
		return ctl_error("writing output: %s", strerror(rp.err));
	}
	if (r != 0)
		return ctl_error("reading session %lld: %s", (long long)sid,
		    bst_strerror(r));
	if (fflush(stdout) != 0 || fflush(stderr) != 0)
		return errno == EPIPE ? CTL_EXIT_FAIL :
		    ctl_error("writing output: %s", strerror(errno));
	return CTL_EXIT_OK;
}

const struct ctl_cmd ctl_replay_entry = {
	"replay",
	"ID [--speed N] [--no-wait] [--idle-cap SECONDS] [--channel N] "
	"[--stdin] [--split] [--decisions]",
	"Writes what the target sent (\"out\" and \"err\" events) to stdout,\n"
	"exactly the recorded bytes, in order, with the recorded pauses.\n"
	"\n"
	"  --speed N          play N times faster (default 1)\n"
	"  --no-wait          no pauses: write everything at once\n"
	"  --idle-cap SECONDS cap each pause (default 2; 0: no cap)\n"
	"  --channel N        only channel N\n"
	"  --stdin            also what the agent sent (\"in\" events)\n"
	"  --split            the target's stderr to stderr\n"
	"  --decisions        each command's and shell line's decision and each\n"
	"                     approval request, as \"[bastion] ...\" lines on\n"
	"                     stderr, where they happened\n",
	replay_opts,
	replay_fn,
};
