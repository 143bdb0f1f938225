/*
 * monitor_wrap.c: worker-side stubs for monitor requests.
 *
 * Trusts the monitor (it is the privileged parent) but still checks the
 * framing of what it sends.  All state is static: one monitor per worker.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "common/err.h"
#include "common/ipc.h"
#include "common/log.h"
#include "common/proto.h"
#include "common/util.h"
#include "session/monitor_wrap.h"

#define MM_CONGESTED	(16 * 1024 * 1024)	/* queued bytes that stop peer reads */

static struct ipc *mm_ipc;
static uint64_t mm_next_seq = 1;
static uint64_t mm_ack;
static int mm_dead;
static int mm_shutdown;
static char *mm_shutdown_why;		/* end reason */
static char *mm_shutdown_text;		/* for the agent */
static uint8_t mm_shutdown_status;
static mm_verdict_fn mm_verdict_cb;
static void *mm_verdict_arg;

void
mm_set_verdict_handler(mm_verdict_fn fn, void *arg)
{
	mm_verdict_cb = fn;
	mm_verdict_arg = arg;
}

const char *
mm_shutdown_reason(void)
{
	return mm_shutdown_why ? mm_shutdown_why : "monitor-shutdown";
}

int
mm_shutdown_code(void)
{
	return mm_shutdown_why ? mm_shutdown_status : PROTO_EXIT_UNAVAILABLE;
}

const char *
mm_shutdown_message(void)
{
	return mm_shutdown_text ? mm_shutdown_text : "unavailable: the "
	    "bastion ended the session";
}

int
mm_decide(uint32_t channel, const char *kind, const char *command, int wait)
{
	struct ipc_msg m;
	int r;

	if (mm_dead)
		return BST_ERR_EOF;
	msg_init(&m, W_DECIDE);
	msg_put_u32(&m, channel);
	msg_put_str(&m, kind);
	msg_put_str(&m, command);
	msg_put_u8(&m, wait ? 1 : 0);
	r = ipc_send(mm_ipc, &m, -1);
	msg_free(&m);
	if (r != 0)
		mm_dead = 1;
	return r;
}

/* MON_DECISION / MON_VERDICT: decode and hand to the worker. */
static int
mm_verdict(struct ipc_msg *m)
{
	struct mm_verdict v;
	uint8_t verdict = 0, code = 0;
	char *message = NULL;
	int r;

	memset(&v, 0, sizeof(v));
	v.final = m->type == MON_VERDICT;
	msg_get_u32(m, &v.channel);
	msg_get_u8(m, &verdict);
	msg_get_u8(m, &code);
	msg_get_u64(m, &v.request);
	msg_get_str(m, &message);
	if ((r = msg_done(m)) != 0 || verdict > VERDICT_EXPIRED) {
		free(message);
		return BST_ERR_PROTO;
	}
	v.verdict = verdict;
	v.exit_status = code;
	v.message = message;
	if (mm_verdict_cb != NULL)
		mm_verdict_cb(mm_verdict_arg, &v);
	free(message);
	return 0;
}

int
mm_fd(void)
{
	return mm_ipc ? ipc_fd(mm_ipc) : -1;
}

uint64_t
mm_acked(void)
{
	return mm_ack;
}

size_t
mm_queued(void)
{
	return mm_ipc ? ipc_queued(mm_ipc) : 0;
}

int
mm_congested(void)
{
	return mm_queued() > MM_CONGESTED;
}

/* Handles a message that may arrive at any time; 1 if handled. */
static int
mm_async(struct ipc_msg *m)
{
	uint64_t seq;
	char *reason = NULL, *text = NULL;

	switch (m->type) {
	case MON_ACK:
		if (msg_get_u64(m, &seq) != 0 || msg_done(m) != 0 ||
		    seq < mm_ack || seq >= mm_next_seq) {
			log_error("monitor sent a bad ACK");
			mm_dead = 1;
			return 1;
		}
		mm_ack = seq;
		return 1;
	case MON_DECISION:
	case MON_VERDICT:
		if (mm_verdict(m) != 0) {
			log_error("monitor sent a bad decision");
			mm_dead = 1;
		}
		return 1;
	case MON_SHUTDOWN:
		if (mm_shutdown)
			return 1;	/* the first reason stands */
		if (msg_get_str(m, &reason) != 0 ||
		    msg_get_u8(m, &mm_shutdown_status) != 0 ||
		    msg_get_str(m, &text) != 0 || msg_done(m) != 0) {
			log_error("monitor sent a bad SHUTDOWN");
			free(reason);
			free(text);
			mm_dead = 1;
			return 1;
		}
		log_info("monitor ends the session (%s): %s", reason, text);
		mm_shutdown_why = reason;
		mm_shutdown_text = text;
		mm_shutdown = 1;
		return 1;
	}
	return 0;
}

/* Reads and handles async messages; stops at (returns in *m) another. */
static int
mm_pump(struct ipc_msg *m, int want_reply)
{
	int r;

	for (;;) {
		r = ipc_next(mm_ipc, m);
		if (r == BST_ERR_AGAIN) {
			if ((r = ipc_read(mm_ipc)) != 0)
				return r;
			r = ipc_next(mm_ipc, m);
			if (r == BST_ERR_AGAIN)
				return BST_ERR_AGAIN;
		}
		if (r != 0)
			return r;
		if (mm_async(m)) {
			msg_free(m);
			if (mm_dead)
				return BST_ERR_PROTO;
			continue;
		}
		if (!want_reply) {
			log_error("unexpected message %u from monitor", m->type);
			msg_free(m);
			return BST_ERR_PROTO;
		}
		return 0;
	}
}

/* Sends req and waits for a reply of type want. */
static int
mm_request(struct ipc_msg *req, int want, struct ipc_msg *reply)
{
	struct pollfd pfd;
	int r;

	msg_init(reply, 0);
	if (mm_dead)
		return BST_ERR_EOF;
	if ((r = ipc_send(mm_ipc, req, -1)) != 0 ||
	    (r = ipc_flush_blocking(mm_ipc, -1)) != 0)
		goto fail;
	for (;;) {
		r = mm_pump(reply, 1);
		if (r == 0) {
			if (reply->type != want) {
				log_error("monitor answered %u, expected %d",
				    reply->type, want);
				msg_free(reply);
				r = BST_ERR_PROTO;
				goto fail;
			}
			return 0;
		}
		if (r != BST_ERR_AGAIN)
			goto fail;
		pfd.fd = ipc_fd(mm_ipc);
		pfd.events = POLLIN;
		if (poll(&pfd, 1, -1) < 0 && errno != EINTR) {
			r = BST_ERR_IO;
			goto fail;
		}
	}
 fail:
	mm_dead = 1;
	return r;
}

int
mm_open(int fd, struct mm_init *init)
{
	struct ipc_msg m;
	struct pollfd pfd;
	int r;

	memset(init, 0, sizeof(*init));
	mm_ipc = ipc_new(fd);
	for (;;) {
		r = mm_pump(&m, 1);
		if (r == 0)
			break;
		if (r != BST_ERR_AGAIN)
			return r;
		pfd.fd = fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 30000) == 0)
			return BST_ERR_TIMEOUT;
	}
	if (m.type != MON_INIT) {
		msg_free(&m);
		return BST_ERR_PROTO;
	}
	msg_get_u64(&m, &init->sid);
	msg_get_str(&m, &init->host_key);
	msg_get_u32(&m, &init->keepalive_interval);
	msg_get_u32(&m, &init->keepalive_max);
	msg_get_u32(&m, &init->login_grace_time);
	msg_get_u32(&m, &init->max_auth_tries);
	msg_get_str(&m, &init->client);
	msg_get_str(&m, &init->env_allow);
	msg_get_u8(&m, &init->sandbox_off);
	msg_get_u32(&m, &init->sandbox_uid);
	msg_get_u32(&m, &init->sandbox_gid);
	msg_get_str(&m, &init->sandbox_chroot);
	r = msg_done(&m);
	if (m.buf != NULL)
		explicit_bzero(m.buf, m.len);
	msg_free(&m);
	if (r != 0)
		mm_init_free(init);
	return r;
}

void
mm_init_free(struct mm_init *init)
{
	if (init->host_key != NULL)
		freezero(init->host_key, strlen(init->host_key));
	free(init->client);
	free(init->env_allow);
	free(init->sandbox_chroot);
	memset(init, 0, sizeof(*init));
}

int
mm_auth_pubkey(const char *login, const char *type, const char *b64,
    int is_signed, int *accepted, char **identity, char **message)
{
	struct ipc_msg req, rep;
	uint8_t ok = 0;
	int r;

	*accepted = 0;
	*identity = *message = NULL;
	msg_init(&req, W_AUTH_PUBKEY);
	msg_put_str(&req, login);
	msg_put_str(&req, type);
	msg_put_str(&req, b64);
	msg_put_u8(&req, is_signed ? 1 : 0);
	r = mm_request(&req, MON_AUTH_RESULT, &rep);
	msg_free(&req);
	if (r != 0)
		return r;
	msg_get_u8(&rep, &ok);
	msg_get_str(&rep, identity);
	msg_get_str(&rep, message);
	if ((r = msg_done(&rep)) != 0) {
		free(*identity);
		free(*message);
		*identity = *message = NULL;
		mm_dead = 1;
	} else
		*accepted = ok;
	msg_free(&rep);
	return r;
}

int
mm_connect(struct mm_target *t)
{
	struct ipc_msg req, rep;
	uint8_t ok = 0, code = 0;
	int r;

	memset(t, 0, sizeof(*t));
	t->fd = -1;
	msg_init(&req, W_CONNECT);
	r = mm_request(&req, MON_CONNECT_RESULT, &rep);
	msg_free(&req);
	if (r != 0)
		return r;
	msg_get_u8(&rep, &ok);
	if (ok) {
		msg_get_str(&rep, &t->target);
		msg_get_str(&rep, &t->user);
		msg_get_str(&rep, &t->host_key_type);
		msg_get_str(&rep, &t->host_key_b64);
		msg_get_str(&rep, &t->key);
		msg_get_str(&rep, &t->where);
		if (msg_done(&rep) == 0 &&
		    (t->fd = ipc_take_fd(mm_ipc)) < 0)
			rep.err = BST_ERR_PROTO;
	} else {
		msg_get_u8(&rep, &code);
		msg_get_str(&rep, &t->reason);
		msg_get_str(&rep, &t->message);
		t->exit_code = code;
	}
	if (rep.buf != NULL)
		explicit_bzero(rep.buf, rep.len);
	if ((r = msg_done(&rep)) != 0) {
		mm_target_free(t);
		mm_dead = 1;
	}
	msg_free(&rep);
	return r;
}

void
mm_target_free(struct mm_target *t)
{
	free(t->target);
	free(t->user);
	free(t->host_key_type);
	free(t->host_key_b64);
	if (t->key != NULL)
		freezero(t->key, strlen(t->key));
	free(t->where);
	free(t->reason);
	free(t->message);
	memset(t, 0, sizeof(*t));
	t->fd = -1;
}

static int
mm_send(struct ipc_msg *m)
{
	int r;

	if (mm_dead) {
		msg_free(m);
		return BST_ERR_EOF;
	}
	r = ipc_send(mm_ipc, m, -1);
	msg_free(m);
	if (r != 0)
		mm_dead = 1;
	return r;
}

int
mm_upstream(int ok, const char *reason, const char *message)
{
	struct ipc_msg m;

	msg_init(&m, W_UPSTREAM);
	msg_put_u8(&m, ok ? 1 : 0);
	msg_put_str(&m, reason);
	msg_put_str(&m, message);
	return mm_send(&m);
}

int
mm_end(const char *reason, const char *detail)
{
	struct ipc_msg m;
	int r;

	msg_init(&m, W_END);
	msg_put_str(&m, reason);
	msg_put_str(&m, detail);
	if ((r = mm_send(&m)) != 0)
		return r;
	return ipc_flush_blocking(mm_ipc, 10000);
}

uint64_t
mm_data(uint32_t channel, int stream, const void *p, size_t len)
{
	const uint8_t *d = p;
	uint64_t seq = 0;
	struct ipc_msg m;

	do {
		size_t n = len > IPC_MAX_DATA ? IPC_MAX_DATA : len;

		if (mm_dead)
			return 0;
		msg_init(&m, W_DATA);
		seq = mm_next_seq++;
		msg_put_u64(&m, seq);
		msg_put_u32(&m, channel);
		msg_put_u8(&m, (uint8_t)stream);
		if (ipc_send_with_data(mm_ipc, &m, d, n) != 0) {
			msg_free(&m);
			mm_dead = 1;
			return 0;
		}
		msg_free(&m);
		d += n;
		len -= n;
	} while (len > 0);
	return seq;
}

uint64_t
mm_meta(uint32_t channel, const char *kind, struct json_object *detail)
{
	struct ipc_msg m;
	uint64_t seq;

	msg_init(&m, W_META);
	seq = mm_next_seq++;
	msg_put_u64(&m, seq);
	msg_put_u32(&m, channel);
	msg_put_str(&m, kind);
	msg_put_str(&m, detail ? json_object_to_json_string_ext(detail,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE) : "{}");
	if (mm_send(&m) != 0)
		return 0;
	return seq;
}

int
mm_service(int *shutdown, int readable)
{
	struct ipc_msg m;
	int r;

	if (mm_dead)
		return BST_ERR_EOF;
	r = ipc_flush(mm_ipc);
	if (r != 0 && r != BST_ERR_AGAIN)
		goto dead;
	if (readable) {
		r = mm_pump(&m, 0);
		if (r != 0 && r != BST_ERR_AGAIN)
			goto dead;
	}
	*shutdown = mm_shutdown;
	return 0;
 dead:
	mm_dead = 1;
	*shutdown = 1;
	return r;
}
