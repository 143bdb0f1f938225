/*
 * lines.c: shells judged line by line (see lines.h).  Trusts the
 * monitor's verdicts; not the agent's input nor the target's output.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <libssh/libssh.h>

#include "common/log.h"
#include "common/proto.h"
#include "common/util.h"
#include "policy/cmdparse.h"
#include "policy/script.h"
#include "recorder/recorder.h"
#include "session/chan.h"
#include "session/lines.h"
#include "session/linetrack.h"
#include "session/monitor_wrap.h"
#include "session/relay.h"
#include "session/shellinit.h"

/* ---- agent input held for judgement (LM_SCRIPT, LM_PTY) ---- */

static void
hold_alloc(struct chan *c)
{
	if (c->hold != NULL)
		return;
	if (c->hold_cap == 0)
		c->hold_cap = HOLD_CAP;
	c->hold = xmalloc(c->hold_cap);
}

/*
 * Copies what fits of the agent's input into the hold buffer; the rest
 * stays with libssh (backpressure) and is pulled by hold_pull().  Once a
 * script was refused, input is dropped: it will never be sent.
 */
int
hold_take(struct chan *c, const void *data, uint32_t len)
{
	size_t n = len;

	if (c->w->monitor_lost)
		return 0;
	if (c->script_stop || c->state == CH_FAILED) {
		c->hold_pending = 0;
		return (int)len;
	}
	hold_alloc(c);
	if (n > c->hold_cap - c->hold_len)
		n = c->hold_cap - c->hold_len;
	memcpy(c->hold + c->hold_len, data, n);
	c->hold_len += n;
	c->hold_pending = len - n;
	return (int)n;
}

void
hold_pull(struct chan *c, int *progress)
{
	size_t want = c->hold_pending;
	int rc;

	if (want == 0 || c->down == NULL)
		return;
	hold_alloc(c);
	/*
	 * What fits, not all of it: libssh may hold more than the buffer
	 * (a whole window), and calls back only when more arrives, which a
	 * client out of window never sends.
	 */
	if (want > c->hold_cap - c->hold_len)
		want = c->hold_cap - c->hold_len;
	if (want == 0)
		return;
	rc = ssh_channel_read_nonblocking(c->down, c->w->scratch, want, 0);
	if (rc == SSH_ERROR) {
		c->down_closed = 1;
		return;
	}
	if (rc <= 0) {
		c->hold_pending = 0;
		return;
	}
	if ((size_t)rc > want)
		fatal("libssh returned more than asked");
	c->hold_pending = (size_t)rc >= c->hold_pending ? 0 :
	    c->hold_pending - (size_t)rc;
	if (!c->script_stop && c->state != CH_FAILED) {
		memcpy(c->hold + c->hold_len, c->w->scratch, (size_t)rc);
		c->hold_len += (size_t)rc;
	}
	*progress = 1;
}

void
hold_drop(struct chan *c, size_t n)
{
	if (n >= c->hold_len) {
		c->hold_len = 0;
		return;
	}
	memmove(c->hold, c->hold + n, c->hold_len - n);
	c->hold_len -= n;
}

/*
 * Where an sftp or scp gate's step stops before looking at the input:
 * the target's answers are not the protocol (the transfer ends, exit 76),
 * or the agent closed its input while a request waits for approvers.
 * Clients do that only when they quit or were killed (killing sftp or
 * scp leaves its ssh running with its input closed): nobody waits for
 * the answer, so the request is withdrawn (closing the channel cancels
 * it) rather than carried out after the agent gave up (exit 75).
 */
int
gate_stopped(struct chan *c, int broken, const char *proto, int *progress)
{
	if (broken)
		chan_fail(c, PROTO_EXIT_PROTOCOL, "the target's %s answers "
		    "are malformed; the transfer was stopped", proto);
	else if (c->line_deciding && c->line_verdict < 0 && c->line_held &&
	    c->down_eof && c->hold_pending == 0)
		chan_fail(c, PROTO_EXIT_TEMPFAIL, "the agent closed its input "
		    "while an %s request was held for approval; the request "
		    "was withdrawn", proto);
	else
		return 0;
	*progress = 1;
	return 1;
}

/*
 * Bytes of the bastion's own or released agent input, towards the target:
 * in_queue() leaves the recording to the relay loop (in batches),
 * in_append() sends them for recording at once.
 */
int
in_queue(struct chan *c, const void *p, size_t n)
{
	if (n == 0)
		return 0;
	stream_compact(&c->in);
	if (stream_room(&c->in) < n)
		return -1;
	stream_append(&c->in, p, n);
	return 0;
}

int
in_append(struct chan *c, const void *p, size_t n)
{
	if (in_queue(c, p, n) != 0)
		return -1;
	stream_record(c, &c->in, REC_IN, 1);
	return 0;
}


/*
 * LM_PTY: watches what the target prints for the shell integration's
 * marks (linetrack.h).  A prompt mark only counts while no Enter is being
 * judged; a line report only if it answers the question asked.
 */
void
out_observe(struct chan *c, const uint8_t *p, size_t n)
{
	enum lt_event ev;
	size_t used;

	if (c->lmode != LM_PTY || c->nonce[0] == '\0')
		return;
	while (n > 0) {
		used = lt_marks_feed(&c->mk, p, n, &ev);
		p += used;
		n -= used;
		if (ev == LT_EV_PROMPT && c->pend == P_NONE)
			c->ev_prompt = 1;
		else if (ev == LT_EV_REPORT && c->pend == P_QUERY &&
		    !c->report_ready && strcmp(c->mk.chal, c->chal) == 0) {
			free(c->report);
			c->report = xmalloc(c->mk.line_len + 1);
			memcpy(c->report, c->mk.line, c->mk.line_len + 1);
			c->report_len = c->mk.line_len;
			c->report_ready = 1;
		} else if (ev == LT_EV_REPORT)
			log_info("channel %u: a line report that answers no "
			    "question was ignored", c->id);
	}
}


/* 1 when no agent input of a judged shell waits for anything. */
int
line_idle(const struct chan *c)
{
	if (c->lmode == LM_NONE || c->script_stop)
		return 1;
	return c->hold_len == 0 && c->hold_pending == 0 &&
	    !c->line_deciding && c->pend == P_NONE;
}

void
line_decide(struct chan *c, const char *kind, const char *text)
{
	c->line_deciding = 1;
	c->line_verdict = -1;
	c->line_held = 0;
	if (mm_decide(c->id, kind, text, !c->no_wait) != 0)
		c->w->monitor_lost = 1;
}

/*
 * A script line was refused (or cannot be judged): like set -e, nothing
 * after it is sent; what was sent finishes, then EOF, then the status.
 */
static void
script_refuse(struct chan *c, int code, const char *msg)
{
	char line[1024];
	json_object *o = json_object_new_object();

	snprintf(line, sizeof(line), "%s; the script stopped there: nothing "
	    "after it was sent", msg);
	jadd_str(o, "message", line);
	jadd_int(o, "exit_status", code);
	chan_meta(c, "error", o);
	chan_notice(c, line);
	c->script_stop = 1;
	c->script_exit = code;
	c->hold_len = 0;
}

/* LM_SCRIPT: one command at a time, sent only once the monitor said run. */
void
script_step(struct chan *c, int *progress)
{
	size_t n = 0;
	char *text;
	int eof;

	if (c->deciding || !c->kind_set || c->state == CH_FAILED ||
	    c->state == CH_DONE)
		return;
	hold_pull(c, progress);
	if (c->script_stop) {
		c->hold_len = 0;
		return;
	}
	if (c->line_deciding) {
		if (c->line_verdict < 0)
			return;
		if (c->line_verdict == VERDICT_RUN) {
			if (in_append(c, c->hold, c->line_len) != 0)
				return;	/* no room yet: next turn */
			if (c->line_msg != NULL && *c->line_msg != '\0')
				chan_notice(c, c->line_msg);
			hold_drop(c, c->line_len);
		} else
			script_refuse(c, c->line_exit ? c->line_exit :
			    PROTO_EXIT_NOPERM, c->line_msg ? c->line_msg :
			    "not permitted");
		c->line_deciding = 0;
		c->line_verdict = -1;
		c->scanned = 0;
		*progress = 1;
		if (c->script_stop)
			return;
	}
	eof = c->down_eof && c->hold_pending == 0;
	if (c->hold_len == 0 || (c->scanned == c->hold_len &&
	    c->scanned_eof == eof))
		return;
	switch (script_next((const char *)c->hold, c->hold_len, eof, &n)) {
	case SCRIPT_COMMAND:
		if (memchr(c->hold, '\0', n) != NULL) {
			script_refuse(c, PROTO_EXIT_NOPERM, "not permitted: "
			    "the script contains a NUL byte");
			break;
		}
		text = xstrndup((const char *)c->hold, n);
		c->line_len = n;
		line_decide(c, "line", text);
		free(text);
		*progress = 1;
		break;
	case SCRIPT_TOOLONG:
		script_refuse(c, PROTO_EXIT_NOPERM, "not permitted: a command "
		    "in the script is longer than 64 KiB");
		*progress = 1;
		break;
	case SCRIPT_MORE:
		c->scanned = c->hold_len;
		c->scanned_eof = eof;
		break;
	}
}

/* LM_PTY: asks the monitor about the line in c->judged. */
static void
pty_decide(struct chan *c, const char *kind)
{
	c->pend = P_DECIDE;
	line_decide(c, kind, c->judged);
}

/* The integrated shell reported its line (c->report). */
static void
pty_report(struct chan *c)
{
	struct pc_result *pr;
	int mismatch;

	if (memchr(c->report, '\0', c->report_len) != NULL) {
		c->pend = P_NONE;
		c->fg = FG_PROGRAM;
		(void)in_append(c, SHELLINIT_CANCEL, 2);
		chan_notice(c, "not permitted: the line holds a NUL byte; it "
		    "was not run");
		return;
	}
	if (c->auto_query && c->report_len == 0) {
		/* The program took the typed-ahead line: nothing to do. */
		c->pend = P_NONE;
		return;
	}
	pr = pc_parse(c->report, c->report_len);
	if (pr->incomplete && c->report_len < PC_MAX_INPUT) {
		/*
		 * An open quote, here-document, if/for/while, trailing | ...:
		 * a newline goes into the shell's buffer and nothing runs; the
		 * whole construct is judged once complete.
		 */
		mismatch = !c->lt.certain || c->lt.len != c->report_len ||
		    memcmp(c->lt.line, c->report, c->report_len) != 0;
		if (!mismatch) {
			/* Keep following: the buffer is the report + "\n". */
			lt_reset(&c->lt);
			lt_set_line(&c->lt, c->report, c->report_len);
			lt_set_line(&c->lt, "\n", 1);
		} else {
			lt_reset(&c->lt);
			c->lt.certain = 0;
		}
		(void)in_append(c, SHELLINIT_NEWLINE, 2);
		c->pend = P_NONE;
		pc_result_free(pr);
		return;
	}
	/*
	 * The shell's own buffer is what would run.  If the tracker followed
	 * every key and still disagrees, something else wrote the report or
	 * the line: the line is then opaque.
	 */
	mismatch = c->lt.certain && (c->lt.len != c->report_len ||
	    (c->report_len > 0 &&
	    memcmp(c->lt.line, c->report, c->report_len) != 0));
	free(c->judged);
	c->judged = xstrndup(c->report, c->report_len);
	c->judged_report = 1;
	c->judged_shellish = mismatch || script_line_shellish(pr);
	pc_result_free(pr);
	pty_decide(c, mismatch ? "line-opaque" : "line");
}

/* The monitor's final answer for the line in c->judged. */
static void
pty_verdict(struct chan *c)
{
	int v = c->line_verdict;

	c->line_verdict = -1;
	c->line_deciding = 0;
	c->pend = P_NONE;
	if (v == VERDICT_RUN && c->judged_incomplete) {
		/* Part of a construct: the shell continues it. */
		c->judged_incomplete = 0;
		if (c->line_msg != NULL && *c->line_msg != '\0')
			chan_notice(c, c->line_msg);
		(void)in_append(c, "\r", 1);
		free(c->acc);
		c->acc = xasprintf("%s\n", c->judged);
		free(c->judged);
		c->judged = NULL;
		lt_reset(&c->lt);
		return;
	}
	c->judged_incomplete = 0;
	if (v == VERDICT_RUN) {
		if (c->line_msg != NULL && *c->line_msg != '\0')
			chan_notice(c, c->line_msg);
		if (c->judged_report) {
			(void)in_append(c, SHELLINIT_ACCEPT, 2);
			c->fg = c->judged_shellish ? FG_SHELL : FG_PROGRAM;
		} else
			(void)in_append(c, "\r", 1);
	} else {
		char line[1024];

		snprintf(line, sizeof(line), "%s; the line was not run",
		    c->line_msg ? c->line_msg : "not permitted");
		chan_notice(c, line);
		if (c->judged_report) {
			/* Empty the line; the shell shows a fresh prompt. */
			(void)in_append(c, SHELLINIT_CANCEL, 2);
			c->fg = FG_PROGRAM;
		} else
			(void)in_append(c, "\025\003", 2);	/* ^U ^C */
	}
	c->typed_ahead = 0;
	lt_reset(&c->lt);
	free(c->acc);
	c->acc = NULL;
	free(c->judged);
	c->judged = NULL;
}

/* The agent pressed Enter (held, not forwarded). */
static void
pty_enter(struct chan *c)
{
	struct pc_result *pr;
	char buf[2 + LT_CHAL_LEN + 1];
	uint8_t rnd[LT_CHAL_LEN / 2];
	char *text;

	switch (c->fg) {
	case FG_PROGRAM:
		/*
		 * A program the policy let start reads this.  Were it the
		 * integrated bash after all, Enter does nothing there.
		 */
		(void)in_append(c, "\r", 1);
		c->typed_ahead = 1;
		c->ahead_enter = 1;
		lt_reset(&c->lt);
		break;
	case FG_PROMPT:
		/* Ask bash for its line, with a fresh challenge. */
		random_hex(rnd, sizeof(rnd), c->chal);
		snprintf(buf, sizeof(buf), "%s%s", SHELLINIT_QUERY, c->chal);
		(void)in_append(c, buf, strlen(buf));
		c->pend = P_QUERY;
		c->report_ready = 0;
		c->deadline = now_mono_us() + QUERY_US;
		break;
	case FG_SHELL:
	case FG_WAIT:
		/* No integration to ask: the tracker's line, or opaque. */
		text = xasprintf("%s%.*s", c->acc ? c->acc : "",
		    (int)c->lt.len, c->lt.line ? c->lt.line : "");
		free(c->judged);
		c->judged = text;
		c->judged_report = 0;
		c->judged_shellish = 1;
		if (!c->lt.certain) {
			pty_decide(c, "line-opaque");
			break;
		}
		if (*text == '\0') {
			(void)in_append(c, "\r", 1);
			break;
		}
		pr = pc_parse(text, strlen(text));
		if (pr->incomplete && strlen(text) < PC_MAX_INPUT) {
			/*
			 * The parser says the shell waits for more.  Only the
			 * shell knows: were they to disagree, this Enter would
			 * run the line unjudged.  So it is judged too, with
			 * the opaque action; once allowed, the construct goes
			 * on and is judged whole at its end.
			 */
			c->judged_incomplete = 1;
			pty_decide(c, "line-part");
		} else
			pty_decide(c, "line");
		pc_result_free(pr);
		break;
	}
}

/* Feeds held agent input to the tracker, up to the next Enter. */
static void
pty_input(struct chan *c, int *progress)
{
	uint8_t fwd[4096];
	size_t chunk, used, nfwd;
	int enter;

	while (c->hold_len > 0 && c->pend == P_NONE) {
		chunk = c->hold_len < sizeof(fwd) ? c->hold_len : sizeof(fwd);
		stream_compact(&c->in);
		if (stream_room(&c->in) < chunk + 64)
			return;	/* the target is slow: later */
		used = lt_feed(&c->lt, c->hold, chunk, fwd, &nfwd, &enter);
		if (nfwd > 0) {
			(void)in_append(c, fwd, nfwd);
			if (c->fg == FG_PROGRAM) {
				c->typed_ahead = 1;
				c->ahead_enter = 0;
			}
		}
		hold_drop(c, used);
		*progress = 1;
		if (enter) {
			c->auto_query = 0;
			pty_enter(c);
		}
	}
}

/* LM_PTY: one step of the Enter-by-Enter judging. */
void
pty_step(struct chan *c, int *progress)
{
	int64_t now;

	if (c->deciding || !c->kind_set || c->state == CH_FAILED ||
	    c->state == CH_DONE)
		return;
	hold_pull(c, progress);
	if (!c->started)
		return;
	now = now_mono_us();
	if (c->fg == FG_WAIT && c->deadline == 0)
		c->deadline = now + FIRST_PROMPT_US;
	if (c->ev_prompt) {
		c->ev_prompt = 0;
		if (c->pend == P_NONE) {
			int ahead = c->typed_ahead && c->ahead_enter;

			c->integrated = 1;
			c->fg = FG_PROMPT;
			lt_reset(&c->lt);
			if (c->typed_ahead)
				c->lt.certain = 0;
			c->typed_ahead = c->ahead_enter = 0;
			free(c->acc);
			c->acc = NULL;
			*progress = 1;
			/*
			 * Typed ahead while a program ran, ending with Enter:
			 * if the shell got those keys instead, its line is what
			 * the agent meant to run.  Ask for it and judge it.
			 */
			if (ahead) {
				c->auto_query = 1;
				pty_enter(c);
			}
		}
	}
	if (c->fg == FG_WAIT && now > c->deadline) {
		json_object *o = json_object_new_object();

		/* No bash, or it never showed a prompt: judge every line. */
		jadd_str(o, "message", "no shell integration: every line is "
		    "judged from the keys typed");
		chan_meta(c, "error", o);
		c->integrated = 0;
		c->fg = FG_SHELL;
		*progress = 1;
	}
	if (c->pend == P_QUERY) {
		if (c->report_ready) {
			c->report_ready = 0;
			pty_report(c);
			*progress = 1;
		} else if (now > c->deadline) {
			c->pend = P_NONE;
			c->fg = FG_PROGRAM;
			chan_notice(c, "the shell did not report its line in "
			    "time; it was not run");
			*progress = 1;
		}
	}
	if (c->pend == P_DECIDE && c->line_verdict >= 0) {
		pty_verdict(c);
		*progress = 1;
	}
	if (c->pend == P_NONE && c->fg != FG_WAIT)
		pty_input(c, progress);
}

