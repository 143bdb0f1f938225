/*
 * worker.c: the SSH work of one agent connection.
 *
 * Server side (libssh) towards the agent, client side towards the target,
 * both in one ssh_event, relayed channel by channel.  Every byte read from
 * either side is sent to the monitor for recording first and written to
 * the other side only after the monitor has committed it (relay.h).
 * Flow control follows the recipe in docs/ARCHITECTURE.md: data callbacks
 * only copy into bounded streams, writes are gated on the peer's window,
 * leftovers libssh still holds are pulled when there is room for all of
 * them.
 *
 * Trusts: the monitor (fd 4).  Does not trust: the agent, the target.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/random.h>
#include <sys/socket.h>

#include <json-c/json.h>
#include <libssh/callbacks.h>
#include <libssh/libssh.h>
#include <libssh/server.h>

#include "common/err.h"
#include "common/log.h"
#include "common/proctitle.h"
#include "common/proto.h"
#include "common/strv.h"
#include "common/util.h"
#include "recorder/recorder.h"
#include "policy/cmdparse.h"
#include "policy/scpcmd.h"
#include "policy/script.h"
#include "session/chan.h"
#include "session/linetrack.h"
#include "session/lines.h"
#include "session/monitor_wrap.h"
#include "session/relay.h"
#include "session/sandbox.h"
#include "session/scpgate.h"
#include "session/sftpgate.h"
#include "session/upstream.h"
#include "session/shellinit.h"
#include "session/worker.h"

static int exec_scp_sink(struct chan *c);

#define WRITE_MAX	(1024 * 1024)	/* bytes per ssh_channel_write call */
#define POLL_IDLE_MS	200
#define RECORD_CHUNK	(512 * 1024)	/* see stream_record() */

/* ---- recording helpers ---- */

static void
meta(struct worker *w, uint32_t chan, const char *kind, json_object *o)
{
	if (mm_meta(chan, kind, o) == 0)
		w->monitor_lost = 1;
	json_object_put(o);
}

static json_object *
jreq(const char *type, int accepted)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "type", json_object_new_string(type));
	json_object_object_add(o, "accepted",
	    json_object_new_boolean(accepted));
	return o;
}

void
jadd_str(json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, json_object_new_string(v ? v : ""));
}

void
jadd_int(json_object *o, const char *k, int v)
{
	json_object_object_add(o, k, json_object_new_int(v));
}

/* n random bytes as 2n hex characters into out (2n + 1 bytes). */
void
random_hex(uint8_t *buf, size_t n, char *out)
{
	size_t got = 0;
	ssize_t r;

	while (got < n) {
		r = getrandom(buf + got, n - got, 0);
		if (r <= 0)
			fatal("getrandom failed");
		got += (size_t)r;
	}
	hex_encode(buf, n, out);
}

/*
 * Appends what fits of p to s; returns how much.  An sftp or scp upload
 * channel's stdout goes through its gate, which follows the target's
 * answers (and puts the bastion's own between them).
 */
static size_t
stream_put(struct chan *c, struct stream *s, const uint8_t *p, size_t n)
{
	if (s == &c->out && c->lmode == LM_SFTP)
		return sftp_gate_out(c, p, n);
	if (s == &c->out && c->lmode == LM_SCP)
		return scp_gate_out(c, p, n);
	if (n > stream_room(s))
		n = stream_room(s);
	stream_append(s, p, n);
	return n;
}

/* Copies what fits of data into s (recording it first); returns bytes taken. */
static int
stream_take(struct chan *c, struct stream *s, int kind, const void *data,
    uint32_t len)
{
	size_t n;

	(void)kind;
	if (c->w->monitor_lost)
		return 0;
	n = stream_put(c, s, data, len);
	s->lib_pending = len - n;
	return (int)n;
}

/*
 * Sends what was appended to s since the last call for recording, as one
 * event: callbacks only copy, so a busy stream is recorded in large
 * chunks rather than one event per SSH packet.
 */
void
stream_record(struct chan *c, struct stream *s, int kind, int force)
{
	const uint8_t *p;
	size_t n = stream_unrecorded(s, &p);
	uint64_t seq;

	if (n == 0 || c->w->monitor_lost)
		return;
	/*
	 * While earlier bytes of this stream await their commit, gather more:
	 * fewer, larger events.  With nothing in flight, record at once so
	 * interactive data is not delayed.
	 */
	if (!force && s->mcount > 0 && n < RECORD_CHUNK)
		return;
	if ((seq = mm_data(c->id, kind, p, n)) == 0) {
		c->w->monitor_lost = 1;
		return;
	}
	stream_recorded(s, seq);
}

/* Channel events keep their order relative to the data before them. */
void
chan_meta(struct chan *c, const char *kind, json_object *o)
{
	stream_record(c, &c->in, REC_IN, 1);
	stream_record(c, &c->out, REC_OUT, 1);
	stream_record(c, &c->err, REC_ERR, 1);
	meta(c->w, c->id, kind, o);
}

/* ---- requests queued towards the target ---- */

static void
req_push(struct chan *c, enum req_type t, const char *a, const char *b,
    int x, int y)
{
	struct req *r = xcalloc(1, sizeof(*r));

	r->type = t;
	r->a = a ? xstrdup(a) : NULL;
	r->b = b ? xstrdup(b) : NULL;
	r->x = x;
	r->y = y;
	if (c->reqs == NULL)
		c->reqs_tail = &c->reqs;
	*c->reqs_tail = r;
	c->reqs_tail = &r->next;
}

static void
req_pop(struct chan *c)
{
	struct req *r = c->reqs;

	c->reqs = r->next;
	if (c->reqs == NULL)
		c->reqs_tail = &c->reqs;
	free(r->a);
	free(r->b);
	free(r);
}

/* ---- channel callbacks: agent side ---- */

static int
down_data_cb(ssh_session s, ssh_channel ch, void *data, uint32_t len,
    int is_stderr, void *ud)
{
	struct chan *c = ud;

	(void)s; (void)ch; (void)is_stderr;
	if (c->lmode != LM_NONE)
		return hold_take(c, data, len);
	return stream_take(c, &c->in, REC_IN, data, len);
}

static void
down_eof_cb(ssh_session s, ssh_channel ch, void *ud)
{
	struct chan *c = ud;
	json_object *o = json_object_new_object();

	(void)s; (void)ch;
	if (c->down_eof)
		return;
	c->down_eof = 1;
	jadd_str(o, "from", "agent");
	chan_meta(c, "eof", o);
}

static void
down_close_cb(ssh_session s, ssh_channel ch, void *ud)
{
	struct chan *c = ud;

	(void)s; (void)ch;
	c->down_closed = 1;
}

static int
down_pty_cb(ssh_session s, ssh_channel ch, const char *term, int cols,
    int rows, int pxw, int pxh, void *ud)
{
	struct chan *c = ud;
	json_object *o = jreq("pty-req", !c->kind_set);

	(void)s; (void)ch; (void)pxw; (void)pxh;
	jadd_str(o, "term", term);
	jadd_int(o, "cols", cols);
	jadd_int(o, "rows", rows);
	chan_meta(c, "request", o);
	if (c->kind_set)
		return -1;
	c->pty = 1;
	req_push(c, RQ_PTY, term, NULL, cols, rows);
	return 0;
}

static int
down_winch_cb(ssh_session s, ssh_channel ch, int cols, int rows, int pxw,
    int pxh, void *ud)
{
	struct chan *c = ud;
	json_object *o = jreq("window-change", 1);

	(void)s; (void)ch; (void)pxw; (void)pxh;
	jadd_int(o, "cols", cols);
	jadd_int(o, "rows", rows);
	chan_meta(c, "request", o);
	if (c->state != CH_FAILED)
		req_push(c, RQ_WINCH, NULL, NULL, cols, rows);
	return 0;
}

/*
 * `ssh -A`: agent forwarding is not supported, but the attempt is recorded.
 * Having this callback makes libssh 0.10.6 answer "success" to a client
 * that asks for a reply; OpenSSH never does (want_reply is 0 for
 * auth-agent-req), and nothing is forwarded either way: the bastion never
 * opens an agent channel towards the client, and nothing is asked of the
 * target.
 */
static void
down_agent_cb(ssh_session s, ssh_channel ch, void *ud)
{
	struct chan *c = ud;
	json_object *o = jreq("auth-agent-req", 0);

	(void)s; (void)ch;
	jadd_str(o, "reason", "agent forwarding is not supported through "
	    "this bastion");
	chan_meta(c, "request", o);
}

static int
env_allowed(struct worker *w, const char *name)
{
	/* The same rule as cfg_env_allowed(), which the worker does not link. */
	if (strcmp(name, "LANG") == 0 ||
	    (strncmp(name, "LC_", 3) == 0 && name[3] != '\0'))
		return 1;
	return strv_contains(w->env_allow, name);
}

static int
down_env_cb(ssh_session s, ssh_channel ch, const char *name,
    const char *value, void *ud)
{
	struct chan *c = ud;
	int ok = !c->kind_set && env_allowed(c->w, name);
	json_object *o;

	(void)s; (void)ch;
	if (strcmp(name, "BASTION_WAIT") == 0) {
		/* An option for the bastion, never forwarded. */
		c->no_wait = strcmp(value, "0") == 0;
		o = jreq("env", 1);
		jadd_str(o, "name", name);
		jadd_str(o, "value", value);
		jadd_str(o, "reason", "bastion option, not forwarded");
		chan_meta(c, "request", o);
		return 0;
	}
	o = jreq("env", ok);
	jadd_str(o, "name", name);
	jadd_str(o, "value", value);
	if (!ok)
		jadd_str(o, "reason", c->kind_set ? "after exec/shell" :
		    "not in env_allow");
	chan_meta(c, "request", o);
	if (!ok)
		return -1;
	req_push(c, RQ_ENV, name, value, 0, 0);
	return 0;
}

/*
 * Everything libssh hands over because no callback took it: port
 * forwarding (direct-tcpip channels for `ssh -L`, tcpip-forward requests
 * for `ssh -R`), X11, other channel types and global requests.  None is
 * supported: each is recorded as a refused request of the session and
 * gets libssh's refusal ("administratively prohibited" for channels, a
 * failure reply for requests).  Keepalives are answered, not recorded.
 * Agent forwarding requests are channel requests: down_agent_cb().
 */
static int
down_message_cb(ssh_session s, ssh_message msg, void *ud)
{
	struct worker *w = ud;
	json_object *o = NULL;
	const char *type = NULL;
	int mtype = ssh_message_type(msg), sub = ssh_message_subtype(msg);

	(void)s;
	if (w->muted)
		return 0;	/* unanswered: see disconnect_telling() */
	if (!w->authenticated)
		return 1;	/* libssh's default answer, nothing to record */
	if (mtype == SSH_REQUEST_CHANNEL_OPEN) {
		switch (sub) {
		case SSH_CHANNEL_DIRECT_TCPIP:
			type = "direct-tcpip";
			break;
		case SSH_CHANNEL_FORWARDED_TCPIP:
			type = "forwarded-tcpip";
			break;
		case SSH_CHANNEL_X11:
			type = "x11";
			break;
		case SSH_CHANNEL_AUTH_AGENT:
			type = "auth-agent";
			break;
		default:
			type = "unknown";
			break;
		}
		o = jreq("channel-open", 0);
		jadd_str(o, "channel_type", type);
		if (sub == SSH_CHANNEL_DIRECT_TCPIP) {
			jadd_str(o, "host",
			    ssh_message_channel_request_open_destination(msg));
			jadd_int(o, "port",
			    ssh_message_channel_request_open_destination_port(
			    msg));
		}
		jadd_str(o, "reason", "port, X11 and agent forwarding are "
		    "not supported through this bastion");
	} else if (mtype == SSH_REQUEST_GLOBAL) {
		if (sub == SSH_GLOBAL_REQUEST_KEEPALIVE)
			return 1;
		o = jreq(sub == SSH_GLOBAL_REQUEST_TCPIP_FORWARD ?
		    "tcpip-forward" : sub ==
		    SSH_GLOBAL_REQUEST_CANCEL_TCPIP_FORWARD ?
		    "cancel-tcpip-forward" : "global", 0);
		if (sub == SSH_GLOBAL_REQUEST_TCPIP_FORWARD) {
			jadd_str(o, "address",
			    ssh_message_global_request_address(msg));
			jadd_int(o, "port",
			    ssh_message_global_request_port(msg));
		}
		jadd_str(o, "reason", "port forwarding is not supported "
		    "through this bastion");
	} else if (mtype == SSH_REQUEST_CHANNEL &&
	    sub == SSH_CHANNEL_REQUEST_X11) {
		o = jreq("x11-req", 0);
		jadd_str(o, "reason", "X11 forwarding is not supported "
		    "through this bastion");
	}
	if (o != NULL)
		meta(w, PROTO_SESSION_CHANNEL, "request", o);
	return 1;
}

/*
 * A channel whose input is judged (sftp, a shell or script, a legacy scp
 * upload) refuses input sent before it was started: that would have gone
 * through unjudged.  Returns 1 when it refused.
 */
static int
input_came_early(struct chan *c, const char *what)
{
	if (c->in.total_in == 0)
		return 0;
	chan_fail(c, PROTO_EXIT_NOPERM, "not permitted: input was sent "
	    "before the %s was requested", what);
	return 1;
}

/* Common part of exec/shell/subsystem: one per channel. */
static int
start_request(struct chan *c, const char *type, const char *arg)
{
	struct worker *w = c->w;
	json_object *o = jreq(type, !c->kind_set);

	if (strcmp(type, "exec") == 0)
		jadd_str(o, "command", arg);
	else if (strcmp(type, "subsystem") == 0)
		jadd_str(o, "name", arg);
	if (c->kind_set) {
		jadd_str(o, "reason", "channel already started");
		chan_meta(c, "request", o);
		return -1;
	}
	chan_meta(c, "request", o);
	c->kind_set = 1;
	if (strcmp(type, "subsystem") == 0 && strcmp(arg, "sftp") != 0) {
		chan_fail(c, PROTO_EXIT_NOPERM,
		    "not permitted: subsystem \"%s\" is not supported through "
		    "this bastion (only \"sftp\" is)", arg);
		return 0;
	}
	if (w->up_state != UP_READY) {
		chan_fail(c, w->up_exit ? w->up_exit : PROTO_EXIT_SOFTWARE,
		    "%s", w->up_message ? w->up_message :
		    "target connection not available");
		return 0;
	}
	/* The monitor decides (policy, approvals); see verdict_cb(). */
	c->start_type = strcmp(type, "exec") == 0 ? RQ_EXEC :
	    strcmp(type, "subsystem") == 0 ? RQ_SUBSYSTEM : RQ_SHELL;
	c->start_cmd = xstrdup(arg ? arg : "");
	if (c->start_type == RQ_SUBSYSTEM) {
		/* sftp: each request is judged (session/sftpgate.h). */
		if (input_came_early(c, "subsystem"))
			return 0;
		sftp_gate_start(c);
	} else
	/*
	 * A shell, or an exec of a shell reading stdin (the monitor applies
	 * the "shell" action to the same script_shell_exec() test): its
	 * input is judged line by line from now on.
	 */
	if (c->start_type == RQ_SHELL || script_shell_exec(c->start_cmd)) {
		if (input_came_early(c, "shell"))
			return 0;
		c->lmode = c->pty ? LM_PTY : LM_SCRIPT;
		c->line_verdict = -1;
		if (c->lmode == LM_PTY) {
			uint8_t rnd[LT_NONCE_LEN / 2];

			c->integrated = c->start_type == RQ_SHELL;
			c->fg = c->integrated ? FG_WAIT : FG_SHELL;
			random_hex(rnd, sizeof(rnd), c->nonce);
			lt_init(&c->lt);
			lt_marks_init(&c->mk, c->nonce);
		}
	} else if (exec_scp_sink(c) != 0)
		return 0;
	c->deciding = 1;
	if (mm_decide(c->id, type, c->start_cmd, !c->no_wait) != 0)
		w->monitor_lost = 1;
	return 0;
}

/*
 * An exec of "scp -t PATH" (a legacy scp upload): each file it would
 * create is judged (session/scpgate.h).  Other forms of an scp sink are
 * refused by the monitor (policy/scpcmd.h).
 */
static int
exec_scp_sink(struct chan *c)
{
	struct pc_result *pr = pc_parse(c->start_cmd, strlen(c->start_cmd));
	struct scp_sink sink;
	int r = 0;

	if (scp_cmd_parse(c->start_cmd, pr, &sink) == SCP_CMD_SINK) {
		if (input_came_early(c, "command"))
			r = -1;
		else
			scp_gate_start(c, &sink);
	}
	scp_sink_free(&sink);
	pc_result_free(pr);
	return r;
}

static struct chan *
chan_by_id(struct worker *w, uint32_t id)
{
	int i;

	for (i = 0; i < w->nchans; i++)
		if (w->chans[i]->id == id)
			return w->chans[i];
	return NULL;
}

/* Writes one "bastion: ..." line to the agent's stderr, recorded. */
void
chan_notice(struct chan *c, const char *msg)
{
	char line[1100];
	int n;

	n = snprintf(line, sizeof(line), "%sbastion: %s%s",
	    c->lmode == LM_PTY ? "\r\n" : "", msg, c->pty ? "\r\n" : "\n");
	if (n < 0 || (size_t)n >= sizeof(line))
		n = (int)strlen(line);
	if ((size_t)n <= stream_room(&c->err)) {
		stream_append(&c->err, line, n);
		stream_record(c, &c->err, REC_ERR, 1);
	}
}

/* The monitor's answer to mm_decide(), or the outcome of a held request. */
static void
verdict_cb(void *arg, const struct mm_verdict *v)
{
	struct worker *w = arg;
	struct chan *c = chan_by_id(w, v->channel);

	if (c == NULL || c->state == CH_DONE || c->state == CH_FAILED)
		return;	/* the channel went away meanwhile */
	if (!c->deciding && c->line_deciding) {
		/* A line of a shell: acted on in line_step(). */
		if (v->verdict == VERDICT_HELD) {
			c->line_held = 1;
			chan_notice(c, v->message);
			return;
		}
		c->line_verdict = v->verdict;
		c->line_exit = v->exit_status;
		free(c->line_msg);
		c->line_msg = xstrdup(v->message ? v->message : "");
		return;
	}
	if (!c->deciding)
		return;
	switch (v->verdict) {
	case VERDICT_RUN:
		c->deciding = 0;
		if (v->message != NULL && *v->message != '\0')
			chan_notice(c, v->message);
		if (c->lmode == LM_PTY && c->integrated) {
			/* The shell, with the bastion's integration. */
			char *cmd = shellinit_command(c->nonce);
			/* Not "exec": the channel stays a shell on record. */
			json_object *o = jreq("upstream-exec", 1);

			jadd_str(o, "by", "bastion");
			jadd_str(o, "reason", "shell integration: each line "
			    "is judged before it runs");
			jadd_str(o, "command", cmd);
			chan_meta(c, "request", o);
			req_push(c, RQ_EXEC, cmd, NULL, 0, 0);
			free(cmd);
			c->deadline = 0;	/* set once the target accepted */
			break;
		}
		req_push(c, c->start_type, c->start_type != RQ_SHELL ?
		    c->start_cmd : NULL, NULL, 0, 0);
		break;
	case VERDICT_HELD:
		chan_notice(c, v->message);
		break;
	default:
		c->deciding = 0;
		chan_fail(c, v->exit_status, "%s", v->message);
		break;
	}
}

static int
down_exec_cb(ssh_session s, ssh_channel ch, const char *command, void *ud)
{
	(void)s; (void)ch;
#ifdef BASTION_TEST_HOOKS
	/* Test builds: try a forbidden action from inside the sandbox. */
	if (strncmp(command, "bastion-test-probe:", 19) == 0) {
		const char *res;

		/* Messages the monitor must refuse (docs/PROTOCOL.md). */
		if (strcmp(command + 19, "ipc-oversize") == 0)
			(void)!write(PROTO_FD_MONITOR,
			    "\xff\xff\xff\xff\x00\x14", 6);
		else if (strcmp(command + 19, "ipc-unexpected") == 0)
			(void)!write(PROTO_FD_MONITOR,
			    "\x00\x00\x00\x02\x00\x0a", 6);	/* AUTH again */
		else if (strcmp(command + 19, "ipc-truncated") == 0)
			(void)!write(PROTO_FD_MONITOR,
			    "\x00\x00\x00\x03\x00\x14\x01", 7); /* DATA */
		res = sandbox_probe(command + 19);

		log_info("sandbox probe %s: %s", command + 19, res);
		chan_fail(ud, 1, "probe: %s", res);
		return 0;
	}
#endif
	return start_request(ud, "exec", command);
}

static int
down_shell_cb(ssh_session s, ssh_channel ch, void *ud)
{
	(void)s; (void)ch;
	return start_request(ud, "shell", NULL);
}

static int
down_subsystem_cb(ssh_session s, ssh_channel ch, const char *name, void *ud)
{
	(void)s; (void)ch;
	return start_request(ud, "subsystem", name);
}

static void
down_signal_cb(ssh_session s, ssh_channel ch, const char *sig, void *ud)
{
	struct chan *c = ud;
	json_object *o = jreq("signal", 1);

	(void)s; (void)ch;
	jadd_str(o, "signal", sig);
	chan_meta(c, "request", o);
	if (c->state != CH_FAILED)
		req_push(c, RQ_SIGNAL, sig, NULL, 0, 0);
}

/* ---- channel callbacks: target side ---- */

static int
up_data_cb(ssh_session s, ssh_channel ch, void *data, uint32_t len,
    int is_stderr, void *ud)
{
	struct chan *c = ud;

	int n;

	(void)s; (void)ch;
	if (is_stderr)
		return stream_take(c, &c->err, REC_ERR, data, len);
	n = stream_take(c, &c->out, REC_OUT, data, len);
	if (n > 0)
		out_observe(c, data, (size_t)n);
	return n;
}

static void
up_eof_cb(ssh_session s, ssh_channel ch, void *ud)
{
	struct chan *c = ud;
	json_object *o = json_object_new_object();

	(void)s; (void)ch;
	if (c->up_eof)
		return;
	c->up_eof = 1;
	jadd_str(o, "from", "target");
	chan_meta(c, "eof", o);
}

static void
up_close_cb(ssh_session s, ssh_channel ch, void *ud)
{
	struct chan *c = ud;

	(void)s; (void)ch;
	c->up_closed = 1;
}

static void
up_exit_status_cb(ssh_session s, ssh_channel ch, int status, void *ud)
{
	struct chan *c = ud;
	json_object *o = json_object_new_object();

	(void)s; (void)ch;
	jadd_int(o, "status", status);
	if (c->state == CH_FAILED) {
		/* The bastion ended the channel first: its status stands. */
		jadd_str(o, "ignored", "the bastion had ended the channel");
		chan_meta(c, "exit-status", o);
		return;
	}
	c->have_status = 1;
	c->status = status;
	chan_meta(c, "exit-status", o);
}

static void
up_exit_signal_cb(ssh_session s, ssh_channel ch, const char *sig, int core,
    const char *errmsg, const char *lang, void *ud)
{
	struct chan *c = ud;
	json_object *o = json_object_new_object();

	(void)s; (void)ch; (void)lang;
	if (c->state == CH_FAILED) {
		jadd_str(o, "signal", sig ? sig : "KILL");
		jadd_str(o, "ignored", "the bastion had ended the channel");
		chan_meta(c, "exit-signal", o);
		return;
	}
	free(c->exit_signal);
	c->exit_signal = xstrdup(sig ? sig : "KILL");
	c->exit_core = core;
	jadd_str(o, "signal", c->exit_signal);
	json_object_object_add(o, "core", json_object_new_boolean(core));
	if (errmsg != NULL && *errmsg != '\0')
		jadd_str(o, "message", errmsg);
	chan_meta(c, "exit-signal", o);
}

/* ---- channel life ---- */

/*
 * The bastion answers the channel itself: one "bastion: ..." line on
 * stderr (recorded like any other output), then the exit status.
 */
void
chan_fail(struct chan *c, int code, const char *fmt, ...)
{
	char msg[1024];
	json_object *o = json_object_new_object();
	va_list ap;

	if (c->state == CH_FAILED || c->state == CH_DONE) {
		json_object_put(o);
		return;	/* the agent was told already */
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	jadd_str(o, "message", msg);
	jadd_int(o, "exit_status", code);
	chan_meta(c, "error", o);
	if (c->state == CH_OPENING)
		c->up_opening = 1;	/* close it once the target answers */
	c->state = CH_FAILED;
	c->fail_exit = code;
	c->discard_in = 1;
	while (c->reqs != NULL)
		req_pop(c);
	chan_notice(c, msg);
	if (c->up != NULL && !c->closed_up && !c->up_opening) {
		ssh_channel_close(c->up);
		c->closed_up = 1;
	}
}

static ssh_channel
open_session_cb(ssh_session s, void *ud)
{
	struct worker *w = ud;
	struct chan *c;
	json_object *o;

	if (w->ending)
		return NULL;	/* the session is over; libssh refuses it */
	if (w->nchans >= MAX_CHANNELS) {
		log_warn("too many channels");
		return NULL;
	}
	c = xcalloc(1, sizeof(*c));
	c->w = w;
	c->id = w->next_chan_id++;
	c->down = ssh_channel_new(s);
	if (c->down == NULL) {
		free(c);
		return NULL;
	}
	c->reqs_tail = &c->reqs;
	ssh_callbacks_init(&c->down_cb);
	c->down_cb.userdata = c;
	c->down_cb.channel_data_function = down_data_cb;
	c->down_cb.channel_eof_function = down_eof_cb;
	c->down_cb.channel_close_function = down_close_cb;
	c->down_cb.channel_signal_function = down_signal_cb;
	c->down_cb.channel_pty_request_function = down_pty_cb;
	c->down_cb.channel_shell_request_function = down_shell_cb;
	c->down_cb.channel_exec_request_function = down_exec_cb;
	c->down_cb.channel_env_request_function = down_env_cb;
	c->down_cb.channel_subsystem_request_function = down_subsystem_cb;
	c->down_cb.channel_pty_window_change_function = down_winch_cb;
	c->down_cb.channel_auth_agent_req_function = down_agent_cb;
	ssh_set_channel_callbacks(c->down, &c->down_cb);
	c->state = CH_WAIT_UP;
	w->chans[w->nchans++] = c;
	o = json_object_new_object();
	jadd_str(o, "type", "session");
	chan_meta(c, "channel-open", o);
	return c->down;
}

/* Writes committed bytes of s to dst while its window allows. */
static int
stream_push(struct stream *s, ssh_channel dst, int is_stderr, int *progress)
{
	const uint8_t *p;
	size_t len;
	uint32_t win;
	int rc;

	for (;;) {
		len = stream_sendable(s, &p);
		if (len == 0)
			return 0;
		win = ssh_channel_window_size(dst);
		if (win == 0)
			return 0;
		if (len > win)
			len = win;
		if (len > WRITE_MAX)
			len = WRITE_MAX;
		rc = is_stderr ? ssh_channel_write_stderr(dst, p, len) :
		    ssh_channel_write(dst, p, len);
		if (rc == SSH_ERROR)
			return -1;
		if (rc <= 0)
			return 0;
		stream_consume(s, (size_t)rc);
		*progress = 1;
	}
}

/* Pulls the bytes libssh still holds for s, when all of them fit. */
static int
stream_pull(struct chan *c, struct stream *s, ssh_channel src,
    int is_stderr, int kind, int *progress)
{
	size_t want = s->lib_pending;
	int rc;

	if (want == 0 || src == NULL)
		return 0;
	stream_compact(s);
	if (stream_room(s) < want)
		return 0;
	rc = ssh_channel_read_nonblocking(src, c->w->scratch, want, is_stderr);
	if (rc == SSH_ERROR)
		return -1;
	if (rc <= 0) {
		s->lib_pending = 0;
		return 0;
	}
	s->lib_pending = (size_t)rc >= want ? 0 : want - (size_t)rc;
	if ((size_t)rc > stream_room(s))
		fatal("libssh returned more than asked");
	if (stream_put(c, s, c->w->scratch, (size_t)rc) != (size_t)rc)
		fatal("bytes did not fit the room promised");
	if (kind == REC_OUT)
		out_observe(c, c->w->scratch, (size_t)rc);
	*progress = 1;
	return 0;
}

/* Sends the next queued request towards the target. */
static void
chan_requests(struct chan *c, int *progress)
{
	struct req *r;
	int rc;

	while ((r = c->reqs) != NULL) {
		switch (r->type) {
		case RQ_PTY:
			rc = ssh_channel_request_pty_size(c->up, r->a, r->x,
			    r->y);
			break;
		case RQ_ENV:
			rc = ssh_channel_request_env(c->up, r->a, r->b);
			break;
		case RQ_EXEC:
			rc = ssh_channel_request_exec(c->up, r->a);
			break;
		case RQ_SHELL:
			rc = ssh_channel_request_shell(c->up);
			break;
		case RQ_SUBSYSTEM:
			rc = ssh_channel_request_subsystem(c->up, r->a);
			break;
		case RQ_WINCH:
			rc = c->started ? ssh_channel_change_pty_size(c->up,
			    r->x, r->y) : SSH_OK;
			break;
		case RQ_SIGNAL:
			rc = ssh_channel_request_send_signal(c->up, r->a);
			break;
		default:
			rc = SSH_ERROR;
		}
		if (rc == SSH_AGAIN)
			return;
		*progress = 1;
		if (c->state != CH_OPEN)
			return;	/* failed by a callback meanwhile */
		if (rc != SSH_OK) {
			json_object *o = json_object_new_object();

			jadd_str(o, "message", "target refused a request");
			jadd_int(o, "request", r->type);
			chan_meta(c, "error", o);
			if (r->type == RQ_EXEC || r->type == RQ_SHELL ||
			    r->type == RQ_SUBSYSTEM) {
				const char *what = r->type == RQ_EXEC ?
				    "command" : r->type == RQ_SHELL ? "shell" :
				    "sftp subsystem";

				req_pop(c);
				chan_fail(c, PROTO_EXIT_UNAVAILABLE,
				    "target %s refused to start the %s",
				    c->w->target, what);
				return;
			}
		} else if (r->type == RQ_EXEC || r->type == RQ_SHELL ||
		    r->type == RQ_SUBSYSTEM)
			c->started = 1;
		req_pop(c);
	}
}

static void
send_exit(struct chan *c)
{
	/*
	 * The bastion stopped an sftp or scp transfer (malformed input
	 * either way): the server's status only says it saw the close.
	 */
	int stopped = c->state == CH_FAILED &&
	    (c->lmode == LM_SFTP || c->lmode == LM_SCP);

	if (c->script_exit != 0 && c->state != CH_FAILED) {
		json_object *o = json_object_new_object();

		/* A refused line ended the script: the bastion's status. */
		jadd_int(o, "status", c->script_exit);
		jadd_str(o, "by", "bastion");
		if (c->have_status)
			jadd_int(o, "target_status", c->status);
		chan_meta(c, "exit-status", o);
		(void)ssh_channel_request_send_exit_status(c->down,
		    c->script_exit);
	} else if (c->exit_signal != NULL && !stopped)
		(void)ssh_channel_request_send_exit_signal(c->down,
		    c->exit_signal, c->exit_core, "", "");
	else if (c->have_status && !stopped)
		(void)ssh_channel_request_send_exit_status(c->down, c->status);
	else if (c->state == CH_FAILED) {
		json_object *o = json_object_new_object();

		/* The bastion's own answer: on record like a target's. */
		jadd_int(o, "status", c->fail_exit);
		jadd_str(o, "by", "bastion");
		if (c->have_status)
			jadd_int(o, "target_status", c->status);
		chan_meta(c, "exit-status", o);
		(void)ssh_channel_request_send_exit_status(c->down,
		    c->fail_exit);
	}
}

/* ---- shells judged line by line ---- */

/* Advances one channel; sets *progress when anything moved. */
static void
chan_step(struct chan *c, int *progress)
{
	struct worker *w = c->w;
	int rc;

	if (c->state == CH_DONE)
		return;
	stream_record(c, &c->in, REC_IN, 0);
	stream_record(c, &c->out, REC_OUT, 0);
	stream_record(c, &c->err, REC_ERR, 0);
	if (c->state == CH_WAIT_UP && w->up_state == UP_READY &&
	    !c->down_closed) {
		c->up = ssh_channel_new(w->up);
		if (c->up == NULL) {
			chan_fail(c, PROTO_EXIT_SOFTWARE,
			    "cannot open a channel to the target");
		} else {
			ssh_callbacks_init(&c->up_cb);
			c->up_cb.userdata = c;
			c->up_cb.channel_data_function = up_data_cb;
			c->up_cb.channel_eof_function = up_eof_cb;
			c->up_cb.channel_close_function = up_close_cb;
			c->up_cb.channel_exit_status_function =
			    up_exit_status_cb;
			c->up_cb.channel_exit_signal_function =
			    up_exit_signal_cb;
			ssh_set_channel_callbacks(c->up, &c->up_cb);
			c->state = CH_OPENING;
		}
		*progress = 1;
	}
	if (c->up_opening) {
		/* Failed while the target was opening it: finish, then close. */
		rc = ssh_channel_open_session(c->up);
		if (rc != SSH_AGAIN) {
			c->up_opening = 0;
			if (rc == SSH_OK)
				(void)ssh_channel_close(c->up);
			c->closed_up = 1;
			*progress = 1;
		}
	}
	if (c->state == CH_OPENING) {
		rc = ssh_channel_open_session(c->up);
		/* Callbacks run inside libssh calls and may have failed it. */
		if (c->state != CH_OPENING)
			;
		else if (rc == SSH_OK) {
			c->state = CH_OPEN;
			*progress = 1;
		} else if (rc != SSH_AGAIN) {
			chan_fail(c, PROTO_EXIT_UNAVAILABLE,
			    "target %s refused to open a session channel",
			    w->target);
			*progress = 1;
		}
	}
	if (c->state == CH_OPEN && c->reqs != NULL && !c->up_closed)
		chan_requests(c, progress);
	if (c->lmode == LM_SCRIPT)
		script_step(c, progress);
	else if (c->lmode == LM_PTY)
		pty_step(c, progress);
	else if (c->lmode == LM_SFTP)
		sftp_step(c, progress);
	else if (c->lmode == LM_SCP)
		scp_step(c, progress);

	/* agent -> target */
	if (c->state == CH_OPEN && c->started && !c->eof_sent_up &&
	    !c->up_closed) {
		if (stream_push(&c->in, c->up, 0, progress) != 0)
			c->up_closed = 1;
	} else if (c->discard_in || c->up_closed) {
		const uint8_t *p;
		size_t n = stream_sendable(&c->in, &p);

		if (n > 0) {
			stream_consume(&c->in, n);
			*progress = 1;
		}
	}
	if (stream_pull(c, &c->in, c->down, 0, REC_IN, progress) != 0)
		c->down_closed = 1;

	/* target -> agent */
	if (!c->down_closed && !c->eof_sent_down) {
		if (stream_push(&c->out, c->down, 0, progress) != 0 ||
		    stream_push(&c->err, c->down, 1, progress) != 0)
			c->down_closed = 1;
	}
	if (c->down_closed) {
		/* Nobody to deliver to: drop (already recorded). */
		const uint8_t *p;
		size_t n;

		if ((n = stream_sendable(&c->out, &p)) > 0)
			stream_consume(&c->out, n);
		if ((n = stream_sendable(&c->err, &p)) > 0)
			stream_consume(&c->err, n);
	}
	if (c->up != NULL && c->state != CH_FAILED) {
		if (stream_pull(c, &c->out, c->up, 0, REC_OUT,
		    progress) != 0 ||
		    stream_pull(c, &c->err, c->up, 1, REC_ERR,
		    progress) != 0)
			c->up_closed = 1;
	}

	/* EOF agent -> target, once everything before it went through */
	if (c->state == CH_OPEN && c->started &&
	    (c->down_eof || c->script_stop) && line_idle(c) &&
	    !c->eof_sent_up && !c->up_closed && stream_drained(&c->in)) {
		(void)ssh_channel_send_eof(c->up);
		c->eof_sent_up = 1;
		*progress = 1;
	}

	/* EOF/exit/close target -> agent */
	/*
	 * sshd may send EOF before exit-status; an agent that sees EOF both
	 * ways may close the channel at once (OpenSSH's ControlMaster does),
	 * and the status would be lost.  So EOF goes down only once the exit
	 * status or signal is known, or the target closed the channel.
	 */
	if (!c->down_closed && !c->eof_sent_down &&
	    stream_drained(&c->out) && stream_drained(&c->err) &&
	    ((c->state == CH_FAILED) ||
	    (c->up != NULL && ((c->up_eof && (c->have_status ||
	    c->exit_signal != NULL)) || c->up_closed)))) {
		(void)ssh_channel_send_eof(c->down);
		c->eof_sent_down = 1;
		*progress = 1;
	}
	if (c->eof_sent_down && !c->closed_down &&
	    (c->state == CH_FAILED || c->up_closed)) {
		send_exit(c);
		(void)ssh_channel_close(c->down);
		c->closed_down = 1;
		*progress = 1;
	}
	if (c->down_closed && !c->closed_down) {
		/* The agent closed its end. */
		(void)ssh_channel_close(c->down);
		c->closed_down = 1;
		*progress = 1;
	}
	if (c->closed_down && c->up != NULL && !c->closed_up &&
	    (c->up_closed || c->down_closed || c->state == CH_FAILED)) {
		if (!c->eof_sent_up && c->state == CH_OPEN && !c->up_closed)
			(void)ssh_channel_send_eof(c->up);
		(void)ssh_channel_close(c->up);
		c->closed_up = 1;
		*progress = 1;
	}
	if (c->closed_down && (c->up == NULL || c->closed_up) &&
	    c->state != CH_OPENING && !c->up_opening) {
		chan_meta(c, "channel-close", json_object_new_object());
		c->state = CH_DONE;
		stream_free(&c->in);
		stream_free(&c->out);
		stream_free(&c->err);
		*progress = 1;
	}
}

static int
chans_active(struct worker *w)
{
	int i, n = 0;

	for (i = 0; i < w->nchans; i++)
		if (w->chans[i]->state != CH_DONE)
			n++;
	return n;
}

/*
 * Channels the agent has not been answered on (no CLOSE sent to it yet).
 * A channel whose target side is still finishing (e.g. an upstream open
 * that completes after a denial) is over as far as the agent goes.
 */
static int
chans_open_to_agent(struct worker *w)
{
	int i, n = 0;

	for (i = 0; i < w->nchans; i++)
		if (w->chans[i]->state != CH_DONE && !w->chans[i]->closed_down)
			n++;
	return n;
}

/* Drops finished channels (their libssh objects live until session end). */
static void
chans_ack(struct worker *w)
{
	uint64_t ack = mm_acked();
	int i;

	for (i = 0; i < w->nchans; i++) {
		struct chan *c = w->chans[i];

		if (c->state == CH_DONE)
			continue;
		stream_ack(&c->in, ack);
		stream_ack(&c->out, ack);
		stream_ack(&c->err, ack);
	}
}

/* ---- authentication ---- */

static int
auth_pubkey_cb(ssh_session s, const char *user, struct ssh_key_struct *key,
    char state, void *ud)
{
	struct worker *w = ud;
	char *b64 = NULL, *identity = NULL, *message = NULL;
	const char *type;
	int accepted = 0, r;

	if (w->authenticated || w->ending)
		return SSH_AUTH_DENIED;
	if (state != SSH_PUBLICKEY_STATE_NONE &&
	    state != SSH_PUBLICKEY_STATE_VALID)
		goto denied;
	type = ssh_key_type_to_char(ssh_key_type(key));
	if (type == NULL || ssh_pki_export_pubkey_base64(key, &b64) != SSH_OK)
		goto denied;
	r = mm_auth_pubkey(user, type, b64,
	    state == SSH_PUBLICKEY_STATE_VALID, &accepted, &identity, &message);
	ssh_string_free_char(b64);
	if (r != 0) {
		w->monitor_lost = 1;
		goto denied;
	}
	if (accepted) {
		if (state == SSH_PUBLICKEY_STATE_VALID) {
			w->authenticated = 1;
			free(w->login);
			w->login = xstrdup(user);
			free(w->identity);
			w->identity = identity;
			identity = NULL;
			proctitle_set("bastion: session %llu %s [connecting]",
			    (unsigned long long)w->init->sid, w->identity);
			log_info("authenticated as %s (login \"%s\")",
			    w->identity, w->login);
		}
		free(identity);
		free(message);
		return SSH_AUTH_SUCCESS;
	}
	if (message != NULL && *message != '\0' && !w->banner_sent) {
		char *text = xasprintf("%s\r\n", message);
		ssh_string banner = ssh_string_from_char(text);

		if (banner != NULL) {
			(void)ssh_send_issue_banner(s, banner);
			ssh_string_free(banner);
		}
		free(text);
		w->banner_sent = 1;
	}
	free(identity);
	free(message);
 denied:
	/* Offers of unknown keys count too, as in OpenSSH's MaxAuthTries. */
	w->auth_failures++;
	w->auth_attempts++;
	return SSH_AUTH_DENIED;
}

/*
 * Called once per keepalive interval: a peer that sent no packet during
 * keepalive_max intervals in a row (our keepalives included) is gone.
 */
static int
peer_alive(struct peer_alive *a, uint64_t packets, uint32_t max,
    ssh_session s)
{
	if (packets != a->seen) {
		a->seen = packets;
		a->missed = 0;
		return 1;
	}
	if (++a->missed > (int)max)
		return 0;
	/*
	 * libssh 0.10 keeps one global request outstanding: a call while the
	 * previous reply is unread only collects that reply.  The second call
	 * sends when the first collected, and does nothing when one is still
	 * outstanding.
	 */
	(void)ssh_send_keepalive(s);
	(void)ssh_send_keepalive(s);
	return 1;
}

/*
 * The monitor is gone: nothing can be recorded or decided any more, so
 * nothing more is relayed.  The one exception to "every byte the agent
 * gets is recorded" is this last line, which says why (docs/SECURITY.md):
 * an unexplained hang or cut is worse for an agent than an unrecorded
 * notice of the bastion's own.
 */
static void
tell_monitor_lost(struct worker *w)
{
	int i;

	for (i = 0; i < w->nchans; i++) {
		struct chan *c = w->chans[i];
		const char *nl = c->pty ? "\r\n" : "\n";
		char line[256];

		if (c->closed_down || c->down_closed || c->down == NULL)
			continue;
		snprintf(line, sizeof(line), "bastion: internal error: the "
		    "bastion's monitor is unavailable; the session ends and "
		    "nothing more runs%s", nl);
		if (ssh_channel_window_size(c->down) >= strlen(line))
			(void)ssh_channel_write_stderr(c->down, line,
			    strlen(line));
		(void)ssh_channel_request_send_exit_status(c->down,
		    PROTO_EXIT_SOFTWARE);
		(void)ssh_channel_send_eof(c->down);
		(void)ssh_channel_close(c->down);
		c->closed_down = 1;
	}
	if (w->up != NULL)
		ssh_disconnect(w->up);
	/* Let the agent's session take the packets before we disconnect. */
	(void)ssh_blocking_flush(w->down, 1000);
}

/* The monitor socket is readable: ACKs are read by mm_service(). */
static int
monitor_readable_cb(socket_t fd, int revents, void *ud)
{
	struct worker *w = ud;

	(void)fd; (void)revents;
	w->monitor_readable = 1;
	return 0;
}

static int
session_dead(ssh_session s)
{
	int st;

	if (s == NULL)
		return 0;
	st = ssh_get_status(s);
	return (st & (SSH_CLOSED | SSH_CLOSED_ERROR)) != 0 ||
	    !ssh_is_connected(s);
}

static void
worker_free(struct worker *w)
{
	int i;

	for (i = 0; i < w->nchans; i++) {
		struct chan *c = w->chans[i];

		while (c->reqs != NULL)
			req_pop(c);
		free(c->start_cmd);
		free(c->hold);
		free(c->line_msg);
		free(c->report);
		free(c->judged);
		free(c->acc);
		lt_free(&c->lt);
		lt_marks_free(&c->mk);
		sftp_gate_free(c);
		scp_gate_free(c);
		stream_free(&c->in);
		stream_free(&c->out);
		stream_free(&c->err);
		free(c->exit_signal);
	}
	if (w->up != NULL) {
		ssh_event_remove_session(w->event, w->up);
		ssh_disconnect(w->up);
		ssh_free(w->up);
	}
	if (w->down != NULL) {
		if (w->event != NULL)
			ssh_event_remove_session(w->event, w->down);
		ssh_disconnect(w->down);
		ssh_free(w->down);
	}
	for (i = 0; i < w->nchans; i++)
		free(w->chans[i]);
	if (w->event != NULL && w->monitor_polled)
		(void)ssh_event_remove_fd(w->event, mm_fd());
	if (w->event != NULL)
		ssh_event_free(w->event);
	if (w->bind != NULL)
		ssh_bind_free(w->bind);
	strv_free(w->env_allow);
	free(w->scratch);
	free(w->login);
	free(w->identity);
	free(w->up_reason);
	free(w->up_message);
	free(w->target);
}

/*
 * Disconnects the agent with text as the reason.  The agent may have sent
 * more (its next authentication attempt) before it sees this; closing a
 * TCP socket with unread input resets the connection, and the reset
 * throws the message away unread on the agent's side.  So the socket is
 * half-closed and what the agent still sends is read and dropped until it
 * closes its end (at most 1 s), as sshd's peers expect.
 */
static void
disconnect_telling(struct worker *w, const char *text)
{
	ssh_session s = w->down;
	int fd = ssh_get_fd(s), keep = -1, i;
	int64_t until = now_mono_us() + 1000000, left;
	struct pollfd pfd;
	char buf[4096];
	ssize_t n;
	uint64_t out;

	/*
	 * libssh writes a packet at once only if its poll saw the socket
	 * writable after its last write to it; otherwise ssh_disconnect()
	 * queues the message and closes the socket under it.  A turn of its
	 * poll that writes nothing to the socket (its socket counter, not
	 * the packet counter: a queued packet is written a turn later)
	 * leaves it knowing the socket writable.  For such a turn to come,
	 * what the agent sends meanwhile must go unanswered: without the
	 * server callbacks libssh hands every request to the message
	 * callback, which drops it without a reply while muted.
	 */
	w->muted = 1;
	w->srv_cb.auth_pubkey_function = NULL;
	w->srv_cb.channel_open_request_session_function = NULL;
	for (i = 0; w->event != NULL && i < 8; i++) {
		out = w->down_sock.out_bytes;
		(void)ssh_event_dopoll(w->event, 0);
		if (w->down_sock.out_bytes == out)
			break;
	}
	if (fd >= 0)
		keep = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	(void)ssh_session_set_disconnect_message(s, text);
	ssh_disconnect(s);
	if (keep < 0)
		return;
	(void)shutdown(keep, SHUT_WR);
	while ((left = until - now_mono_us()) > 0) {
		pfd.fd = keep;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, (int)(left / 1000) + 1) <= 0)
			break;
		n = read(keep, buf, sizeof(buf));
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			break;
	}
	close(keep);
}

int
worker_run(int client_fd, struct mm_init *init)
{
	struct worker w;
	struct sandbox_params sb;
	ssh_key hostkey = NULL;
	char *cause = NULL;
	const char *reason = "closed";
	char detail[512] = "";
	int off = 0, shutdown = 0, progress, i, rc;
	int64_t shutdown_deadline = 0;
	long grace;
	int64_t deadline, now;

	memset(&w, 0, sizeof(w));
	w.init = init;
	w.scratch = xmalloc(STREAM_CAP);
	w.env_allow = strv_split(init->env_allow);
	set_tcp_interactive(client_fd);

	if (ssh_pki_import_privkey_base64(init->host_key, NULL, NULL, NULL,
	    &hostkey) != SSH_OK) {
		reason = "protocol-error";
		snprintf(detail, sizeof(detail), "cannot load the host key");
		goto end;
	}
	freezero(init->host_key, strlen(init->host_key));
	init->host_key = NULL;
	w.bind = ssh_bind_new();
	ssh_bind_options_set(w.bind, SSH_BIND_OPTIONS_PROCESS_CONFIG, &off);
	if (ssh_bind_options_set(w.bind, SSH_BIND_OPTIONS_IMPORT_KEY,
	    hostkey) != SSH_OK) {
		ssh_key_free(hostkey);
		reason = "protocol-error";
		snprintf(detail, sizeof(detail), "host key rejected: %s",
		    ssh_get_error(w.bind));
		goto end;
	}
	hostkey = NULL; /* transferred */
	w.down = ssh_new();
	grace = init->login_grace_time;
	ssh_options_set(w.down, SSH_OPTIONS_TIMEOUT, &grace);
	if (ssh_bind_accept_fd(w.bind, w.down, client_fd) != SSH_OK) {
		reason = "protocol-error";
		snprintf(detail, sizeof(detail), "accept: %s",
		    ssh_get_error(w.bind));
		goto end;
	}
	/* Nothing has been read from the agent yet: demote now. */
	sb.off = init->sandbox_off;
	sb.uid = init->sandbox_uid;
	sb.gid = init->sandbox_gid;
	sb.chroot = init->sandbox_chroot;
	if (sandbox_enter(&sb, &cause) != 0) {
		reason = "protocol-error";
		snprintf(detail, sizeof(detail), "sandbox: %s", cause);
		log_error("%s", detail);
		free(cause);
		goto end;
	}
	ssh_set_auth_methods(w.down, SSH_AUTH_METHOD_PUBLICKEY);
	ssh_set_counters(w.down, &w.down_sock, &w.down_ctr);
	ssh_callbacks_init(&w.srv_cb);
	w.srv_cb.userdata = &w;
	w.srv_cb.auth_pubkey_function = auth_pubkey_cb;
	w.srv_cb.channel_open_request_session_function = open_session_cb;
	ssh_set_server_callbacks(w.down, &w.srv_cb);
	ssh_set_message_callback(w.down, down_message_cb, &w);
	if (ssh_handle_key_exchange(w.down) != SSH_OK) {
		reason = "client-disconnected";
		snprintf(detail, sizeof(detail), "key exchange: %s",
		    ssh_get_error(w.down));
		goto end;
	}
	w.event = ssh_event_new();
	ssh_set_blocking(w.down, 0);
	ssh_event_add_session(w.event, w.down);
	if (ssh_event_add_fd(w.event, mm_fd(), POLLIN,
	    monitor_readable_cb, &w) != SSH_OK)
		log_warn("cannot poll the monitor socket");
	else
		w.monitor_polled = 1;

	/* Authentication, within the login grace time. */
	deadline = now_mono_us() + (int64_t)init->login_grace_time * 1000000;
	while (!w.authenticated) {
		/*
		 * The monitor may end the session before it has begun
		 * (terminated, shutting down): say so and stop waiting.
		 */
		if (w.monitor_lost || mm_service(&shutdown, 1) != 0) {
			reason = "protocol-error";
			snprintf(detail, sizeof(detail), "monitor unavailable");
			goto end;
		}
		if (shutdown) {
			reason = mm_shutdown_reason();
			snprintf(detail, sizeof(detail), "%s",
			    mm_shutdown_message());
			goto end;
		}
		if (session_dead(w.down)) {
			reason = w.auth_attempts ? "auth-failed" :
			    "client-disconnected";
			snprintf(detail, sizeof(detail),
			    "client left before authenticating");
			goto end;
		}
		if (w.auth_failures >= (int)init->max_auth_tries) {
			reason = "auth-failed";
			snprintf(detail, sizeof(detail),
			    "too many authentication failures");
			goto end;
		}
		if (now_mono_us() > deadline) {
			reason = "login-timeout";
			snprintf(detail, sizeof(detail),
			    "not authenticated within %us",
			    init->login_grace_time);
			goto end;
		}
		if (ssh_event_dopoll(w.event, POLL_IDLE_MS) == SSH_ERROR &&
		    session_dead(w.down))
			continue;
	}

	upstream_connect(&w);
	mm_set_verdict_handler(verdict_cb, &w);
	w.last_keepalive_us = now_mono_us();

	/* The relay loop. */
	for (;;) {
		progress = 0;
		rc = mm_service(&shutdown, w.monitor_readable ||
		    !w.monitor_polled);
		w.monitor_readable = 0;
		if (rc != 0 || w.monitor_lost) {
			/* Fail closed: nothing more can be recorded. */
			reason = "protocol-error";
			snprintf(detail, sizeof(detail),
			    "monitor unavailable: session ended");
			log_error("%s", detail);
			tell_monitor_lost(&w);
			goto end;
		}
		if (shutdown && shutdown_deadline == 0) {
			/* Say why on every open channel (recorded), then end. */
			shutdown_deadline = now_mono_us() + 2000000;
			for (i = 0; i < w.nchans; i++)
				if (w.chans[i]->state != CH_DONE)
					chan_fail(w.chans[i],
					    mm_shutdown_code(), "%s",
					    mm_shutdown_message());
			progress = 1;
		}
		if (shutdown && (chans_active(&w) == 0 ||
		    now_mono_us() > shutdown_deadline)) {
			reason = mm_shutdown_reason();
			snprintf(detail, sizeof(detail), "%s",
			    mm_shutdown_message());
			goto end;
		}
		chans_ack(&w);
		for (i = 0; i < w.nchans; i++)
			chan_step(w.chans[i], &progress);
		if (w.up_state == UP_READY && session_dead(w.up)) {
			log_info("target connection lost: %s",
			    ssh_get_error(w.up));
			upstream_lost(&w);
			progress = 1;
		}
		if (session_dead(w.down)) {
			if (chans_open_to_agent(&w) > 0) {
				reason = "client-disconnected";
				snprintf(detail, sizeof(detail),
				    "client disconnected with %d channel(s) "
				    "open", chans_open_to_agent(&w));
			} else if (w.up_state == UP_LOST) {
				reason = "target-disconnected";
				snprintf(detail, sizeof(detail), "%s",
				    w.up_message);
			} else if (w.up_state == UP_FAILED) {
				reason = w.up_reason;
				snprintf(detail, sizeof(detail), "%s",
				    w.up_message);
			}
			goto end;
		}
		if (w.up_state == UP_LOST && chans_active(&w) == 0) {
			reason = "target-disconnected";
			snprintf(detail, sizeof(detail), "%s", w.up_message);
			goto end;
		}
		now = now_mono_us();
		if (init->keepalive_interval > 0 && now - w.last_keepalive_us >
		    (int64_t)init->keepalive_interval * 1000000) {
			w.last_keepalive_us = now;
			if (!peer_alive(&w.down_alive, w.down_ctr.in_packets,
			    init->keepalive_max, w.down)) {
				reason = "client-disconnected";
				snprintf(detail, sizeof(detail), "agent did not "
				    "answer %u keepalives", init->keepalive_max);
				goto end;
			}
			if (w.up_state == UP_READY &&
			    !peer_alive(&w.up_alive, w.up_ctr.in_packets,
			    init->keepalive_max, w.up)) {
				log_info("target did not answer %u keepalives",
				    init->keepalive_max);
				ssh_disconnect(w.up);
				upstream_lost(&w);
			}
		}
		/*
		 * sshd leaves Nagle on for sessions without a pty: when our
		 * kernel delays its ACK, the target's next small packet
		 * (channel confirmation, exec reply, exit status) waits up to
		 * 40 ms.  Acknowledge at once; re-armed before every wait
		 * that can block (not while data flows: a syscall per turn,
		 * and an ACK per segment the target must process).
		 */
		if (w.up_state == UP_READY && !progress)
			tcp_quickack(ssh_get_fd(w.up));
		rc = ssh_event_dopoll(w.event, progress ? 0 :
		    (mm_queued() > 0 ? 1 : POLL_IDLE_MS));
		(void)rc;
	}
 end:
	/* libssh still reads while it flushes below: let nothing new in. */
	w.ending = 1;
	log_info("session ends: %s%s%s", reason, *detail ? ": " : "", detail);
	/*
	 * An agent without a channel (the session ended before or during
	 * authentication) has nowhere else to read why, and nothing waits
	 * to reach it: disconnect now with the reason, which OpenSSH's
	 * client prints ("Received disconnect from ...: bastion: ...").
	 */
	if (w.down != NULL && !session_dead(w.down) && w.nchans == 0) {
		char *text = xasprintf("bastion: %s",
		    *detail ? detail : reason);

		disconnect_telling(&w, text);
		free(text);
	}
	/* Channels still open on the agent side get a close. */
	if (w.down != NULL && !session_dead(w.down)) {
		for (i = 0; i < w.nchans; i++) {
			struct chan *c = w.chans[i];

			if (!c->closed_down && c->down != NULL)
				(void)ssh_channel_close(c->down);
		}
	}
	/*
	 * What libssh still holds for the agent (the last output, exit
	 * status, CLOSE) must leave before the disconnect, or the agent sees
	 * a cut connection instead of its answer.
	 */
	if (w.down != NULL && w.event != NULL && !w.monitor_lost) {
		int64_t until = now_mono_us() + 1500000;

		/* Give the agent time to read its answers and leave first. */
		while (!session_dead(w.down) && now_mono_us() < until &&
		    chans_open_to_agent(&w) == 0)
			(void)ssh_event_dopoll(w.event, 50);
	}
	if (w.down != NULL && !session_dead(w.down))
		(void)ssh_blocking_flush(w.down, 2000);
	if (!w.monitor_lost)
		(void)mm_end(reason, detail);
	worker_free(&w);
	return 0;
}
