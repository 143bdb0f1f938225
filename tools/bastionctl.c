/*
 * bastionctl.c: the operator's and auditor's command line.
 *
 *	bastionctl [-c CONFIG] [--json] COMMAND [ARGS]
 *
 * Parses all of argv first (options may come before or after the
 * positional arguments), dispatches through ctl_table[] and holds the
 * helpers the ctl-*.c commands share (ctl.h).  Read-only commands open
 * the recordings database read-only; nothing here writes it.  Trusts the
 * config file named on the command line; trusts nothing read from the
 * database or the control socket (printed through ctl_safe()).
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "common/config.h"
#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "recorder/recorder.h"
#include "tools/ctl.h"

#define CTL_DEFAULT_CONFIG	"/etc/bastion/bastion.json"
/* Control socket limits (docs/PROTOCOL.md: requests up to 64 KiB). */
#define CTL_MAX_REQUEST		(64 * 1024)
#define CTL_MAX_REPLY		(1024 * 1024)
#define CTL_CONTROL_TIMEOUT_SEC	5

static const struct ctl_cmd *const ctl_table[] = {
	&ctl_sessions_entry,
	&ctl_show_entry,
	&ctl_replay_entry,
	&ctl_export_entry,
	&ctl_files_entry,
	&ctl_verify_entry,
	&ctl_policies_entry,
	&ctl_status_entry,
	&ctl_pending_entry,
	&ctl_watch_entry,
	&ctl_approve_entry,
	&ctl_deny_entry,
	&ctl_terminate_entry,
	NULL
};

/* Options every command takes. */
enum { G_CONFIG, G_JSON, G_HELP, G_DATABASE, G_SOCKET };
static const struct {
	const char	*shortname;
	const char	*name;
	int		 has_arg;
	const char	*help;
} ctl_global_opts[] = {
	[G_CONFIG] = { "-c", "--config", 1, "configuration file (default "
	    "$BASTION_CONFIG or " CTL_DEFAULT_CONFIG ")" },
	[G_JSON] = { NULL, "--json", 0, "machine-readable output" },
	[G_HELP] = { "-h", "--help", 0, "this help" },
	[G_DATABASE] = { NULL, "--database", 1, "recordings database, "
	    "instead of the config's" },
	[G_SOCKET] = { NULL, "--socket", 1, "control socket, instead of "
	    "the config's" },
};
#define NGLOBAL	(sizeof(ctl_global_opts) / sizeof(ctl_global_opts[0]))

/* ---- messages ---- */

int
ctl_error(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("bastionctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return CTL_EXIT_FAIL;
}

static void
usage_hint(const struct ctl_cmd *cmd)
{
	if (cmd != NULL)
		fprintf(stderr, "usage: bastionctl %s %s\n", cmd->name,
		    cmd->usage);
	else
		fputs("Try 'bastionctl --help'.\n", stderr);
}

int
ctl_usage_error(const struct ctl_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("bastionctl: ", stderr);
	if (ctx != NULL && ctx->cmd != NULL)
		fprintf(stderr, "%s: ", ctx->cmd->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	usage_hint(ctx ? ctx->cmd : NULL);
	return CTL_EXIT_USAGE;
}

static void
help_all(void)
{
	size_t i;

	printf("usage: bastionctl [-c CONFIG] [--json] COMMAND [ARGS]\n\n"
	    "commands:\n");
	for (i = 0; ctl_table[i] != NULL; i++)
		printf("  %-9s %s\n", ctl_table[i]->name, ctl_table[i]->usage);
	printf("\noptions (anywhere on the line):\n");
	for (i = 0; i < NGLOBAL; i++)
		printf("  %s%s%s%s\n      %s\n",
		    ctl_global_opts[i].shortname ?
		    ctl_global_opts[i].shortname : "",
		    ctl_global_opts[i].shortname ? ", " : "",
		    ctl_global_opts[i].name,
		    ctl_global_opts[i].has_arg ? " VALUE" : "",
		    ctl_global_opts[i].help);
	printf("\n'bastionctl help COMMAND' describes a command.\n"
	    "Exit status: 0 success, 1 failure (or tampering found), "
	    "2 bad usage.\n");
}

static void
help_cmd(const struct ctl_cmd *cmd)
{
	printf("usage: bastionctl %s %s\n\n%s", cmd->name, cmd->usage,
	    cmd->help);
}

/* ---- command line ---- */

static const struct ctl_cmd *
find_cmd(const char *name)
{
	size_t i;

	for (i = 0; ctl_table[i] != NULL; i++)
		if (strcmp(ctl_table[i]->name, name) == 0)
			return ctl_table[i];
	return NULL;
}

static int
find_global(const char *name)
{
	size_t i;

	for (i = 0; i < NGLOBAL; i++)
		if (strcmp(ctl_global_opts[i].name, name) == 0 ||
		    (ctl_global_opts[i].shortname != NULL &&
		    strcmp(ctl_global_opts[i].shortname, name) == 0))
			return (int)i;
	return -1;
}

/* Any command's option of that name (options have one arity everywhere). */
static const struct ctl_opt *
find_cmd_opt(const struct ctl_cmd *only, const char *name)
{
	const struct ctl_opt *o;
	size_t i;

	for (i = 0; ctl_table[i] != NULL; i++) {
		if (only != NULL && ctl_table[i] != only)
			continue;
		for (o = ctl_table[i]->opts; o != NULL && o->name != NULL; o++)
			if (strcmp(o->name, name) == 0)
				return o;
	}
	return NULL;
}

/*
 * Splits argv into options and positionals.  The first positional is the
 * command.  Returns 0, or CTL_EXIT_USAGE after a message.
 */
static int
parse_args(int argc, char **argv, struct ctl_ctx *ctx, int *help,
    char ***posp, int *nposp)
{
	char **pos = xcalloc((size_t)argc + 1, sizeof(*pos));
	char *name = NULL, *value;
	const struct ctl_opt *copt = NULL;
	int i, g, npos = 0, has_arg, only_pos = 0, r = CTL_EXIT_USAGE;

	*posp = NULL;
	*nposp = 0;
	for (i = 1; i < argc; i++) {
		char *a = argv[i];

		free(name);
		name = NULL;
		value = NULL;
		if (only_pos || a[0] != '-' || a[1] == '\0') {
			pos[npos++] = a;
			continue;
		}
		if (strcmp(a, "--") == 0) {
			only_pos = 1;
			continue;
		}
		if (a[1] == '-') {
			/* --name or --name=value */
			char *eq = strchr(a, '=');

			name = eq ? xstrndup(a, (size_t)(eq - a)) : xstrdup(a);
			value = eq ? eq + 1 : NULL;
		} else {
			/* -c VALUE, -cVALUE, -h */
			name = xstrndup(a, 2);
			value = a[2] != '\0' ? a + 2 : NULL;
		}
		if ((g = find_global(name)) >= 0)
			has_arg = ctl_global_opts[g].has_arg;
		else if ((copt = find_cmd_opt(NULL, name)) != NULL)
			has_arg = copt->has_arg;
		else {
			ctl_usage_error(NULL, "unknown option %s", name);
			goto out;
		}
		if (has_arg && value == NULL) {
			if (i + 1 >= argc) {
				ctl_usage_error(NULL, "option %s needs a value",
				    name);
				goto out;
			}
			value = argv[++i];
		} else if (!has_arg && value != NULL) {
			ctl_usage_error(NULL, "option %s takes no value",
			    name);
			goto out;
		}
		switch (g) {
		case G_CONFIG:
			ctx->config_path = value;
			break;
		case G_JSON:
			ctx->json = 1;
			break;
		case G_HELP:
			*help = 1;
			break;
		case G_DATABASE:
			ctx->db_path = value;
			break;
		case G_SOCKET:
			ctx->socket_path = value;
			break;
		default:
			if (ctx->nopts == CTL_MAX_OPTS) {
				ctl_usage_error(NULL, "too many options");
				goto out;
			}
			/* The name as spelled in the table: it outlives us. */
			ctx->optname[ctx->nopts] = copt->name;
			ctx->optval[ctx->nopts++] = value;
			break;
		}
	}
	*posp = pos;
	pos = NULL; /* transferred */
	*nposp = npos;
	r = 0;
 out:
	free(name);
	free(pos);
	return r;
}

const char *
ctl_opt_value(const struct ctl_ctx *ctx, const char *name)
{
	int i;

	for (i = ctx->nopts - 1; i >= 0; i--)
		if (strcmp(ctx->optname[i], name) == 0)
			return ctx->optval[i];
	return NULL;
}

int
ctl_opt_given(const struct ctl_ctx *ctx, const char *name)
{
	int i;

	for (i = 0; i < ctx->nopts; i++)
		if (strcmp(ctx->optname[i], name) == 0)
			return 1;
	return 0;
}

int
ctl_opt_long(const struct ctl_ctx *ctx, const char *name, long min,
    long max, long *out)
{
	const char *v = ctl_opt_value(ctx, name);
	char *end;
	long n;

	if (v == NULL)
		return 0;
	errno = 0;
	n = strtol(v, &end, 10);
	if (*v == '\0' || *end != '\0' || errno != 0 || n < min || n > max)
		return ctl_usage_error(ctx, "%s must be a whole number from "
		    "%ld to %ld (not \"%s\")", name, min, max, v);
	*out = n;
	return 0;
}

/*
 * A point in time, UTC: "2026-11-22", "2026-11-22 08:15", "2026-11-22T08:15:30"
 * (a trailing "Z" allowed), or a span ago: "90s", "30m", "2h", "7d".
 * Returns 0 and *out_us, or -1.
 */
static int
parse_time(const char *s, int64_t now_us, int64_t *out_us)
{
	static const char *const fmts[] = { "%Y-%m-%d %H:%M:%S",
	    "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M",
	    "%Y-%m-%d" };
	struct tm tm;
	const char *end;
	char *e;
	long long n;
	size_t i;
	time_t t;

	if (*s >= '0' && *s <= '9' && strchr(s, '-') == NULL) {
		errno = 0;
		n = strtoll(s, &e, 10);
		if (errno != 0 || e == s || e[0] == '\0' || e[1] != '\0' ||
		    n < 0 || n > 100LL * 365 * 86400)
			return -1;
		switch (*e) {
		case 'd': n *= 24;	/* FALLTHROUGH */
		case 'h': n *= 60;	/* FALLTHROUGH */
		case 'm': n *= 60;	/* FALLTHROUGH */
		case 's': break;
		default: return -1;
		}
		if (n > now_us / 1000000)
			return -1;
		*out_us = now_us - n * 1000000;
		return 0;
	}
	for (i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++) {
		memset(&tm, 0, sizeof(tm));
		if ((end = strptime(s, fmts[i], &tm)) == NULL)
			continue;
		if (*end == 'Z')
			end++;
		if (*end != '\0')
			continue;
		if ((t = timegm(&tm)) == (time_t)-1 || t < 0)
			return -1;
		*out_us = (int64_t)t * 1000000;
		return 0;
	}
	return -1;
}

int
ctl_opt_time(const struct ctl_ctx *ctx, const char *name, int64_t *out_us)
{
	const char *v = ctl_opt_value(ctx, name);
	struct timespec ts;

	if (v == NULL)
		return 0;
	clock_gettime(CLOCK_REALTIME, &ts);
	if (parse_time(v, (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000,
	    out_us) != 0)
		return ctl_usage_error(ctx, "%s must be a UTC time "
		    "(2026-11-22, \"2026-11-22 08:15\", 2026-11-22T08:15:30) or "
		    "a span ago (90s, 30m, 2h, 7d), not \"%s\"", name, v);
	return 0;
}

int
ctl_opt_double(const struct ctl_ctx *ctx, const char *name, int positive,
    double *out)
{
	const char *v = ctl_opt_value(ctx, name);
	char *end;
	double d;

	if (v == NULL)
		return 0;
	errno = 0;
	d = strtod(v, &end);
	if (*v == '\0' || *end != '\0' || errno != 0 || !isfinite(d) ||
	    d < 0 || (positive && d == 0))
		return ctl_usage_error(ctx, "%s must be a number %s (not "
		    "\"%s\")", name, positive ? "above zero" : "zero or more",
		    v);
	*out = d;
	return 0;
}

int
ctl_parse_id(const struct ctl_ctx *ctx, const char *what, const char *s,
    int64_t *out)
{
	char *end, safe[128];
	long long n;

	errno = 0;
	n = strtoll(s, &end, 10);
	if (*s < '0' || *s > '9' || *end != '\0' || errno != 0 || n <= 0)
		return ctl_usage_error(ctx, "invalid %s \"%s\"", what,
		    ctl_safe(s, safe, sizeof(safe)));
	*out = (int64_t)n;
	return 0;
}

int
ctl_parse_sid(const struct ctl_ctx *ctx, const char *s, int64_t *out)
{
	return ctl_parse_id(ctx, "session id", s, out);
}

int
ctl_one_sid(const struct ctl_ctx *ctx, int64_t *out)
{
	if (ctx->nargs != 1)
		return ctl_usage_error(ctx, ctx->nargs == 0 ?
		    "a session id is needed" : "one session id only");
	return ctl_parse_sid(ctx, ctx->args[0], out);
}

/* ---- config, database ---- */

int
ctl_config(struct ctl_ctx *ctx, const struct cfg **out)
{
	char *cause = NULL, *line, *nl;
	int r;

	*out = NULL;
	if (ctx->cfg == NULL) {
		if ((r = cfg_load_flags(ctx->config_path, CFG_PATHS_ONLY,
		    &ctx->cfg, &cause)) != 0) {
			if (cause == NULL)
				return ctl_error("cannot load %s: %s",
				    ctx->config_path, bst_strerror(r));
			/* One problem per line, each naming the file. */
			for (line = cause; *line != '\0'; line = nl + 1) {
				if ((nl = strchr(line, '\n')) != NULL)
					*nl = '\0';
				if (*line != '\0')
					ctl_error("%s", line);
				if (nl == NULL)
					break;
			}
			free(cause);
			ctx->cfg = NULL;
			return CTL_EXIT_FAIL;
		}
	}
	*out = ctx->cfg;
	return 0;
}

int
ctl_db(struct ctl_ctx *ctx, struct rec **out)
{
	const struct cfg *cfg;
	const char *path = ctx->db_path;
	char *cause = NULL;
	int r;

	*out = NULL;
	if (ctx->rec == NULL) {
		if (path == NULL) {
			if ((r = ctl_config(ctx, &cfg)) != 0)
				return r;
			path = cfg->database_path;
		}
		if (rec_open_readonly(path, &ctx->rec, &cause) != 0) {
			ctl_error("cannot open the recordings: %s",
			    cause ? cause : path);
			free(cause);
			return CTL_EXIT_FAIL;
		}
	}
	*out = ctx->rec;
	return 0;
}

int
ctl_control_path(struct ctl_ctx *ctx, const char **out)
{
	const struct cfg *cfg;
	int r;

	*out = ctx->socket_path;
	if (*out != NULL)
		return 0;
	if ((r = ctl_config(ctx, &cfg)) != 0)
		return r;
	*out = cfg->control_socket_path;
	return 0;
}

/* ---- control socket ---- */

static int
connect_control(const char *path, int *fdp)
{
	struct sockaddr_un sun;
	struct timeval tv = { CTL_CONTROL_TIMEOUT_SEC, 0 };
	int fd, e;

	*fdp = -1;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path))
		return ctl_error("control socket path too long: %s", path);
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return ctl_error("socket: %s", strerror(errno));
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		e = errno;
		close(fd);
		if (e == ENOENT || e == ECONNREFUSED || e == ENOTSOCK)
			return ctl_error("bastion is not running (cannot "
			    "connect to %s: %s)", path, strerror(e));
		return ctl_error("cannot connect to %s: %s", path,
		    strerror(e));
	}
	*fdp = fd;
	return 0;
}

static int
send_all(int fd, const char *path, const char *buf, size_t len)
{
	size_t off = 0;
	ssize_t n;

	while (off < len) {
		n = send(fd, buf + off, len - off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return ctl_error("sending to %s: %s", path, n < 0 ?
			    strerror(errno) : "connection closed");
		off += (size_t)n;
	}
	return 0;
}

/* Reads up to the first newline (bounded); *out is NUL-terminated. */
static int
recv_line(int fd, const char *path, char **out)
{
	char *buf, *nl;
	size_t len = 0, cap = 4096;
	ssize_t n;

	*out = NULL;
	buf = xmalloc(cap);
	for (;;) {
		if (len + 1 >= cap) {
			if (cap >= CTL_MAX_REPLY) {
				free(buf);
				return ctl_error("answer from %s is too long",
				    path);
			}
			cap *= 2;
			buf = xrealloc(buf, cap);
		}
		n = recv(fd, buf + len, cap - len - 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			free(buf);
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return ctl_error("no answer from the bastion "
				    "on %s within %ds", path,
				    CTL_CONTROL_TIMEOUT_SEC);
			return ctl_error("reading from %s: %s", path,
			    strerror(errno));
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (memchr(buf + len - (size_t)n, '\n', (size_t)n) != NULL)
			break;
	}
	buf[len] = '\0';
	if ((nl = strchr(buf, '\n')) != NULL)
		*nl = '\0';
	if (len == 0) {
		free(buf);
		return ctl_error("the bastion closed %s without answering",
		    path);
	}
	*out = buf;
	return 0;
}

int
ctl_control_request(struct ctl_ctx *ctx, struct json_object *req,
    struct json_object **out, char **linep)
{
	struct json_object *o = NULL;
	const char *path, *text;
	char *req_line = NULL, *buf = NULL;
	size_t len = 0;
	int fd = -1, r;

	*out = NULL;
	*linep = NULL;
	if ((r = ctl_control_path(ctx, &path)) != 0)
		return r;
	text = json_object_to_json_string_length(req,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	if (text == NULL)
		return ctl_error("out of memory");
	if (len + 1 > CTL_MAX_REQUEST) {
		r = ctl_error("request too long for the control socket "
		    "(%zu bytes, at most %d)", len + 1, CTL_MAX_REQUEST);
		goto out;
	}
	req_line = xmalloc(len + 2);
	memcpy(req_line, text, len);
	req_line[len] = '\n';
	req_line[len + 1] = '\0';
	if ((r = connect_control(path, &fd)) != 0 ||
	    (r = send_all(fd, path, req_line, len + 1)) != 0 ||
	    (r = recv_line(fd, path, &buf)) != 0)
		goto out;
	o = json_tokener_parse(buf);
	if (o == NULL || !json_object_is_type(o, json_type_object)) {
		r = ctl_error("the bastion's answer on %s is not a JSON "
		    "object", path);
		goto out;
	}
	*out = o;
	o = NULL; /* transferred */
	*linep = buf;
	buf = NULL; /* transferred */
	r = 0;
 out:
	/* The request may carry a secret (an approver's token). */
	explicit_bzero((char *)text, len);
	if (req_line != NULL)
		freezero(req_line, len + 2);
	if (fd >= 0)
		close(fd);
	json_object_put(o);
	free(buf);
	return r;
}

/* ---- output helpers ---- */

void
ctl_print_json(struct json_object *o)
{
	const char *s = json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);

	printf("%s\n", s ? s : "null");
}

const char *
ctl_safe(const char *s, char *buf, size_t sz)
{
	if (s == NULL)
		return "-";
	return log_sanitize(buf, sz, s, strlen(s));
}

void
ctl_fmt_time(int64_t us, char *buf, size_t sz)
{
	time_t sec = (time_t)(us / 1000000);
	struct tm tm;

	if (gmtime_r(&sec, &tm) == NULL) {
		snprintf(buf, sz, "?");
		return;
	}
	strftime(buf, sz, "%Y-%m-%d %H:%M:%S", &tm);
}

void
ctl_fmt_duration(int64_t us, char *buf, size_t sz)
{
	int64_t s = us / 1000000;

	if (us < 0)
		us = 0;
	if (us < 1000000)
		snprintf(buf, sz, "%lldms", (long long)(us / 1000));
	else if (us < 60 * 1000000LL)
		snprintf(buf, sz, "%.1fs", (double)us / 1e6);
	else if (s < 3600)
		snprintf(buf, sz, "%lldm%02llds", (long long)(s / 60),
		    (long long)(s % 60));
	else if (s < 86400)
		snprintf(buf, sz, "%lldh%02lldm", (long long)(s / 3600),
		    (long long)(s % 3600 / 60));
	else
		snprintf(buf, sz, "%lldd%02lldh", (long long)(s / 86400),
		    (long long)(s % 86400 / 3600));
}

void
ctl_fmt_bytes(int64_t n, char *buf, size_t sz)
{
	static const char units[] = "KMGTP";
	double d = (double)n;
	int u = -1;

	if (n < 1024) {
		snprintf(buf, sz, "%lld", (long long)n);
		return;
	}
	while (d >= 1024 && u < 4) {
		d /= 1024;
		u++;
	}
	snprintf(buf, sz, "%.1f%c", d, units[u]);
}

const char *
ctl_jstr(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (o == NULL || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

int
ctl_jint(struct json_object *o, const char *key, int64_t *out)
{
	struct json_object *v;

	if (o == NULL || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_int))
		return -1;
	*out = json_object_get_int64(v);
	return 0;
}

/* ---- tables ---- */

struct ctl_table {
	int	  ncols;
	char	**heads;
	int	 *right;
	char	**cells;
	int	  nrows;
	int	  cap;
};

struct ctl_table *
ctl_table_new(int ncols, const char *const *heads)
{
	struct ctl_table *t = xcalloc(1, sizeof(*t));
	int i;

	t->ncols = ncols;
	t->heads = xcalloc((size_t)ncols, sizeof(*t->heads));
	t->right = xcalloc((size_t)ncols, sizeof(*t->right));
	for (i = 0; i < ncols; i++) {
		t->right[i] = heads[i][0] == '>';
		t->heads[i] = xstrdup(heads[i] + t->right[i]);
	}
	return t;
}

void
ctl_table_add(struct ctl_table *t, const char *const *cells)
{
	int i;

	if (t->nrows == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 16;
		t->cells = xrealloc(t->cells,
		    (size_t)t->cap * (size_t)t->ncols * sizeof(*t->cells));
	}
	for (i = 0; i < t->ncols; i++)
		t->cells[t->nrows * t->ncols + i] =
		    xstrdup(cells[i] ? cells[i] : "-");
	t->nrows++;
}

static void
table_line(const struct ctl_table *t, const size_t *w, char *const *cells)
{
	int i;

	for (i = 0; i < t->ncols; i++) {
		int last = i == t->ncols - 1;

		if (t->right[i])
			printf("%*s", (int)w[i], cells[i]);
		else if (last)
			fputs(cells[i], stdout);
		else
			printf("%-*s", (int)w[i], cells[i]);
		fputs(last ? "\n" : "  ", stdout);
	}
}

void
ctl_table_print(const struct ctl_table *t)
{
	size_t *w = xcalloc((size_t)t->ncols, sizeof(*w)), n;
	int i, j;

	for (i = 0; i < t->ncols; i++)
		w[i] = strlen(t->heads[i]);
	for (j = 0; j < t->nrows; j++)
		for (i = 0; i < t->ncols; i++)
			if ((n = strlen(t->cells[j * t->ncols + i])) > w[i])
				w[i] = n;
	table_line(t, w, t->heads);
	for (j = 0; j < t->nrows; j++)
		table_line(t, w, t->cells + j * t->ncols);
	free(w);
}

void
ctl_table_free(struct ctl_table *t)
{
	int i;

	if (t == NULL)
		return;
	for (i = 0; i < t->ncols; i++)
		free(t->heads[i]);
	for (i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->heads);
	free(t->right);
	free(t->cells);
	free(t);
}

/* ---- main ---- */

int
main(int argc, char **argv)
{
	struct ctl_ctx ctx;
	char **pos = NULL;
	const struct ctl_opt *o;
	const char *env;
	int npos = 0, help = 0, i, r = CTL_EXIT_USAGE;

	log_init("bastionctl", LOG_LVL_WARN);
	memset(&ctx, 0, sizeof(ctx));
	if ((r = parse_args(argc, argv, &ctx, &help, &pos, &npos)) != 0)
		goto out;
	if (ctx.config_path == NULL)
		ctx.config_path = (env = getenv("BASTION_CONFIG")) != NULL &&
		    *env != '\0' ? env : CTL_DEFAULT_CONFIG;

	/* "help [COMMAND]", "--help", "COMMAND --help" */
	if (npos > 0 && strcmp(pos[0], "help") == 0) {
		help = 1;
		memmove(pos, pos + 1, (size_t)npos * sizeof(*pos));
		npos--;
	}
	if (npos == 0) {
		if (help) {
			help_all();
			r = CTL_EXIT_OK;
		} else
			r = ctl_usage_error(NULL, "no command given");
		goto out;
	}
	if ((ctx.cmd = find_cmd(pos[0])) == NULL) {
		char safe[128];

		r = ctl_usage_error(NULL, "unknown command \"%s\"",
		    ctl_safe(pos[0], safe, sizeof(safe)));
		goto out;
	}
	if (help) {
		help_cmd(ctx.cmd);
		r = CTL_EXIT_OK;
		goto out;
	}
	for (i = 0; i < ctx.nopts; i++) {
		if ((o = find_cmd_opt(ctx.cmd, ctx.optname[i])) == NULL) {
			r = ctl_usage_error(&ctx, "option %s does not apply "
			    "here", ctx.optname[i]);
			goto out;
		}
	}
	ctx.args = pos + 1;
	ctx.nargs = npos - 1;
	r = ctx.cmd->fn(&ctx);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		if (errno != EPIPE)
			r = ctl_error("writing output: %s", strerror(errno));
	}
 out:
	rec_close(ctx.rec);
	cfg_free(ctx.cfg);
	free(pos);
	return r;
}
