/*
 * monitor.c: the privileged side (see monitor.h).
 *
 * Accepts agent connections, forks and execs one worker per connection
 * with the socket on fd 3 and a socketpair on fd 4, answers the worker's
 * requests (mm_answer_*), records everything through the recorder and
 * commits in batches: after each turn of the loop the open batch is
 * committed and every worker whose events it held gets an ACK, which is
 * what lets it relay those bytes.  A worker that sends anything
 * unexpected (wrong type for its state, bad sequence, malformed fields) is
 * killed and its session recorded as a protocol error.
 *
 * Trusts: the configuration.  Does not trust: workers, targets, agents.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

#include "approval/broker.h"
#include "approval/channels.h"
#include "bastion/access.h"
#include "bastion/cfg_gen.h"
#include "bastion/connect.h"
#include "bastion/control.h"
#include "bastion/kmsg.h"
#include "bastion/monitor.h"
#include "bastion/running_policy.h"
#include "bastion/resolver.h"
#include "bastion/worker_log.h"
#include "common/config.h"
#include "common/err.h"
#include "common/ipc.h"
#include "common/log.h"
#include "common/proctitle.h"
#include "common/proto.h"
#include "common/strv.h"
#include "common/util.h"
#include "policy/cmdparse.h"
#include "policy/policy.h"
#include "policy/scpcmd.h"
#include "policy/script.h"
#include "recorder/checkpoint.h"
#include "recorder/recorder.h"

#define MAX_POLLFDS		4096
#define SHUTDOWN_GRACE_US	(5 * 1000000)
#define READS_PER_TURN		8
#define MAX_QUEUED_TO_WORKER	(1024 * 1024)	/* a worker that stops reading */

enum wstate {
	WS_PREAUTH,	/* INIT sent, authenticating */
	WS_AUTHED,	/* identity known */
	WS_CONNECTING,	/* target connection in progress */
	WS_CONNECTED,	/* fd sent, waiting for W_UPSTREAM */
	WS_RELAY,	/* upstream result known: events flow */
	WS_ENDED	/* W_END recorded (or ended by the monitor) */
};

struct wslot {
	pid_t			 pid;
	int64_t			 sid;
	struct ipc		*ipc;
	int			 ipc_eof;	/* read side finished */
	int			 write_failed;	/* the worker no longer reads */
	enum wstate		 state;
	int			 connect_done;
	int64_t			 started_us;
	char			*client;
	char			*login;
	struct cfg_gen		*gen;		/* identity and target point into it */
	const struct cfg_identity *identity;
	char			*key_type;	/* the key it authenticated with */
	char			*key_b64;
	const struct cfg_target	*target;
	char			*target_user;
	char			*ending;	/* why the monitor ends it, or NULL */
	const char		*ending_reason;	/* its end reason then */
	int64_t			 ending_deadline; /* then it is killed */
	int			 cfd;		/* target connect in progress */
	int64_t			 cdeadline;
	int			 resolving;	/* waiting for the resolver */
	uint32_t		 rid;		/* ... under this id */
	uint64_t		 next_seq;	/* expected from the worker */
	uint64_t		 acked;		/* last seq acknowledged */
	int			 exited;
	int			 wstatus;
	struct wlog		 log;		/* the worker's stderr */
	struct wslot		*next;
};

struct monitor {
	struct cfg		*cfg;		/* gen->cfg: the configuration in force */
	struct cfg_gen		*gen;
	const struct cfg	*boot;		/* the one started with: what needs a restart */
	struct cfg_gen		*chan_gen;	/* the one the approval channels use */
	const char		*session_binary;
	int			 debug;
	int			 lfd;
	int			 rfd;		/* the resolver, or -1 */
	uint32_t		 next_rid;
	struct rec		*rec;
	struct control		*ctl;
	struct running_policy	*policy;	/* the caller's; SIGHUP swaps its contents */
	struct appr_broker	*broker;
	struct appr_channels	*chan;		/* HTTP, Slack, webhooks */
	char			*host_key;
	char			*env_allow;	/* cfg->env_allow as sent to workers */
	struct wslot		*workers;
	int			 nworkers;
	int64_t			 started_us;
	int64_t			 shutdown_deadline;
	int			 stopping;
	int			 kmsg;		/* /dev/kmsg, for seccomp kills */
};

static int sig_pipe[2] = { -1, -1 };

static void commit_and_ack(struct monitor *m);
static void end_by_monitor(struct monitor *m, struct wslot *w,
    const char *reason, const char *by, const char *why);
static void connect_failed(struct monitor *m, struct wslot *w,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
sig_handler(int sig)
{
	unsigned char c = (unsigned char)sig;
	int saved = errno;

	(void)!write(sig_pipe[1], &c, 1);
	errno = saved;
}

int64_t
monitor_started_us(const struct monitor *m)
{
	return m->started_us;
}

json_object *
monitor_live_sessions(struct monitor *m)
{
	json_object *a = json_object_new_array();
	struct wslot *w;

	for (w = m->workers; w != NULL; w = w->next) {
		json_object *o = json_object_new_object();

		if (w->state == WS_ENDED)
			continue;
		json_object_object_add(o, "id", json_object_new_int64(w->sid));
		json_object_object_add(o, "pid", json_object_new_int(w->pid));
		json_object_object_add(o, "client",
		    json_object_new_string(w->client));
		json_object_object_add(o, "started_us",
		    json_object_new_int64(w->started_us));
		json_object_object_add(o, "identity", w->identity ?
		    json_object_new_string(w->identity->name) : NULL);
		json_object_object_add(o, "target", w->target ?
		    json_object_new_string(w->target->name) : NULL);
		json_object_object_add(o, "target_user", w->target_user ?
		    json_object_new_string(w->target_user) : NULL);
		json_object_array_add(a, o);
	}
	return a;
}

/* ---- worker lifecycle ---- */

static void
wslot_free(struct wslot *w)
{
	ipc_free(w->ipc);
	if (w->cfd >= 0)
		close(w->cfd);
	if (w->log.fd >= 0)
		close(w->log.fd);
	free(w->client);
	free(w->login);
	free(w->key_type);
	free(w->key_b64);
	free(w->target_user);
	free(w->ending);
	cfg_gen_unref(w->gen);
	free(w);
}

/* Ends w's session in the record (once) and stops the worker. */
static void
worker_end(struct monitor *m, struct wslot *w, const char *reason,
    const char *detail, int kill_it)
{
	char seal[65];
	int64_t nevents;
	int is_signed = 0;
	int r = 0;

	if (w->state != WS_ENDED) {
		appr_session_gone(m->broker, w->sid);
		if ((r = rec_session_end(m->rec, w->sid, reason, detail)) != 0)
			log_error("session %lld: cannot record its end: %s",
			    (long long)w->sid, bst_strerror(r));
		w->state = WS_ENDED;
		log_info("session %lld ended: %s%s%s", (long long)w->sid,
		    reason, detail && *detail ? ": " : "",
		    detail ? detail : "");
		/*
		 * The seal, outside the database too: whoever can rewrite
		 * the file cannot rewrite the log (journald, syslog).
		 */
		if (r == 0 && rec_session_seal(m->rec, w->sid, seal,
		    sizeof(seal), &nevents, &is_signed) == 0)
			log_info("session %lld sealed: %lld events, final hash "
			    "%s%s", (long long)w->sid, (long long)nevents, seal,
			    is_signed ? ", signed" : "");
	}
	if (kill_it && !w->exited && w->pid > 0)
		(void)kill(w->pid, SIGKILL);
}

static void
worker_protocol_error(struct monitor *m, struct wslot *w, const char *what)
{
	log_error("session %lld: worker protocol error: %s",
	    (long long)w->sid, what);
	worker_end(m, w, "protocol-error", what, 1);
}

static int
send_msg(struct monitor *m, struct wslot *w, struct ipc_msg *msg, int fd)
{
	int r = ipc_send(w->ipc, msg, fd);

	msg_free(msg);
	/*
	 * A worker that exited after its last message cannot be written to;
	 * that is not an error by itself: its exit is handled (and its last
	 * messages read) in collect_exited().
	 */
	if (r != 0) {
		w->write_failed = 1;
		log_debug("session %lld: cannot write to worker: %s",
		    (long long)w->sid, bst_strerror(r));
	}
	return r;
}

static void
spawn_worker(struct monitor *m, int cfd, const char *addr, int port)
{
	struct wslot *w;
	struct ipc_msg msg;
	int sp[2], ep[2], r;
	pid_t pid;
	int64_t sid;

	if ((r = rec_session_begin(m->rec, addr, port, &sid)) != 0) {
		/* Fail closed: nothing unrecorded. */
		log_error("cannot record a new session from %s:%d: %s; "
		    "refusing it", addr, port, bst_strerror(r));
		close(cfd);
		return;
	}
	if (m->nworkers >= m->cfg->max_sessions) {
		log_warn("max_sessions (%d) reached: refusing %s:%d",
		    m->cfg->max_sessions, addr, port);
		rec_session_end(m->rec, sid, "protocol-error",
		    "refused: too many concurrent sessions");
		close(cfd);
		return;
	}
	if (pipe2(ep, O_CLOEXEC) < 0) {
		log_error("pipe: %s", strerror(errno));
		rec_session_end(m->rec, sid, "protocol-error", "pipe failed");
		close(cfd);
		return;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
		close(ep[0]);
		close(ep[1]);
		log_error("socketpair: %s", strerror(errno));
		rec_session_end(m->rec, sid, "protocol-error",
		    "socketpair failed");
		close(cfd);
		return;
	}
	(void)set_nonblock(cfd, 0);
	pid = fork();
	if (pid < 0) {
		log_error("fork: %s", strerror(errno));
		rec_session_end(m->rec, sid, "protocol-error", "fork failed");
		close(cfd);
		close(sp[0]);
		close(sp[1]);
		close(ep[0]);
		close(ep[1]);
		return;
	}
	if (pid == 0) {
		char *argv[3];
		int nfd;

		/* Child: fixed fds, then exec the worker. */
		if (dup2(cfd, PROTO_FD_CLIENT) < 0 ||
		    dup2(sp[1], PROTO_FD_MONITOR) < 0 ||
		    dup2(ep[1], STDERR_FILENO) < 0)
			_exit(127);
		closefrom(PROTO_FD_MONITOR + 1);
		/* The worker gets no terminal: stdin and stdout are /dev/null. */
		if ((nfd = open("/dev/null", O_RDWR)) < 0 ||
		    dup2(nfd, STDIN_FILENO) < 0 || dup2(nfd, STDOUT_FILENO) < 0)
			_exit(127);
		if (nfd > STDERR_FILENO && nfd != PROTO_FD_CLIENT &&
		    nfd != PROTO_FD_MONITOR)
			close(nfd);
		signal(SIGPIPE, SIG_DFL);
		argv[0] = "bastion-session";
		argv[1] = m->debug ? "-d" : NULL;
		argv[2] = NULL;
		execv(m->session_binary, argv);
		_exit(127);
	}
	close(cfd);
	close(sp[1]);
	close(ep[1]);
	(void)set_nonblock(ep[0], 1);
	w = xcalloc(1, sizeof(*w));
	wlog_init(&w->log, ep[0]);
	w->pid = pid;
	w->sid = sid;
	w->gen = cfg_gen_ref(m->gen);
	w->ipc = ipc_new(sp[0]);
	w->cfd = -1;
	w->next_seq = 1;
	w->state = WS_PREAUTH;
	w->started_us = now_real_us();
	w->client = xasprintf("%s:%d", addr, port);
	w->next = m->workers;
	m->workers = w;
	m->nworkers++;

	msg_init(&msg, MON_INIT);
	msg_put_u64(&msg, (uint64_t)sid);
	msg_put_str(&msg, m->host_key);
	msg_put_u32(&msg, (uint32_t)m->cfg->keepalive_interval);
	msg_put_u32(&msg, (uint32_t)m->cfg->keepalive_max);
	msg_put_u32(&msg, (uint32_t)m->cfg->login_grace_time);
	msg_put_u32(&msg, (uint32_t)m->cfg->max_auth_tries);
	msg_put_str(&msg, w->client);
	msg_put_str(&msg, m->env_allow);
	msg_put_u8(&msg, (uint8_t)m->boot->sandbox_off);
	msg_put_u32(&msg, m->boot->sandbox_uid);
	msg_put_u32(&msg, m->boot->sandbox_gid);
	msg_put_str(&msg, m->boot->sandbox_chroot);
	log_info("session %lld: connection from %s, worker %d",
	    (long long)sid, w->client, (int)pid);
	r = ipc_send(w->ipc, &msg, -1);
	if (msg.buf != NULL)
		explicit_bzero(msg.buf, msg.len);
	msg_free(&msg);
	if (r != 0)
		log_debug("session %lld: cannot send INIT", (long long)sid);
}

/* ---- answers ---- */

/* Splits "[user@]target" at the last '@'. */
static void
split_login(const char *login, char **user, char **target)
{
	const char *at = strrchr(login, '@');

	if (at == NULL) {
		*user = NULL;
		*target = xstrdup(login);
	} else {
		*user = xstrndup(login, (size_t)(at - login));
		*target = xstrdup(at + 1);
	}
}

static void
mm_answer_auth(struct monitor *m, struct wslot *w, struct ipc_msg *req)
{
	char *login = NULL, *type = NULL, *b64 = NULL, *fp = NULL;
	char *message = NULL, san[128];
	const struct cfg_identity *id;
	const struct cfg_key *key = NULL;
	struct ipc_msg rep;
	uint8_t is_signed = 0;

	msg_get_str(req, &login);
	msg_get_str(req, &type);
	msg_get_str(req, &b64);
	msg_get_u8(req, &is_signed);
	if (msg_done(req) != 0) {
		worker_protocol_error(m, w, "malformed AUTH_PUBKEY");
		goto out;
	}
	id = w->ending == NULL ?
	    cfg_find_identity_by_key(m->cfg, type, b64, &key) : NULL;
	fp = cfg_key_fingerprint(b64);
	log_sanitize(san, sizeof(san), login, strlen(login));
	if (w->ending != NULL) {
		/* Ended before it began: nothing more is let in. */
		message = xasprintf("bastion: %s", w->ending);
	} else if (id == NULL) {
		message = xasprintf("bastion: public key %s %s is not "
		    "registered for any identity", type, fp ? fp : "?");
		(void)rec_session_auth(m->rec, w->sid, san, type,
		    fp ? fp : "?", NULL, NULL, 0, "key not registered");
		log_info("session %lld: unknown key %s %s for login \"%s\"",
		    (long long)w->sid, type, fp ? fp : "?", san);
	} else if (is_signed) {
		(void)rec_session_auth(m->rec, w->sid, san, type,
		    key->fingerprint, id->name, id->owner, 1, "");
		w->identity = id;
		w->key_type = xstrdup(type);
		w->key_b64 = xstrdup(b64);
		free(w->login);
		w->login = xstrdup(login);
		w->state = WS_AUTHED;
		log_info("session %lld: %s authenticated with %s (login "
		    "\"%s\")", (long long)w->sid, id->name, key->fingerprint,
		    san);
	}
	msg_init(&rep, MON_AUTH_RESULT);
	msg_put_u8(&rep, id != NULL);
	msg_put_str(&rep, id ? id->name : "");
	msg_put_str(&rep, message);
	send_msg(m, w, &rep, -1);
 out:
	free(login);
	free(type);
	free(b64);
	free(fp);
	free(message);
}

static void
connect_refuse(struct monitor *m, struct wslot *w, int code,
    const char *reason, const char *message)
{
	struct ipc_msg rep;
	json_object *o = json_object_new_object();

	json_object_object_add(o, "ok", json_object_new_boolean(0));
	json_object_object_add(o, "reason", json_object_new_string(reason));
	json_object_object_add(o, "error", json_object_new_string(message));
	(void)rec_meta(m->rec, w->sid, REC_NO_CHANNEL, "upstream", o);
	(void)rec_flush(m->rec);
	json_object_put(o);
	log_info("session %lld: %s", (long long)w->sid, message);
	msg_init(&rep, MON_CONNECT_RESULT);
	msg_put_u8(&rep, 0);
	msg_put_u8(&rep, (uint8_t)code);
	msg_put_str(&rep, reason);
	msg_put_str(&rep, message);
	w->state = WS_RELAY;
	send_msg(m, w, &rep, -1);
}

static void
mm_answer_connect(struct monitor *m, struct wslot *w, struct ipc_msg *req)
{
	char *user = NULL, *tname = NULL, *msg = NULL, *err = NULL;
	const struct cfg_target *t;
	char san[128];
	int fd, r;

	if (msg_done(req) != 0) {
		worker_protocol_error(m, w, "malformed CONNECT");
		return;
	}
	if (w->ending != NULL) {
		connect_refuse(m, w, PROTO_EXIT_NOPERM, "target-refused",
		    w->ending);
		return;
	}
	split_login(w->login, &user, &tname);
	log_sanitize(san, sizeof(san), tname, strlen(tname));
	t = cfg_find_target(m->cfg, tname);
	if (t == NULL) {
		msg = xasprintf("unknown target \"%s\"", san);
		connect_refuse(m, w, PROTO_EXIT_NOHOST, "target-refused", msg);
		goto out;
	}
	if (user == NULL)
		user = xstrdup(t->user);
	(void)rec_session_target(m->rec, w->sid, t->name, user, t->host,
	    t->port);
	if (!cfg_target_allows(t, w->identity)) {
		msg = xasprintf("not permitted: identity \"%s\" may not use "
		    "target \"%s\"", w->identity->name, t->name);
		connect_refuse(m, w, PROTO_EXIT_NOPERM, "target-refused", msg);
		goto out;
	}
	if (!cfg_target_has_user(t, user)) {
		log_sanitize(san, sizeof(san), user, strlen(user));
		msg = xasprintf("not permitted: user \"%s\" is not allowed on "
		    "target \"%s\"", san, t->name);
		connect_refuse(m, w, PROTO_EXIT_NOPERM, "target-refused", msg);
		goto out;
	}
	w->target = t;
	w->target_user = user;
	user = NULL;
	w->cdeadline = now_mono_us() + (int64_t)t->connect_timeout * 1000000;
	r = connect_start(t->host, t->port, &fd, &err);
	if (r == BST_ERR_AGAIN) {
		/* A name: the resolver looks it up (resolver.h). */
		w->rid = ++m->next_rid;
		if (m->rfd < 0 || resolver_request(m->rfd, w->rid, t->host,
		    t->port) != 0) {
			connect_failed(m, w, "cannot resolve %s: the resolver "
			    "is not available", t->host);
			goto out;
		}
		w->resolving = 1;
		w->state = WS_CONNECTING;
		goto out;
	}
	if (r != 0) {
		connect_failed(m, w, "%s", err ? err : "invalid address");
		goto out;
	}
	w->cfd = fd;
	w->state = WS_CONNECTING;
 out:
	free(user);
	free(tname);
	free(msg);
	free(err);
}

/* The target cannot be reached: why, to the agent and the record. */
static void
connect_failed(struct monitor *m, struct wslot *w, const char *fmt, ...)
{
	const struct cfg_target *t = w->target;
	char *why, *msg;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&why, fmt, ap) < 0)
		fatal("out of memory");
	va_end(ap);
	w->resolving = 0;
	msg = xasprintf("target unreachable: %s (%s:%d): %s", t->name,
	    t->host, t->port, why);
	connect_refuse(m, w, PROTO_EXIT_UNAVAILABLE, "target-unreachable",
	    msg);
	free(msg);
	free(why);
}

/* The resolver answered for w: connect, or say why not. */
static void
resolve_done(struct monitor *m, struct wslot *w, const struct resolved *res)
{
	char *err = NULL;
	int fd;

	w->resolving = 0;
	if (res->gai_err != 0)
		connect_failed(m, w, "cannot resolve %s: %s", w->target->host,
		    gai_strerror(res->gai_err));
	else if (connect_resolved(res, &fd, &err) != 0)
		connect_failed(m, w, "%s", err);
	else
		w->cfd = fd;	/* within the same connect timeout */
	free(err);
}

/* Answers from the resolver; workers whose name lookup took too long. */
static void
resolver_input(struct monitor *m, int readable)
{
	struct resolved res;
	struct wslot *w;
	int64_t now = now_mono_us();
	int r;

	while (readable && m->rfd >= 0 && (r = resolver_read(m->rfd,
	    &res)) != 0) {
		if (r == -2) {
			log_error("resolver: malformed answer, ignored");
			continue;
		}
		if (r < 0) {
			log_error("resolver: gone; target names can no longer "
			    "be resolved (numeric addresses still work)");
			close(m->rfd);
			m->rfd = -1;
			break;
		}
		for (w = m->workers; w != NULL; w = w->next)
			if (w->resolving && w->rid == res.id)
				break;
		if (w != NULL && w->state == WS_CONNECTING)
			resolve_done(m, w, &res);
	}
	for (w = m->workers; w != NULL; w = w->next) {
		if (!w->resolving || w->state != WS_CONNECTING)
			continue;
		if (m->rfd < 0)
			connect_failed(m, w, "cannot resolve %s: the resolver "
			    "is not available", w->target->host);
		else if (now > w->cdeadline)
			connect_failed(m, w, "cannot resolve %s within %ds",
			    w->target->host, w->target->connect_timeout);
	}
}

/* The target connection finished (or timed out): answer the worker. */
static void
connect_complete(struct monitor *m, struct wslot *w, int timed_out)
{
	const struct cfg_target *t = w->target;
	char *err = NULL, *msg = NULL, *keytext = NULL;
	struct ipc_msg rep;
	int fd = w->cfd, r;

	w->cfd = -1;
	if (w->ending != NULL) {
		close(fd);
		connect_refuse(m, w, PROTO_EXIT_NOPERM, "target-refused",
		    w->ending);
		goto out;
	}
	if (timed_out)
		err = xasprintf("no answer within %ds", t->connect_timeout);
	else if (connect_finish(fd, &err) == 0 &&
	    (r = read_file(t->key_path, 64 * 1024, &keytext, NULL)) != 0)
		err = xasprintf("cannot read the bastion's key for this "
		    "target (%s): %s", t->key_path, bst_strerror(r));
	if (err != NULL) {
		close(fd);
		connect_failed(m, w, "%s", err);
		goto out;
	}
	(void)set_nonblock(fd, 0);
	msg_init(&rep, MON_CONNECT_RESULT);
	msg_put_u8(&rep, 1);
	msg_put_str(&rep, t->name);
	msg_put_str(&rep, w->target_user);
	msg_put_str(&rep, t->host_key_type);
	msg_put_str(&rep, t->host_key_b64);
	msg_put_str(&rep, keytext);
	msg = xasprintf("%s:%d", t->host, t->port);
	msg_put_str(&rep, msg);
	w->state = WS_CONNECTED;
	r = ipc_send(w->ipc, &rep, fd);
	if (rep.buf != NULL)
		explicit_bzero(rep.buf, rep.len);
	msg_free(&rep);
	if (r != 0)
		log_debug("session %lld: cannot pass the target socket",
		    (long long)w->sid);
 out:
	if (keytext != NULL)
		freezero(keytext, strlen(keytext));
	free(err);
	free(msg);
}

static void
mm_answer_upstream(struct monitor *m, struct wslot *w, struct ipc_msg *req)
{
	char *reason = NULL, *message = NULL;
	uint8_t ok = 0;
	json_object *o;

	msg_get_u8(req, &ok);
	msg_get_str(req, &reason);
	msg_get_str(req, &message);
	if (msg_done(req) != 0) {
		worker_protocol_error(m, w, "malformed UPSTREAM");
		goto out;
	}
	o = json_object_new_object();
	json_object_object_add(o, "ok", json_object_new_boolean(ok));
	if (!ok) {
		json_object_object_add(o, "reason",
		    json_object_new_string(reason));
		json_object_object_add(o, "error",
		    json_object_new_string(message));
		log_info("session %lld: %s", (long long)w->sid, message);
	}
	(void)rec_meta(m->rec, w->sid, REC_NO_CHANNEL, "upstream", o);
	json_object_put(o);
	w->state = WS_RELAY;
 out:
	free(reason);
	free(message);
}

static int
check_seq(struct monitor *m, struct wslot *w, uint64_t seq)
{
	if (seq != w->next_seq) {
		worker_protocol_error(m, w, "event out of sequence");
		return -1;
	}
	w->next_seq++;
	return 0;
}

static void
mm_answer_data(struct monitor *m, struct wslot *w, struct ipc_msg *req)
{
	uint64_t seq;
	uint32_t chan;
	uint8_t stream;
	const uint8_t *data;
	size_t len;
	int r;

	msg_get_u64(req, &seq);
	msg_get_u32(req, &chan);
	msg_get_u8(req, &stream);
	msg_get_bytes(req, &data, &len);
	if (msg_done(req) != 0 || stream > REC_ERR || chan > INT32_MAX ||
	    len == 0) {
		worker_protocol_error(m, w, "malformed DATA");
		return;
	}
	if (check_seq(m, w, seq) != 0)
		return;
	if ((r = rec_data(m->rec, w->sid, (int32_t)chan, stream, data,
	    len)) != 0) {
		/* Fail closed: what cannot be recorded is not relayed. */
		log_error("session %lld: recording failed: %s",
		    (long long)w->sid, bst_strerror(r));
		worker_end(m, w, "protocol-error", "recording failed", 1);
	}
}

static const char *meta_kinds[] = {
	"channel-open", "request", "eof", "exit-status", "exit-signal",
	"channel-close", "error", NULL
};

static void
mm_answer_meta(struct monitor *m, struct wslot *w, struct ipc_msg *req)
{
	uint64_t seq;
	uint32_t chan;
	char *kind = NULL, *text = NULL;
	json_object *o = NULL;
	int i, r;

	msg_get_u64(req, &seq);
	msg_get_u32(req, &chan);
	msg_get_str(req, &kind);
	msg_get_str(req, &text);
	if (msg_done(req) != 0 ||
	    (chan > INT32_MAX && chan != PROTO_SESSION_CHANNEL)) {
		worker_protocol_error(m, w, "malformed META");
		goto out;
	}
	for (i = 0; meta_kinds[i] != NULL; i++)
		if (strcmp(meta_kinds[i], kind) == 0)
			break;
	o = json_tokener_parse(text);
	if (meta_kinds[i] == NULL || o == NULL ||
	    !json_object_is_type(o, json_type_object)) {
		worker_protocol_error(m, w, "bad META kind or detail");
		goto out;
	}
	if (check_seq(m, w, seq) != 0)
		goto out;
	if (strcmp(kind, "channel-close") == 0)
		appr_channel_gone(m->broker, w->sid, chan);
	if ((r = rec_meta(m->rec, w->sid, chan == PROTO_SESSION_CHANNEL ?
	    REC_NO_CHANNEL : (int32_t)chan, kind, o)) != 0) {
		log_error("session %lld: recording failed: %s",
		    (long long)w->sid, bst_strerror(r));
		worker_end(m, w, "protocol-error", "recording failed", 1);
	}
 out:
	json_object_put(o);
	free(kind);
	free(text);
}

static void
send_verdict(struct monitor *m, struct wslot *w, int type, uint32_t chan,
    int verdict, int code, uint64_t request, const char *message)
{
	struct ipc_msg msg;

	msg_init(&msg, (uint16_t)type);
	msg_put_u32(&msg, chan);
	msg_put_u8(&msg, (uint8_t)verdict);
	msg_put_u8(&msg, (uint8_t)code);
	msg_put_u64(&msg, request);
	msg_put_str(&msg, message);
	send_msg(m, w, &msg, -1);
}

/* The broker's outcome for a held request: tell the waiting worker. */
static void
notify_verdict(void *arg, int64_t sid, uint32_t chan, int verdict, int code,
    uint64_t request, const char *message)
{
	struct monitor *m = arg;
	struct wslot *w;

	for (w = m->workers; w != NULL; w = w->next)
		if (w->sid == sid && w->state == WS_RELAY)
			break;
	if (w == NULL || message == NULL || *message == '\0')
		return;
	send_verdict(m, w, MON_VERDICT, chan, verdict, code, request, message);
}

/*
 * A decision the monitor makes itself, before the policy (nothing to run;
 * what the bastion cannot follow): committed like the policy's.
 */
static void
decide_builtin(struct monitor *m, struct wslot *w, uint32_t chan,
    const char *kind, const char *command, int allow, const char *rule,
    const char *reason)
{
	json_object *ev = json_object_new_object(), *d;
	char *msg;

	d = json_object_new_object();
	json_object_object_add(d, "action",
	    json_object_new_string(allow ? "allow" : "deny"));
	json_object_object_add(d, "rule", json_object_new_string(rule));
	json_object_object_add(d, "reason", json_object_new_string(reason));
	json_object_object_add(ev, "kind", json_object_new_string(kind));
	json_object_object_add(ev, "command", json_object_new_string(command));
	json_object_object_add(ev, "decision", d);
	if (rec_meta(m->rec, w->sid, (int32_t)chan, "policy", ev) != 0 ||
	    rec_flush(m->rec) != 0)
		send_verdict(m, w, MON_DECISION, chan, VERDICT_DENIED,
		    PROTO_EXIT_SOFTWARE, 0, "internal error: the decision "
		    "could not be recorded; the command did not run");
	else if (allow)
		send_verdict(m, w, MON_DECISION, chan, VERDICT_RUN, 0, 0, "");
	else {
		msg = xasprintf("denied: %s", reason);
		log_info("session %lld: %s", (long long)w->sid, msg);
		send_verdict(m, w, MON_DECISION, chan, VERDICT_DENIED,
		    PROTO_EXIT_NOPERM, 0, msg);
		free(msg);
	}
	json_object_put(ev);
}

/* A decision the monitor makes itself, before the policy (judge()). */
struct builtin_decision {
	const char	*rule;		/* NULL: the policy decides */
	const char	*reason;
	int		 allow;
};

static void
builtin(struct builtin_decision *bi, int allow, const char *rule,
    const char *reason)
{
	bi->allow = allow;
	bi->rule = rule;
	bi->reason = reason;
}

/*
 * What the running policy (or the monitor itself, in *bi) says about
 * kind/command for subj: shared by W_DECIDE and the reload's re-check of
 * held requests.  *shell is set for what opens a shell.  Returns 0 with
 * *d (caller frees) or bi->rule set, or -1: fail closed.
 */
static int
judge(struct monitor *m, const struct policy_subject *subj, const char *kind,
    const char *command, struct policy_decision **dp,
    struct builtin_decision *bi, int *shell)
{
	struct policy_decision *d = NULL;
	struct pc_result *pr = NULL;
	struct scp_sink sink;
	int r = -1;

	*dp = NULL;
	*shell = 0;
	memset(bi, 0, sizeof(*bi));
	memset(&sink, 0, sizeof(sink));
	if (strncmp(kind, "line", 4) == 0) {
		/*
		 * One line of a shell (docs/ARCHITECTURE.md, "Shells, line by
		 * line"): what the shell would run next.  "line-opaque": the
		 * worker could not follow how it was edited.  "line-part": the
		 * start of a construct (the shell should wait for the rest,
		 * but only the shell knows): opaque, not a parse error.
		 */
		if (strcmp(kind, "line-part") == 0) {
			pr = pc_parse("", 0);
			script_mark_opaque(pr, command, "the start of a shell "
			    "construct; its end is not known yet");
		} else
			pr = pc_parse(command, strlen(command));
		if (strcmp(kind, "line-opaque") == 0)
			script_mark_opaque(pr, command, "a line edited in ways "
			    "the bastion cannot follow");
		else
			(void)script_mark_hooks(pr, command, strlen(command));
		if (script_empty(pr)) {
			/* Enter on an empty prompt, comments: nothing runs. */
			builtin(bi, 1, "empty", "nothing to run");
			goto out;
		}
		if (scp_cmd_parse(command, pr, &sink) != SCP_CMD_NONE) {
			scp_sink_free(&sink);
			builtin(bi, 0, "scp-sink", "a legacy scp upload (scp -t) "
			    "typed into a shell cannot be followed file by file; "
			    "use sftp or scp (OpenSSH's default), or scp -O on "
			    "its own");
			goto out;
		}
		r = policy_eval(m->policy->pol, subj, pr, &d);
	} else if ((strcmp(kind, "exec") == 0 && !script_shell_exec(command)) ||
	    strcmp(kind, "sftp") == 0 || strcmp(kind, "scp") == 0) {
		/* "sftp", "scp": a request of the sftp subsystem, or a file
		 * or folder an scp upload would create, as the shell command
		 * that does the same (session/sftp.h, session/scp.h). */
		pr = pc_parse(command, strlen(command));
		if (strcmp(kind, "exec") == 0 && scp_cmd_parse(command, pr,
		    &sink) == SCP_CMD_UNFOLLOWABLE) {
			builtin(bi, 0, "scp-sink", "the bastion follows a legacy "
			    "scp upload file by file only as a plain \"scp [-r] "
			    "[-d] [-p] -t PATH\" with a literal PATH; use sftp or "
			    "scp (OpenSSH's default)");
			goto out;
		}
		scp_sink_free(&sink);
		r = policy_eval(m->policy->pol, subj, pr, &d);
	} else if (strcmp(kind, "subsystem") == 0) {
		*shell = 1;
		r = policy_eval_sftp(m->policy->pol, subj, &d);
	} else {
		/*
		 * A shell, or an exec of a shell reading its commands from
		 * stdin ("bash -s"): the "shell" action says whether it may
		 * start; the worker then judges each line it is given.
		 */
		*shell = 1;
		r = policy_eval_shell(m->policy->pol, subj, &d);
	}
	if (r != 0 || d == NULL) {
		policy_decision_free(d);
		r = -1;
		goto out;
	}
	*dp = d;
	r = 0;
 out:
	pc_result_free(pr);
	return r == 0 || bi->rule != NULL ? 0 : -1;
}

/*
 * W_DECIDE: may this channel run this exec string / open a shell?  The
 * decision is committed (a "policy" event in the session's chain) before
 * the worker hears it.
 */
static void
mm_answer_decide(struct monitor *m, struct wslot *w, struct ipc_msg *req)
{
	char *kind = NULL, *command = NULL, *msg = NULL, *groups = NULL;
	struct policy_subject subj;
	struct policy_decision *d = NULL;
	struct builtin_decision bi;
	struct rec_request rr;
	json_object *ev = NULL, *dj;
	uint32_t chan;
	uint8_t wait = 1;
	int64_t rid = 0;
	int r, shell = 0;

	msg_get_u32(req, &chan);
	msg_get_str(req, &kind);
	msg_get_str(req, &command);
	msg_get_u8(req, &wait);
	if (msg_done(req) != 0 || chan > INT32_MAX || (strcmp(kind, "exec") != 0 &&
	    strcmp(kind, "shell") != 0 && strcmp(kind, "line") != 0 &&
	    strcmp(kind, "line-opaque") != 0 && strcmp(kind, "sftp") != 0 &&
	    strcmp(kind, "scp") != 0 &&
	    (strcmp(kind, "subsystem") != 0 || strcmp(command, "sftp") != 0) &&
	    strcmp(kind, "line-part") != 0) || w->identity == NULL ||
	    w->target == NULL) {
		worker_protocol_error(m, w, "malformed DECIDE");
		goto out;
	}
	if (w->ending != NULL) {
		/* Until its worker is gone: nothing more runs. */
		decide_builtin(m, w, chan, kind, command, 0, w->ending_reason,
		    w->ending);
		goto out;
	}
	running_policy_subject(&subj, w->identity, w->target->name);
	r = judge(m, &subj, kind, command, &d, &bi, &shell);
	if (r == 0 && bi.rule != NULL) {
		decide_builtin(m, w, chan, kind, command, bi.allow, bi.rule,
		    bi.reason);
		goto out;
	}
	if (r != 0 || d == NULL) {
		/* Fail closed. */
		send_verdict(m, w, MON_DECISION, chan, VERDICT_DENIED,
		    PROTO_EXIT_SOFTWARE, 0, "internal error: the policy could "
		    "not be evaluated; the command did not run");
		goto out;
	}
	dj = policy_decision_json(d);
	ev = json_object_new_object();
	json_object_object_add(ev, "kind", json_object_new_string(kind));
	json_object_object_add(ev, "command", json_object_new_string(command));
	json_object_object_add(ev, "decision", json_object_get(dj));
	json_object_object_add(ev, "policy_sha256",
	    json_object_new_string(m->policy->sha256));
	if (shell)
		json_object_object_add(ev, "lines", json_object_new_string(
		    strcmp(kind, "subsystem") == 0 ? "each sftp request is "
		    "judged on its own" : "each line is judged on its own"));
	if ((r = rec_meta(m->rec, w->sid, (int32_t)chan, "policy", ev)) != 0 ||
	    (r = rec_flush(m->rec)) != 0) {
		json_object_put(dj);
		send_verdict(m, w, MON_DECISION, chan, VERDICT_DENIED,
		    PROTO_EXIT_SOFTWARE, 0, "internal error: the decision could "
		    "not be recorded; the command did not run");
		goto out;
	}
	switch (d->action) {
	case POLICY_ALLOW:
		send_verdict(m, w, MON_DECISION, chan, VERDICT_RUN, 0, 0, "");
		break;
	case POLICY_DENY:
		msg = xasprintf("denied by policy: %s", d->reason);
		log_info("session %lld: %s", (long long)w->sid, msg);
		send_verdict(m, w, MON_DECISION, chan, VERDICT_DENIED,
		    PROTO_EXIT_NOPERM, 0, msg);
		break;
	case POLICY_APPROVE:
		if (rec_request_find_deferred(m->rec, w->identity->name,
		    w->target->name, w->target_user, command, now_real_us(),
		    &rid) == 0 && rec_request_use(m->rec, rid, w->sid) == 0) {
			msg = xasprintf("approved request %lld is used",
			    (long long)rid);
			send_verdict(m, w, MON_DECISION, chan, VERDICT_RUN, 0,
			    (uint64_t)rid, msg);
			break;
		}
		memset(&rr, 0, sizeof(rr));
		groups = strv_join(d->approvers, " ");
		rr.session_id = w->sid;
		rr.channel = (int32_t)chan;
		rr.identity = w->identity->name;
		rr.owner = w->identity->owner;
		rr.target = w->target->name;
		rr.target_user = w->target_user;
		rr.command = strcmp(kind, "shell") == 0 ? "(interactive shell)" :
		    strcmp(kind, "subsystem") == 0 ? "(sftp subsystem)" : command;
		rr.rule = d->rule;
		rr.reason = d->reason;
		rr.groups = groups;
		rr.count = d->count;
		rr.timeout = d->timeout;
		/* What is asked about: a command, a shell, a shell line. */
		json_object_object_add(dj, "kind",
		    json_object_new_string(kind));
		rr.analysis = dj;
		if (appr_hold(m->broker, &rr, wait, &rid, &msg) != 0) {
			send_verdict(m, w, MON_DECISION, chan, VERDICT_DENIED,
			    PROTO_EXIT_SOFTWARE, 0, "internal error: the "
			    "request could not be recorded; the command did "
			    "not run");
			break;
		}
		send_verdict(m, w, MON_DECISION, chan, wait ? VERDICT_HELD :
		    VERDICT_EXPIRED, PROTO_EXIT_TEMPFAIL, (uint64_t)rid, msg);
		break;
	}
	json_object_put(dj);
 out:
	json_object_put(ev);
	policy_decision_free(d);
	free(kind);
	free(command);
	free(msg);
	free(groups);
}

int
monitor_vote(struct monitor *m, int64_t id, const char *token, int approve,
    const char *reason, json_object **reply)
{
	int r = appr_vote(m->broker, id, token, approve, reason, reply);

	commit_and_ack(m);
	return r;
}

int
monitor_terminate(struct monitor *m, int64_t sid, const char *token,
    const char *reason, json_object **reply)
{
	const struct cfg_approver *a;
	struct wslot *w;
	char *why, *msg;

	*reply = NULL;
	if ((a = appr_approver_by_token(m->broker, token)) == NULL) {
		*reply = appr_error_reply(APPR_E_TOKEN, "unknown approver token");
		return 0;
	}
	if (reason == NULL || !is_one_line(reason) ||
	    strlen(reason) > PROTO_MAX_TERMINATE_REASON) {
		*reply = appr_error_reply(NULL, "the reason must be one line of "
		    "printable text, at most %d bytes", PROTO_MAX_TERMINATE_REASON);
		return 0;
	}
	for (w = m->workers; w != NULL; w = w->next)
		if (w->sid == sid)
			break;
	if (w == NULL || w->state == WS_ENDED) {
		*reply = appr_error_reply(APPR_E_NOTFOUND, "no live session %lld "
		    "(see 'bastionctl sessions --live')", (long long)sid);
		return 0;
	}
	if (w->ending != NULL) {
		*reply = appr_error_reply(APPR_E_FINAL, "session %lld is already "
		    "ending (%s)", (long long)sid, w->ending);
		return 0;
	}
	why = *reason != '\0' ? xasprintf("terminated by %s: %s", a->name,
	    reason) : xasprintf("terminated by %s", a->name);
	end_by_monitor(m, w, "terminated", a->name, why);
	commit_and_ack(m);
	msg = xasprintf("session %lld is ending: %s", (long long)sid, why);
	*reply = json_object_new_object();
	json_object_object_add(*reply, "ok", json_object_new_boolean(1));
	json_object_object_add(*reply, "session", json_object_new_int64(sid));
	json_object_object_add(*reply, "message", json_object_new_string(msg));
	free(msg);
	free(why);
	return 0;
}

static int
terminate_cb(void *arg, int64_t sid, const char *token, const char *reason,
    json_object **reply)
{
	return monitor_terminate(arg, sid, token, reason, reply);
}

static const char *end_reasons[] = {
	"closed", "auth-failed", "target-refused", "target-unreachable",
	"host-key-mismatch", "upstream-auth-failed", "client-disconnected",
	"target-disconnected", "protocol-error", "login-timeout",
	"monitor-shutdown", "access-revoked", "terminated", NULL
};

static void
mm_answer_end(struct monitor *m, struct wslot *w, struct ipc_msg *req)
{
	char *reason = NULL, *detail = NULL;
	int i;

	msg_get_str(req, &reason);
	msg_get_str(req, &detail);
	if (msg_done(req) != 0) {
		worker_protocol_error(m, w, "malformed END");
		goto out;
	}
	for (i = 0; end_reasons[i] != NULL; i++)
		if (strcmp(end_reasons[i], reason) == 0)
			break;
	if (end_reasons[i] == NULL) {
		worker_protocol_error(m, w, "unknown end reason");
		goto out;
	}
	if (w->ending != NULL)		/* the monitor's word, not the worker's */
		worker_end(m, w, w->ending_reason, w->ending, 0);
	else
		worker_end(m, w, reason, detail, 0);
 out:
	free(reason);
	free(detail);
}

/*
 * The request table: which message is permitted in which state
 * (OpenSSH mon_dispatch with MON_PERMIT).  Bit n = state n allowed.
 */
#define S(x) (1u << (x))
static const struct {
	uint16_t	 type;
	unsigned	 states;
	void		(*fn)(struct monitor *, struct wslot *, struct ipc_msg *);
} mon_dispatch[] = {
	{ W_AUTH_PUBKEY, S(WS_PREAUTH), mm_answer_auth },
	{ W_CONNECT, S(WS_AUTHED), mm_answer_connect },
	{ W_UPSTREAM, S(WS_CONNECTED), mm_answer_upstream },
	{ W_DECIDE, S(WS_RELAY), mm_answer_decide },
	{ W_DATA, S(WS_AUTHED) | S(WS_CONNECTED) | S(WS_RELAY),
	    mm_answer_data },
	{ W_META, S(WS_AUTHED) | S(WS_CONNECTED) | S(WS_RELAY),
	    mm_answer_meta },
	{ W_END, S(WS_PREAUTH) | S(WS_AUTHED) | S(WS_CONNECTING) |
	    S(WS_CONNECTED) | S(WS_RELAY), mm_answer_end },
};

static void
worker_dispatch(struct monitor *m, struct wslot *w, struct ipc_msg *msg)
{
	size_t i;
	char what[64];

	for (i = 0; i < sizeof(mon_dispatch) / sizeof(mon_dispatch[0]); i++) {
		if (mon_dispatch[i].type != msg->type)
			continue;
		if ((mon_dispatch[i].states & S(w->state)) == 0)
			break;
		mon_dispatch[i].fn(m, w, msg);
		return;
	}
	snprintf(what, sizeof(what), "message %u not permitted in state %d",
	    msg->type, (int)w->state);
	worker_protocol_error(m, w, what);
}

/* Reads and handles everything a worker has sent. */
static void
worker_input(struct monitor *m, struct wslot *w)
{
	struct ipc_msg msg;
	int i, r;

	for (i = 0; i < READS_PER_TURN && !w->ipc_eof; i++) {
		size_t before = ipc_buffered(w->ipc);

		r = ipc_read(w->ipc);
		if (r == BST_ERR_EOF || r == BST_ERR_IO)
			w->ipc_eof = 1;
		for (;;) {
			r = ipc_next(w->ipc, &msg);
			if (r == BST_ERR_AGAIN)
				break;
			if (r != 0) {
				worker_protocol_error(m, w, "bad frame");
				w->ipc_eof = 1;
				break;
			}
			if (w->state != WS_ENDED)
				worker_dispatch(m, w, &msg);
			msg_free(&msg);
		}
		if (ipc_buffered(w->ipc) == before && r == BST_ERR_AGAIN &&
		    !w->ipc_eof)
			break;
	}
}

/* Commits the batch and lets every worker relay what it holds. */
static void
commit_and_ack(struct monitor *m)
{
	struct wslot *w;
	struct ipc_msg msg;
	int r;

	if (rec_pending_events(m->rec) > 0 &&
	    (r = rec_flush(m->rec)) != 0) {
		/* Nothing can be acknowledged: end every session. */
		log_error("database commit failed: %s; ending all sessions",
		    bst_strerror(r));
		for (w = m->workers; w != NULL; w = w->next)
			worker_end(m, w, "protocol-error",
			    "recording failed", 1);
		return;
	}
	for (w = m->workers; w != NULL; w = w->next) {
		if (w->state == WS_ENDED || w->ipc_eof || w->write_failed ||
		    w->acked + 1 >= w->next_seq)
			continue;
		if (ipc_queued(w->ipc) > MAX_QUEUED_TO_WORKER) {
			worker_protocol_error(m, w,
			    "worker does not read its acknowledgements");
			continue;
		}
		w->acked = w->next_seq - 1;
		msg_init(&msg, MON_ACK);
		msg_put_u64(&msg, w->acked);
		send_msg(m, w, &msg, -1);
	}
}

static void
reap_children(struct monitor *m)
{
	struct wslot *w;
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (w = m->workers; w != NULL; w = w->next)
			if (w->pid == pid)
				break;
		if (w == NULL)
			continue;
		w->exited = 1;
		w->wstatus = status;
	}
}

/* Finishes workers that exited: drain their last messages, record. */
static void
collect_exited(struct monitor *m)
{
	struct wslot **pp = &m->workers, *w;
	char detail[128];

	while ((w = *pp) != NULL) {
		if (!w->exited) {
			pp = &w->next;
			continue;
		}
		/* Whatever it wrote before dying is still in the socket. */
		while (!w->ipc_eof && w->state != WS_ENDED)
			worker_input(m, w);
		wlog_drain(&w->log);
		if (WIFSIGNALED(w->wstatus) && WTERMSIG(w->wstatus) == SIGSYS) {
			long nr = kmsg_seccomp_kill(m->kmsg, w->pid);
			const char *name = kmsg_syscall_name(nr);

			if (nr >= 0)
				snprintf(detail, sizeof(detail), "worker killed "
				    "by the seccomp filter (SIGSYS): syscall %ld "
				    "(%s)", nr, name ? name : "?");
			else
				snprintf(detail, sizeof(detail), "worker killed "
				    "by the seccomp filter (SIGSYS); syscall "
				    "not known");
			log_warn("session %lld: sandbox violation%s: %s",
			    (long long)w->sid, w->state == WS_ENDED ?
			    " after the session ended" : "", detail);
			if (w->state != WS_ENDED)
				worker_end(m, w, "sandbox-violation", detail, 0);
		} else if (w->state != WS_ENDED) {
			if (WIFSIGNALED(w->wstatus))
				snprintf(detail, sizeof(detail),
				    "worker killed by signal %d (%s)",
				    WTERMSIG(w->wstatus),
				    strsignal(WTERMSIG(w->wstatus)));
			else
				snprintf(detail, sizeof(detail),
				    "worker exited with status %d without "
				    "ending the session",
				    WEXITSTATUS(w->wstatus));
			worker_end(m, w, "worker-crashed", detail, 0);
		}
		*pp = w->next;
		m->nworkers--;
		wslot_free(w);
	}
}

static void
accept_clients(struct monitor *m)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	char addr[INET6_ADDRSTRLEN] = "?";
	int fd, port = 0, n;

	for (n = 0; n < 16; n++) {
		sl = sizeof(ss);
		fd = accept4(m->lfd, (struct sockaddr *)&ss, &sl,
		    SOCK_CLOEXEC);
		if (fd < 0)
			return;
		if (ss.ss_family == AF_INET) {
			struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

			inet_ntop(AF_INET, &sin->sin_addr, addr, sizeof(addr));
			port = ntohs(sin->sin_port);
		} else if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

			inet_ntop(AF_INET6, &s6->sin6_addr, addr, sizeof(addr));
			port = ntohs(s6->sin6_port);
		}
		if (m->stopping) {
			close(fd);
			continue;
		}
		spawn_worker(m, fd, addr, port);
	}
}

/*
 * MON_SHUTDOWN: the worker tells every open channel message (exit status
 * code) and ends the session with reason.
 */
static void
send_shutdown(struct monitor *m, struct wslot *w, const char *reason,
    int code, const char *message)
{
	struct ipc_msg msg;

	msg_init(&msg, MON_SHUTDOWN);
	msg_put_str(&msg, reason);
	msg_put_u8(&msg, (uint8_t)code);
	msg_put_str(&msg, message);
	send_msg(m, w, &msg, -1);
}

static void
begin_shutdown(struct monitor *m, const char *why)
{
	struct wslot *w;

	if (m->stopping)
		return;
	log_info("shutting down (%s)", why);
	m->stopping = 1;
	m->shutdown_deadline = now_mono_us() + SHUTDOWN_GRACE_US;
	for (w = m->workers; w != NULL; w = w->next) {
		if (w->state == WS_ENDED)
			continue;
		send_shutdown(m, w, "monitor-shutdown", PROTO_EXIT_UNAVAILABLE,
		    "unavailable: the bastion is shutting down; the session "
		    "ended");
	}
}

/* Logs each line of a multi-line cause. */
static void
log_lines(const char *what, const char *cause)
{
	const char *p = cause, *nl;

	while (p != NULL && *p != '\0') {
		nl = strchr(p, '\n');
		log_error("%s: %.*s", what, nl != NULL ? (int)(nl - p) :
		    (int)strlen(p), p);
		p = nl != NULL ? nl + 1 : NULL;
	}
}

/* The policy's version goes into the database before it decides anything. */
static int
store_policy(struct monitor *m, struct running_policy *rp)
{
	int64_t now = now_real_us();

	if (rec_policy_put(m->rec, rp->sha256, rp->text, rp->source,
	    now) != 0 || rec_flush(m->rec) != 0) {
		log_error("policy %.12s: cannot be recorded in the database",
		    rp->sha256);
		return -1;
	}
	rp->in_force_us = now;
	return 0;
}

json_object *
monitor_policy_json(struct monitor *m)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "sha256",
	    json_object_new_string(m->policy->sha256));
	json_object_object_add(o, "source",
	    json_object_new_string(m->policy->source));
	json_object_object_add(o, "rules",
	    json_object_new_int64((int64_t)m->policy->nrules));
	json_object_object_add(o, "in_force_us",
	    json_object_new_int64(m->policy->in_force_us));
	return o;
}

static const char *
jstr(json_object *o, const char *key)
{
	json_object *v;

	if (o == NULL || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/*
 * After a reload, each held request is judged again by the new policy,
 * and what it denies is denied now (the waiting agent is told, exit 77):
 * no approval given later runs a command the policy in force denies.
 * What it would allow or hold stays pending for the approvers, under the
 * rule that held it.  Anything that cannot be judged is denied.
 */
static void
recheck_held(struct monitor *m)
{
	int64_t *ids = NULL;
	size_t n = 0, i;

	appr_pending_ids(m->broker, &ids, &n);
	for (i = 0; i < n; i++) {
		const struct cfg_identity *ident = NULL;
		const char *why = NULL, *kind, *command;
		struct policy_decision *d = NULL;
		struct builtin_decision bi;
		struct policy_subject subj;
		json_object *o = NULL, *a = NULL;
		char *detail, *msg;
		int shell;

		if (rec_request_get(m->rec, ids[i], &o) != 0) {
			why = "it could not be read back to be judged again";
			goto deny;
		}
		(void)json_object_object_get_ex(o, "analysis", &a);
		kind = jstr(a, "kind");
		command = jstr(o, "command");
		if (kind != NULL && strcmp(kind, "subsystem") == 0)
			command = "sftp";
		if (jstr(o, "identity") != NULL)
			ident = cfg_find_identity(m->cfg, jstr(o, "identity"));
		if (kind == NULL || command == NULL || ident == NULL ||
		    jstr(o, "target") == NULL) {
			why = "it could not be judged again (unknown kind, "
			    "command or identity)";
			goto deny;
		}
		running_policy_subject(&subj, ident, jstr(o, "target"));
		if (judge(m, &subj, kind, command, &d, &bi, &shell) != 0)
			why = "the new policy could not be evaluated";
		else if (bi.rule != NULL && !bi.allow)
			why = bi.reason;
		else if (d != NULL && d->action == POLICY_DENY)
			why = d->reason;
		if (why == NULL) {
			policy_decision_free(d);
			json_object_put(o);
			continue;
		}
 deny:
		detail = xasprintf("policy %.12s, put in force while the request "
		    "was held, denies it: %s", m->policy->sha256, why);
		msg = xasprintf("denied by policy (changed while request %lld "
		    "was held): %s", (long long)ids[i], why);
		(void)appr_deny_by_policy(m->broker, ids[i], detail, msg);
		free(detail);
		free(msg);
		policy_decision_free(d);
		json_object_put(o);
	}
	free(ids);
}

/*
 * The monitor ends w's session (reason: "access-revoked" after a reload,
 * "terminated" by an approver; by: who, for the requests it waits for;
 * why: one line for the agent and the record): what it waits for is
 * cancelled, nothing more runs (mm_answer_decide), and the worker tells
 * every open channel why and ends the session; it is killed if it has not
 * within the grace period.
 */
static void
end_by_monitor(struct monitor *m, struct wslot *w, const char *reason,
    const char *by, const char *why)
{
	char *msg;

	w->ending = xstrdup(why);
	w->ending_reason = reason;
	w->ending_deadline = now_mono_us() + SHUTDOWN_GRACE_US;
	log_warn("session %lld: %s; ending the session", (long long)w->sid,
	    why);
	appr_session_ending(m->broker, w->sid, by, why);
	msg = xasprintf("%s; the session ended", why);
	send_shutdown(m, w, reason, PROTO_EXIT_NOPERM, msg);
	free(msg);
}

/* Moves w to the configuration in force; 0, or -1 once its access is revoked. */
static int
regrant(struct monitor *m, struct wslot *w)
{
	const struct cfg_identity *id;
	const struct cfg_target *t;
	struct access_grant g;
	char why[512], *msg;

	if (w->identity != NULL) {
		memset(&g, 0, sizeof(g));
		g.identity = w->identity->name;
		g.key_type = w->key_type;
		g.key_b64 = w->key_b64;
		g.target = w->target != NULL ? w->target->name : NULL;
		g.target_user = w->target_user;
		if (access_recheck(m->cfg, &g, &id, &t, why, sizeof(why)) != 0) {
			msg = xasprintf("access revoked: %s", why);
			end_by_monitor(m, w, "access-revoked", "configuration",
			    msg);
			free(msg);
			return -1;
		}
		w->identity = id;
		if (w->target != NULL)
			w->target = t;
	}
	cfg_gen_unref(w->gen);
	w->gen = cfg_gen_ref(m->gen);
	return 0;
}

/* Keys a SIGHUP puts in force; every other key waits for a restart. */
static const char *live_keys[] = {
	"identities", "targets", "approvers", "env_allow",
	"keepalive_interval", "keepalive_max", "login_grace_time",
	"max_sessions", "max_auth_tries", NULL
};
/* ... and these too, when the channels can take them (appr_channels_adopt). */
static const char *channel_keys[] = {
	"http", "slack", "teams", "webhooks", NULL
};

/* Appends key to the malloc'd list *s ("a, b"). */
static void
list_add(char **s, const char *key)
{
	char *t = xasprintf("%s%s%s", *s ? *s : "", *s ? ", " : "", key);

	free(*s);
	*s = t;
}

/*
 * SIGHUP: the config file is loaded and checked again.  With no problem,
 * its identities, targets, approvers, session limits and policy are in
 * force for everything from now on: live sessions whose access still
 * holds carry on (regrant), the others are ended; held requests are
 * judged again (recheck_held).  Any problem changes nothing.  Other keys
 * that differ from the running ones are named: they wait for a restart.
 */
static void
reload_config(struct monitor *m)
{
	struct running_policy rp;
	struct cfg *ncfg = NULL;
	struct cfg_gen *old;
	struct wslot *w;
	char *cause = NULL, **changed, **k, *live = NULL;
	const char *why;
	int new_policy, kept = 0, revoked = 0, chan_changed, adopted = 0;

	if (cfg_load(m->cfg->path, &ncfg, &cause) != 0 ||
	    running_policy_load(ncfg, &rp, &cause) != 0) {
		log_lines("SIGHUP", cause);
		log_error("SIGHUP: the configuration has problems (above); "
		    "nothing changed: policy %.12s stays in force, and so "
		    "does the configuration loaded before", m->policy->sha256);
		free(cause);
		cfg_free(ncfg);
		return;
	}
	new_policy = strcmp(rp.sha256, m->policy->sha256) != 0;
	if (new_policy && store_policy(m, &rp) != 0) {
		log_error("SIGHUP: nothing changed: policy %.12s stays in "
		    "force, and so does the configuration loaded before",
		    m->policy->sha256);
		running_policy_free(&rp);
		cfg_free(ncfg);
		return;
	}
	changed = cfg_changed_keys(m->boot, ncfg);
	for (k = changed; *k != NULL; k++)
		if (!strv_contains((char *const *)live_keys, *k) &&
		    !strv_contains((char *const *)channel_keys, *k))
			log_warn("SIGHUP: \"%s\" changed in %s: it takes effect "
			    "at the next restart", *k, m->cfg->path);
	strv_free(changed);
	changed = cfg_changed_keys(m->cfg, ncfg);
	for (k = changed; *k != NULL; k++)
		if (strv_contains((char *const *)live_keys, *k))
			list_add(&live, *k);
	strv_free(changed);
	/* The approval channels: all their keys now, or none until a restart. */
	changed = cfg_changed_keys(m->chan_gen->cfg, ncfg);
	chan_changed = 0;
	for (k = changed; *k != NULL; k++)
		chan_changed |= strv_contains((char *const *)channel_keys, *k);
	if (chan_changed && appr_channels_adopt(m->chan, ncfg, &why) != 0) {
		for (k = changed; *k != NULL; k++)
			if (strv_contains((char *const *)channel_keys, *k))
				log_warn("SIGHUP: \"%s\" changed in %s: it takes "
				    "effect at the next restart (%s)", *k,
				    m->cfg->path, why);
	} else if (chan_changed) {
		for (k = changed; *k != NULL; k++)
			if (strv_contains((char *const *)channel_keys, *k))
				list_add(&live, *k);
		adopted = 1;
	}
	strv_free(changed);

	old = m->gen;
	m->gen = cfg_gen_new(ncfg, 1);
	m->cfg = ncfg;
	if (adopted) {
		cfg_gen_unref(m->chan_gen);
		m->chan_gen = cfg_gen_ref(m->gen);
	}
	appr_broker_set_cfg(m->broker, ncfg);
	free(m->env_allow);
	m->env_allow = strv_join(ncfg->env_allow, " ");
	for (w = m->workers; w != NULL; w = w->next) {
		if (w->state == WS_ENDED || w->ending != NULL)
			continue;
		if (regrant(m, w) == 0)
			kept++;
		else
			revoked++;
	}
	cfg_gen_unref(old);

	if (new_policy) {
		log_info("SIGHUP: policy %.12s (%s, %zu rule%s) replaces %.12s "
		    "for every decision from now on", rp.sha256, rp.source,
		    rp.nrules, rp.nrules == 1 ? "" : "s", m->policy->sha256);
		running_policy_free(m->policy);
		*m->policy = rp;
	} else {
		log_info("SIGHUP: policy %.12s unchanged (%s)", rp.sha256,
		    rp.source);
		running_policy_free(&rp);
	}
	log_info("SIGHUP: configuration %s reloaded (%s); %d session%s go%s "
	    "on, %d ended (access revoked)", m->cfg->path,
	    live ? live : "no identity, target, approver, limit or channel "
	    "changed",
	    kept, kept == 1 ? "" : "s", kept == 1 ? "es" : "", revoked);
	free(live);
	recheck_held(m);
}

int
monitor_run(struct cfg *cfg, struct running_policy *policy,
    const char *session_binary, int debug)
{
	struct monitor mon, *m = &mon;
	struct pollfd *pfds = NULL;
	struct wslot **pw = NULL, *w;
	char *cause = NULL;
	int ret = 1, i, n, nctl, nchan, timeout, r, ckpt_fd = -1;
	struct sigaction sa;
	unsigned char sigc;

	memset(m, 0, sizeof(*m));
	m->cfg = cfg;
	m->boot = cfg;
	m->gen = cfg_gen_new(cfg, 0);
	m->chan_gen = cfg_gen_ref(m->gen);
	m->policy = policy;
	m->session_binary = session_binary;
	m->debug = debug;
	m->lfd = -1;
	m->kmsg = kmsg_open();
	m->started_us = now_real_us();
	m->rfd = -1;
	if (access(session_binary, X_OK) != 0) {
		log_error("session worker %s: %s", session_binary,
		    strerror(errno));
		return 1;
	}
	/* Before any key is read or thread started: see resolver.h. */
	if (resolver_start(cfg->sandbox_uid, cfg->sandbox_gid, &m->rfd,
	    &cause) < 0) {
		log_error("cannot start the resolver: %s", cause);
		free(cause);
		return 1;
	}
	if ((r = read_file(cfg->host_key_path, 64 * 1024, &m->host_key,
	    NULL)) != 0) {
		log_error("host key %s: %s", cfg->host_key_path,
		    bst_strerror(r));
		return 1;
	}
	m->env_allow = strv_join(cfg->env_allow, " ");
	/* Before the database is opened here: no connection across fork. */
	if (rec_checkpointer_start(cfg->database_path, &ckpt_fd, &cause) < 0) {
		log_error("cannot start the checkpointer: %s", cause);
		goto out;
	}
	if ((r = rec_open_sealing(cfg->database_path, cfg->seal_key,
	    &m->rec, &cause)) != 0) {
		log_error("%s", cause ? cause : bst_strerror(r));
		goto out;
	}
	rec_set_checkpointer(m->rec, ckpt_fd);
	if (store_policy(m, m->policy) != 0)
		goto out;
	log_info("policy %.12s (%s, %zu rule%s)", m->policy->sha256,
	    m->policy->source, m->policy->nrules,
	    m->policy->nrules == 1 ? "" : "s");
	{
		int nstale = 0;

		if (rec_request_close_stale(m->rec, &nstale) == 0 &&
		    nstale > 0)
			log_warn("%d approval request(s) were pending when the "
			    "previous bastion stopped: recorded as denied",
			    nstale);
	}
	m->broker = appr_broker_new(m->rec, cfg, notify_verdict, m);
	appr_set_terminator(m->broker, terminate_cb, m);
	if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		fatal("pipe: %s", strerror(errno));
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = sig_handler;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGCHLD, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if ((r = control_open(cfg->control_socket_path, &m->ctl, &cause)) != 0) {
		log_error("%s", cause);
		goto out;
	}
	if ((r = appr_channels_open(cfg, m->rec, m->broker, &m->chan,
	    &cause)) != 0) {
		log_error("%s", cause);
		goto out;
	}
	if ((m->lfd = tcp_listen(cfg->listen_host, cfg->listen_port, "",
	    &cause)) < 0) {
		log_error("%s", cause);
		goto out;
	}
	log_info("listening on %s:%d (database %s, control socket %s)",
	    cfg->listen_host, cfg->listen_port, cfg->database_path,
	    cfg->control_socket_path);
	proctitle_set("bastion: monitor %s:%d", cfg->listen_host,
	    cfg->listen_port);
	pfds = xcalloc(MAX_POLLFDS, sizeof(*pfds));
	pw = xcalloc(MAX_POLLFDS, sizeof(*pw));

	for (;;) {
		int64_t now = now_mono_us(), next = now + 1000000;

		if (m->stopping && m->workers == NULL)
			break;
		if (m->stopping && now > m->shutdown_deadline) {
			for (w = m->workers; w != NULL; w = w->next)
				worker_end(m, w, "monitor-shutdown",
				    "bastion stopped", 1);
		}
		for (w = m->workers; w != NULL; w = w->next) {
			if (w->ending == NULL || w->state == WS_ENDED)
				continue;
			if (now > w->ending_deadline)
				worker_end(m, w, w->ending_reason, w->ending, 1);
			else if (w->ending_deadline < next)
				next = w->ending_deadline;
		}
		n = 0;
		pfds[n].fd = sig_pipe[0];
		pfds[n++].events = POLLIN;
		pfds[n].fd = m->stopping ? -1 : m->lfd;
		pfds[n++].events = POLLIN;
		pfds[n].fd = m->rfd;
		pfds[n++].events = POLLIN;
		nctl = control_pollfds(m->ctl, pfds + n, 64);
		n += nctl;
		nchan = appr_channels_pollfds(m->chan, pfds + n, 256);
		n += nchan;
		for (w = m->workers; w != NULL && n < MAX_POLLFDS - 3;
		    w = w->next) {
			if (!w->ipc_eof) {
				pw[n] = w;
				pfds[n].fd = ipc_fd(w->ipc);
				pfds[n].events = POLLIN |
				    (ipc_queued(w->ipc) && !w->write_failed ?
				    POLLOUT : 0);
				pfds[n++].revents = 0;
			}
			if (w->log.fd >= 0) {
				pw[n] = w;
				pfds[n].fd = w->log.fd;
				pfds[n].events = POLLIN;
				pfds[n++].revents = 0;
			}
			if (w->cfd >= 0) {
				pw[n] = w;
				pfds[n].fd = w->cfd;
				pfds[n].events = POLLOUT;
				pfds[n++].revents = 0;
				if (w->cdeadline < next)
					next = w->cdeadline;
			}
			if (w->resolving && w->cdeadline < next)
				next = w->cdeadline;
		}
		if (appr_next_deadline(m->broker) < next)
			next = appr_next_deadline(m->broker);
		if (appr_channels_next_deadline(m->chan) < next)
			next = appr_channels_next_deadline(m->chan);
		timeout = (int)((next - now) / 1000) + 1;
		if (timeout < 0)
			timeout = 0;
		if (poll(pfds, n, timeout) < 0 && errno != EINTR)
			fatal("poll: %s", strerror(errno));

		if (pfds[0].revents & POLLIN) {
			while (read(sig_pipe[0], &sigc, 1) == 1) {
				if (sigc == SIGCHLD)
					reap_children(m);
				else if (sigc == SIGHUP) {
					reload_config(m);
					appr_channels_reload_tls(m->chan);
				}
				else
					begin_shutdown(m, sigc == SIGTERM ?
					    "SIGTERM" : "SIGINT");
			}
		}
		if (pfds[1].revents & POLLIN)
			accept_clients(m);
		resolver_input(m, pfds[2].revents != 0);
		control_handle(m->ctl, m, pfds + 3, nctl);
		appr_channels_handle(m->chan, pfds + 3 + nctl, nchan);
		now = now_mono_us();
		for (i = 3 + nctl + nchan; i < n; i++) {
			w = pw[i];
			if (pfds[i].fd == w->log.fd) {
				if (pfds[i].revents != 0)
					wlog_read(&w->log);
				continue;
			}
			if (pfds[i].fd == w->cfd) {
				if (pfds[i].revents != 0)
					connect_complete(m, w, 0);
				else if (now > w->cdeadline)
					connect_complete(m, w, 1);
				continue;
			}
			if (pfds[i].revents & POLLOUT) {
				r = ipc_flush(w->ipc);
				/* Its last messages may still be unread. */
				if (r != 0 && r != BST_ERR_AGAIN)
					w->write_failed = 1;
			}
			if (pfds[i].revents & (POLLIN | POLLHUP | POLLERR))
				worker_input(m, w);
		}
		appr_tick(m->broker, now_mono_us());
		commit_and_ack(m);
		collect_exited(m);
	}
	ret = 0;
 out:
	while ((w = m->workers) != NULL) {
		m->workers = w->next;
		wslot_free(w);
	}
	cfg_gen_unref(m->chan_gen);
	cfg_gen_unref(m->gen);
	free(pfds);
	free(pw);
	free(cause);
	control_close(m->ctl);
	appr_channels_close(m->chan);
	appr_broker_free(m->broker);
	rec_close(m->rec);
	if (m->lfd >= 0)
		close(m->lfd);
	if (m->kmsg >= 0)
		close(m->kmsg);
	if (m->host_key != NULL)
		freezero(m->host_key, strlen(m->host_key));
	free(m->env_allow);
	log_info("stopped");
	return ret;
}
