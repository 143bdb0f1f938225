/*
 * scpgate.c: a legacy scp upload judged file by file (see scpgate.h).
 * Trusts the monitor's verdicts; neither the agent's records nor the
 * target's answers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/proto.h"
#include "common/util.h"
#include "recorder/recorder.h"
#include "session/chan.h"
#include "session/lines.h"
#include "session/scp.h"
#include "session/scpgate.h"

void
scp_gate_start(struct chan *c, const struct scp_sink *sink)
{
	c->lmode = LM_SCP;
	c->line_verdict = -1;
	c->hold_cap = HOLD_CAP;
	c->scp = scp_state_new(sink);
	c->inject = xmalloc(INJECT_CAP);
}

void
scp_gate_free(struct chan *c)
{
	scp_rec_free(&c->srec);
	scp_state_free(c->scp);
	c->scp = NULL;
	free(c->inject);
	c->inject = NULL;
	c->inject_len = 0;
}

size_t
scp_gate_out(struct chan *c, const uint8_t *p, size_t n)
{
	if (n > stream_room(&c->out))
		n = stream_room(&c->out);
	scp_reply(c->scp, p, n);
	stream_append(&c->out, p, n);
	return n;
}

/* Our answers go out only while the target owes none. */
static int
inject_flush(struct chan *c)
{
	if (c->inject_len == 0)
		return 0;
	if (!scp_quiet(c->scp) || stream_room(&c->out) < c->inject_len)
		return -1;
	stream_append(&c->out, c->inject, c->inject_len);
	c->inject_len = 0;
	return 0;
}

/* Answers the record at the head of the hold for the target, drops it. */
static int
refuse(struct chan *c, const struct scp_rec *r, const char *why)
{
	char msg[700], *p;
	size_t n;
	json_object *o;

	snprintf(msg, sizeof(msg), "%s", why);
	for (p = msg; *p != '\0'; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	n = scp_refusal(c->inject, INJECT_CAP, msg);
	if (n == 0)
		return -1;
	c->inject_len = n;
	hold_drop(c, r->len);
	o = json_object_new_object();
	jadd_str(o, "message", msg);
	jadd_str(o, "scp", r->type == 'D' ? "folder" : "file");
	if (r->name != NULL)
		jadd_str(o, "name", r->name);
	chan_meta(c, "error", o);
	(void)inject_flush(c);
	return 0;
}

/* The monitor answered about c->srec (still at the head of the hold). */
static int
decided(struct chan *c)
{
	struct scp_rec *r = &c->srec;
	const char *msg = c->line_msg != NULL && *c->line_msg != '\0' ?
	    c->line_msg : "not permitted";

	if (c->line_verdict == VERDICT_RUN) {
		if (in_append(c, c->hold, r->len) != 0)
			return -1;	/* no room yet: next turn */
		if (c->line_msg != NULL && *c->line_msg != '\0')
			chan_notice(c, c->line_msg);
		scp_forwarded(c->scp, r, r->len);
		hold_drop(c, r->len);
	} else if (refuse(c, r, msg) != 0)
		return -1;
	scp_rec_free(r);
	c->line_deciding = 0;
	c->line_verdict = -1;
	return 0;
}

void
scp_step(struct chan *c, int *progress)
{
	struct scp_rec *r = &c->srec;
	size_t n;

	if (c->deciding || !c->kind_set || c->state == CH_FAILED ||
	    c->state == CH_DONE || c->scp == NULL)
		return;
	hold_pull(c, progress);
	if (gate_stopped(c, scp_broken(c->scp), "scp", progress))
		return;
	if (c->line_deciding) {
		if (c->line_verdict < 0 || decided(c) != 0)
			return;
		*progress = 1;
	}
	while (!c->line_deciding && inject_flush(c) == 0) {
		scp_next(c->scp, c->hold, c->hold_len, r);
		switch (r->in) {
		case SCP_IN_WAIT:
			scp_rec_free(r);
			return;
		case SCP_IN_MORE:
			scp_rec_free(r);
			if (c->hold_len > 0 && c->down_eof &&
			    c->hold_pending == 0) {
				json_object *o = json_object_new_object();

				/* Never to be completed: not relayed. */
				jadd_str(o, "message", "the agent's input "
				    "ended inside an scp record; its start "
				    "was not relayed");
				jadd_str(o, "scp", "record");
				chan_meta(c, "error", o);
				hold_drop(c, c->hold_len);
				*progress = 1;
			}
			return;
		case SCP_IN_BAD:
			chan_fail(c, PROTO_EXIT_NOPERM, "not permitted: the "
			    "agent sent %s to scp -t; the transfer was stopped",
			    r->why);
			scp_rec_free(r);
			*progress = 1;
			return;
		case SCP_IN_PASS:
			stream_compact(&c->in);
			n = r->len < stream_room(&c->in) ? r->len :
			    stream_room(&c->in);
			/* A record whole, file data in what fits. */
			if (n == 0 || (n < r->len && r->type != 'd')) {
				scp_rec_free(r);
				return;	/* no room yet */
			}
			(void)in_queue(c, c->hold, n);
			scp_forwarded(c->scp, r, n);
			hold_drop(c, n);
			scp_rec_free(r);
			*progress = 1;
			break;
		case SCP_IN_JUDGE:
			/* What went before it is on record before it. */
			stream_record(c, &c->in, REC_IN, 1);
			line_decide(c, "scp", r->text);
			*progress = 1;
			return;	/* r stays until decided() */
		}
	}
}
