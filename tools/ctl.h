/*
 * ctl.h: what bastionctl's subcommands share.  Each tools/ctl-NAME.c
 * exports one struct ctl_cmd, ctl_NAME_entry, gathered in the table in
 * bastionctl.c (tmux's cmd-*.c and cmd_table[]); bastionctl.c parses the
 * whole command line, checks every option against the command's table,
 * and provides the helpers below.
 *
 * Everything read from the database or the control socket is untrusted
 * text: print it through ctl_safe() (JSON output escapes by itself).
 */
#ifndef BST_CTL_H
#define BST_CTL_H

#include <stddef.h>
#include <stdint.h>

struct cfg;
struct rec;
struct json_object;

/* Exit codes. */
#define CTL_EXIT_OK	0
#define CTL_EXIT_FAIL	1	/* runtime error; verify found tampering */
#define CTL_EXIT_USAGE	2	/* bad command line */

/* An option a command accepts ("--limit", takes a value). */
struct ctl_opt {
	const char	*name;
	int		 has_arg;
};

#define CTL_MAX_OPTS	32

/* The parsed command line and what was opened for the command. */
struct ctl_ctx {
	const struct ctl_cmd	*cmd;
	const char		*config_path;	/* -c, $BASTION_CONFIG or default */
	const char		*db_path;	/* --database: skips the config */
	const char		*socket_path;	/* --socket: skips the config */
	int			 json;		/* --json */
	char			**args;		/* positionals after the command */
	int			 nargs;
	const char		*optname[CTL_MAX_OPTS];	/* command options given */
	const char		*optval[CTL_MAX_OPTS];	/* value, or NULL for flags */
	int			 nopts;
	struct cfg		*cfg;		/* loaded on demand */
	struct rec		*rec;		/* opened on demand, read-only */
};

struct ctl_cmd {
	const char		*name;
	const char		*usage;	/* arguments, e.g. "ID [--speed N]" */
	const char		*help;	/* a few lines, each ending in \n */
	const struct ctl_opt	*opts;	/* accepted options; NULL name ends */
	int			(*fn)(struct ctl_ctx *);	/* CTL_EXIT_* */
};

extern const struct ctl_cmd ctl_sessions_entry;
extern const struct ctl_cmd ctl_show_entry;
extern const struct ctl_cmd ctl_replay_entry;
extern const struct ctl_cmd ctl_files_entry;
extern const struct ctl_cmd ctl_verify_entry;
extern const struct ctl_cmd ctl_policies_entry;
extern const struct ctl_cmd ctl_status_entry;
extern const struct ctl_cmd ctl_pending_entry;
extern const struct ctl_cmd ctl_approve_entry;	/* ctl-approve.c */
extern const struct ctl_cmd ctl_deny_entry;	/* ctl-approve.c */
extern const struct ctl_cmd ctl_terminate_entry;	/* ctl-approve.c */
extern const struct ctl_cmd ctl_export_entry;	/* ctl-export.c */
extern const struct ctl_cmd ctl_watch_entry;

/*
 * For watch and replay --decisions: a "policy" (each line's or command's
 * decision), "approval" or "end" event as one "[bastion] ..." line on
 * stderr (stdout flushed first); other kinds print nothing.
 */
/*
 * A policy, approval or end event as one "[bastion] ..." line: malloc'd,
 * or NULL for other events and unreadable data.  terminal: made safe for
 * a terminal (ctl_safe); else the recorded text as it is, for a caller
 * that cleans it (export: UTF-8, JSON-escaped).
 */
char *ctl_decision_text(const char *kind, const void *data, size_t len,
    int terminal);
void ctl_show_decision(const char *kind, const void *data, size_t len);

/*
 * The channels of a session that transfer files (sftp, or a legacy scp
 * upload: an accepted exec of "scp -t PATH"), learnt from its "request"
 * events as they go by: their bytes are binary protocol, not terminal
 * output, so watch and replay leave them out.
 */
#define CTL_XFER_MAX	64
struct ctl_xfer {
	int32_t	 chan[CTL_XFER_MAX];
	int	 n;
};
enum { CTL_XFER_NONE, CTL_XFER_SFTP, CTL_XFER_SCP };
struct scp_sink;
/*
 * For a "request" event: CTL_XFER_SFTP or CTL_XFER_SCP if it started a
 * transfer on channel (remembered; for scp, *sink gets its PATH when sink
 * is not NULL: free it with scp_sink_free), else CTL_XFER_NONE.
 */
int ctl_xfer_note(struct ctl_xfer *s, int32_t channel, const void *data,
    size_t len, struct scp_sink *sink);
int ctl_xfer_is(const struct ctl_xfer *s, int32_t channel);

/* "bastionctl: MESSAGE" on stderr; returns CTL_EXIT_FAIL. */
int ctl_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "bastionctl: CMD: MESSAGE" and a usage hint; returns CTL_EXIT_USAGE. */
int ctl_usage_error(const struct ctl_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Value of a command option (last one wins), NULL if absent. */
const char *ctl_opt_value(const struct ctl_ctx *ctx, const char *name);
/* 1 if the option was given. */
int ctl_opt_given(const struct ctl_ctx *ctx, const char *name);
/*
 * Numeric options: a whole number in [min, max], or a number >= 0 (> 0
 * if positive); *out keeps its value when the option is absent.
 * Returns 0 or, after a usage error message, CTL_EXIT_USAGE.
 */
int ctl_opt_long(const struct ctl_ctx *ctx, const char *name, long min,
    long max, long *out);
int ctl_opt_double(const struct ctl_ctx *ctx, const char *name, int positive,
    double *out);
/*
 * A time option: UTC "2026-11-22[ 08:15[:30]]" (or with "T", and "Z"), or
 * a span ago ("30m", "2h", "7d"), as microseconds since the epoch.
 */
int ctl_opt_time(const struct ctl_ctx *ctx, const char *name,
    int64_t *out_us);
/* A session id argument.  0 or CTL_EXIT_USAGE (message printed). */
int ctl_parse_sid(const struct ctl_ctx *ctx, const char *s, int64_t *out);
/* Exactly one argument, a session id (show, replay, watch). */
int ctl_one_sid(const struct ctl_ctx *ctx, int64_t *out);
/* A positive id; what names it in the message ("request id"). */
int ctl_parse_id(const struct ctl_ctx *ctx, const char *what, const char *s,
    int64_t *out);

/* Loads the config once.  0 or CTL_EXIT_FAIL (message printed). */
int ctl_config(struct ctl_ctx *ctx, const struct cfg **out);
/* Opens the recordings read-only once.  0 or CTL_EXIT_FAIL. */
int ctl_db(struct ctl_ctx *ctx, struct rec **out);
/* The control socket path (--socket or the config).  0 or CTL_EXIT_FAIL. */
int ctl_control_path(struct ctl_ctx *ctx, const char **out);

/* Prints a JSON value, pretty, to stdout. */
void ctl_print_json(struct json_object *o);

/* Untrusted text made printable (see log_sanitize); "-" for NULL. */
const char *ctl_safe(const char *s, char *buf, size_t sz);
/* "2024-05-01 12:00:00" (UTC) */
void ctl_fmt_time(int64_t us, char *buf, size_t sz);
/* "850ms", "12.3s", "4m05s", "2h03m", "3d04h" */
void ctl_fmt_duration(int64_t us, char *buf, size_t sz);
/* "512", "1.5K", "12.0M", "3.2G" */
void ctl_fmt_bytes(int64_t n, char *buf, size_t sz);

/* JSON member helpers: NULL / 0 / -1 when absent or of another type. */
const char *ctl_jstr(struct json_object *o, const char *key);
int ctl_jint(struct json_object *o, const char *key, int64_t *out);

/* A text table: columns sized to their widest cell. */
struct ctl_table;
/* heads: "ID", ">BYTES" (a leading '>' right-aligns the column). */
struct ctl_table *ctl_table_new(int ncols, const char *const *heads);
/* Adds a row of ncols cells (copied; NULL prints "-"). */
void ctl_table_add(struct ctl_table *t, const char *const *cells);
void ctl_table_print(const struct ctl_table *t);
void ctl_table_free(struct ctl_table *t);

/*
 * Sends req (one JSON object, as one line) to the bastion's control
 * socket (--socket or the config) and reads its one-line answer: *out the
 * parsed object, whatever its "ok" says, *line the raw line (both caller
 * frees).  0, or CTL_EXIT_FAIL with the message printed ("bastion is not
 * running (...)" when nothing listens; no answer within 5 s; an answer
 * over 1 MiB or not a JSON object).  The serialized request is zeroed
 * after sending (it may hold a token).  bastionctl.c.
 */
int ctl_control_request(struct ctl_ctx *ctx, struct json_object *req,
    struct json_object **out, char **line);

/*
 * Sends {"cmd":"status"} to the bastion's control socket and returns its
 * answer: *out the parsed object (ok is true), *line the raw line (both
 * caller frees).  0 or CTL_EXIT_FAIL with the message printed
 * ("bastion is not running (...)" when nothing listens).  ctl-status.c.
 */
int ctl_status_request(struct ctl_ctx *ctx, struct json_object **out,
    char **line);
/* Prints the live sessions of a status answer as a table.  ctl-status.c. */
void ctl_status_print_live(struct json_object *live);

#endif
