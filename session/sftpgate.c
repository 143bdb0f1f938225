/*
 * sftpgate.c: the sftp subsystem judged request by request (see
 * sftpgate.h).  Trusts the monitor's verdicts; neither the agent's
 * requests nor the target's replies.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/proto.h"
#include "common/util.h"
#include "recorder/recorder.h"
#include "session/chan.h"
#include "session/lines.h"
#include "session/monitor_wrap.h"
#include "session/sftp.h"
#include "session/sftpgate.h"

void
sftp_gate_start(struct chan *c)
{
	c->lmode = LM_SFTP;
	c->line_verdict = -1;
	c->hold_cap = HOLD_CAP_SFTP;
	c->sftp = sftp_state_new();
	c->inject = xmalloc(INJECT_CAP);
}

void
sftp_gate_free(struct chan *c)
{
	sftp_req_free(&c->sreq);
	sftp_state_free(c->sftp);
	c->sftp = NULL;
	free(c->inject);
	c->inject = NULL;
	c->inject_len = 0;
}

/* Our replies go in only between two of the target's, and only whole. */
static void
inject_flush(struct chan *c, size_t keep_room)
{
	if (c->inject_len == 0 || !sftp_at_boundary(c->sftp) ||
	    stream_room(&c->out) < c->inject_len + keep_room)
		return;
	stream_append(&c->out, c->inject, c->inject_len);
	c->inject_len = 0;
}

size_t
sftp_gate_out(struct chan *c, const uint8_t *p, size_t n)
{
	size_t used = 0, k, room;

	while (used < n) {
		room = stream_room(&c->out);
		if (room == 0)
			break;
		if (sftp_broken(c->sftp)) {
			/* Not SFTP: relayed (and recorded) as it is. */
			k = n - used < room ? n - used : room;
		} else {
			k = sftp_reply(c->sftp, p + used,
			    n - used < room ? n - used : room);
			if (k == 0 && !sftp_broken(c->sftp))
				break;
			if (k == 0)
				continue;
		}
		stream_append(&c->out, p + used, k);
		used += k;
		/* Room stays for the rest: the caller may have promised it. */
		inject_flush(c, n - used);
	}
	return used;
}

/* Answers the request at the head of the hold itself, and drops it. */
static int
refuse(struct chan *c, size_t plen, uint32_t id, uint32_t status,
    const char *msg)
{
	uint8_t reply[600];
	size_t n = sftp_status(reply, sizeof(reply), id, status, msg);

	if (n == 0 || INJECT_CAP - c->inject_len < n)
		return -1;	/* earlier refusals not out yet: wait */
	memcpy(c->inject + c->inject_len, reply, n);
	c->inject_len += n;
	hold_drop(c, plen);
	inject_flush(c, 0);
	return 0;
}

static void
refused(struct chan *c, const char *what, const char *why)
{
	char msg[700];
	json_object *o = json_object_new_object();

	snprintf(msg, sizeof(msg), "sftp %s refused: %s", what, why);
	jadd_str(o, "message", msg);
	jadd_str(o, "sftp", what);
	chan_meta(c, "error", o);
	chan_notice(c, msg);
}

/* The monitor answered about c->sreq (still at the head of the hold). */
static int
decided(struct chan *c)
{
	struct sftp_req *q = &c->sreq;
	const char *msg = c->line_msg != NULL && *c->line_msg != '\0' ?
	    c->line_msg : "not permitted";

	if (c->line_verdict == VERDICT_RUN) {
		if (in_append(c, c->hold, c->line_len) != 0)
			return -1;	/* no room yet: next turn */
		if (c->line_msg != NULL && *c->line_msg != '\0')
			chan_notice(c, c->line_msg);
		sftp_forwarded(c->sftp, q);
		hold_drop(c, c->line_len);
	} else {
		if (refuse(c, c->line_len, q->id, SSH_FX_PERMISSION_DENIED,
		    msg) != 0)
			return -1;
		chan_notice(c, msg);
	}
	sftp_req_free(q);
	c->line_deciding = 0;
	c->line_verdict = -1;
	return 0;
}

void
sftp_step(struct chan *c, int *progress)
{
	struct sftp_req *q = &c->sreq;
	size_t plen = 0;

	if (c->deciding || !c->kind_set || c->state == CH_FAILED ||
	    c->state == CH_DONE || c->sftp == NULL)
		return;
	hold_pull(c, progress);
	inject_flush(c, 0);
	if (gate_stopped(c, sftp_broken(c->sftp), "sftp", progress))
		return;
	if (c->line_deciding) {
		if (c->line_verdict < 0 || decided(c) != 0)
			return;
		*progress = 1;
	}
	while (c->hold_len > 0 && !c->line_deciding) {
		switch (sftp_frame(c->hold, c->hold_len, &plen)) {
		case SFTP_FRAME_MORE:
			if (c->down_eof && c->hold_pending == 0) {
				/* Never to be completed: not relayed. */
				refused(c, "packet", "the agent's input ended "
				    "inside an sftp packet; its start was not "
				    "relayed");
				hold_drop(c, c->hold_len);
				*progress = 1;
			}
			return;
		case SFTP_FRAME_BAD:
			chan_fail(c, PROTO_EXIT_NOPERM, "not permitted: the "
			    "agent sent a malformed sftp packet (length %u)",
			    (unsigned)get_be32(c->hold));
			*progress = 1;
			return;
		case SFTP_FRAME_OK:
			break;
		}
		sftp_req_parse(c->hold, plen, q);
		sftp_check(c->sftp, q);
		switch (q->verdict) {
		case SFTP_PASS:
			/* Recorded in batches (chan_step): uploads are many
			 * WRITE requests in a row. */
			if (in_queue(c, c->hold, plen) != 0) {
				sftp_req_free(q);
				return;	/* no room yet: parsed again later */
			}
			sftp_forwarded(c->sftp, q);
			hold_drop(c, plen);
			break;
		case SFTP_REFUSE:
			if (refuse(c, plen, q->id, q->status, q->why) != 0) {
				sftp_req_free(q);
				return;
			}
			refused(c, q->op, q->why);
			break;
		case SFTP_JUDGE:
			/* What went before it is on record before it. */
			stream_record(c, &c->in, REC_IN, 1);
			c->line_len = plen;
			line_decide(c, "sftp", q->text);
			*progress = 1;
			return;	/* q stays until decided() */
		}
		sftp_req_free(q);
		*progress = 1;
	}
}
