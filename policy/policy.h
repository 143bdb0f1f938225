/*
 * policy.h: the command policy.  Decides, for one exec request already
 * analysed by cmdparse (struct pc_result), whether it is allowed, denied
 * or held for human approval, and says why.
 *
 * A pure library: the caller passes the parsed JSON policy and the
 * analysed command; nothing here reads files, logs or keeps globals.  The
 * policy JSON is the operator's (trusted not to be hostile, not trusted to
 * be right: validated fully, every problem reported at once).  The
 * commands come from an agent (hostile): only their analysis is used, and
 * every piece of it quoted in a reason is sanitized and cut short.
 *
 * Policy format (every key optional):
 *   "default":  action when no rule matches a command        ("approve")
 *   "opaque":   action for a command that cannot be analysed ("approve")
 *   "shell":    action for an interactive shell              ("approve")
 *   "sftp":     action for starting the sftp subsystem       ("allow";
 *               each of its requests is then judged as the shell
 *               command that does the same: session/sftp.h)
 *   "redirect": action for a write no write rule decides     ("approve")
 *   "approvers": group name or array of them; "count" (>= 1, default 1);
 *   "timeout" (seconds, 1..86400, default 300): defaults for every
 *       approve, rules' own values replace them key by key.  No approvers
 *       at all means any configured approver may decide.
 *   "rules": [ { "name", "match": {...}, "action",
 *                ["approvers", "count", "timeout" (approve rules only)] } ]
 * Actions are "allow", "deny", "approve".  Match keys, all present ones
 * must match (AND); inside one key any element may match (OR):
 *   "commands":   globs (fnmatch) over the command's basename
 *   "args":       POSIX extended regexes (unanchored: use ^$) over
 *                 argv[1..] joined by single spaces (so argument
 *                 boundaries are not visible: "a b" is two words or one)
 *   "writes":     absolute path globs; '*' does not cross '/'; a last
 *                 component "**" matches everything below the folder
 *   "identities": globs over the identity name
 *   "groups":     globs over the identity's groups
 *   "targets":    globs over the target name
 * A rule with "writes" is a write rule: it decides redirections to the
 * paths it matches (and may be restricted by identities/groups/targets;
 * it cannot have commands or args, because a write is not tied to a
 * command).  Every other rule is a command rule.
 *
 * Evaluation: every simple command the analysis reports (including those
 * run through wrappers, substitutions and sh -c) is decided by the first
 * command rule, in file order, that matches it, else by "default".
 * Opaque commands get "opaque"; rules never allow them, but when the
 * analyser still knows the name (an interpreter reading stdin), a
 * stricter rule about that name applies.  Every write is
 * decided by the first matching write rule, else by "redirect"; a write
 * to a path from an expansion gets "redirect" but at least approve.
 * Write paths are normalized lexically first ("//", "." and ".."
 * resolved: "/tmp/../etc/x" is "/etc/x"); symlinks on the target cannot
 * be seen from here, so a write rule trusts the folders it names.  A
 * relative path (cwd unknown) matches no write rule.
 * Input the analyser cannot parse (or that is incomplete) is DENIED,
 * whatever "opaque" says: there is nothing sound to ask a human about.
 * A request with nothing to run gets "default".  The most restrictive
 * item wins (deny > approve > allow).  When the result is approve, the
 * approver groups are the union over all approve items of the groups
 * they name (an item that names none adds none; empty union = anyone),
 * count is the largest and timeout the smallest of them.  The decision's
 * rule and reason are those of the first item with the final action.
 * A key whose value is JSON null counts as absent (as in cfg_load).
 */
#ifndef BST_POLICY_H
#define BST_POLICY_H

#include <stddef.h>

struct json_object;
struct pc_result;
struct policy;

/* Ordered by restrictiveness: the larger wins when combining. */
enum policy_action {
	POLICY_ALLOW = 0,
	POLICY_APPROVE = 1,
	POLICY_DENY = 2,
};

/* Who asks, and where.  Borrowed by the eval functions, never kept. */
struct policy_subject {
	const char		*identity;	/* identity name */
	const char *const	*groups;	/* NULL-terminated; NULL = none */
	const char		*owner;		/* human responsible, or NULL; only
						   recorded (never approves: enforced
						   by the approval side) */
	const char		*target;	/* target name */
};

enum policy_item_kind {
	POLICY_ITEM_CMD = 0,	/* a simple command (maybe opaque) */
	POLICY_ITEM_WRITE,	/* a redirection that writes a file */
	POLICY_ITEM_ERROR,	/* the input could not be parsed */
	POLICY_ITEM_SHELL,	/* an interactive shell */
	POLICY_ITEM_SFTP,	/* the sftp subsystem */
	POLICY_ITEM_EMPTY,	/* nothing to run */
};

/* How one command or write was decided.  All strings sanitized. */
struct policy_item {
	enum policy_item_kind	 kind;
	char			*text;	/* "systemctl restart nginx", "/tmp/x",
					   "$F" (at most ~200 chars) */
	char			*via;	/* wrapper/context ("sudo"), or NULL */
	enum policy_action	 action;
	char			*rule;	/* rule name, or "default", "opaque",
					   "redirect", "parse-error", "shell" */
	char			*reason; /* one line, see policy_decision */
};

/* The outcome of one request.  Plain data; free with policy_decision_free. */
struct policy_decision {
	enum policy_action	 action;
	char			*rule;		/* the deciding item's rule */
	char			*reason;	/* one line, e.g.
		"rule \"privilege\" matches sudo"
		"no rule matches \"foo\": default approve"
		"opaque: command name from an expansion ($X): opaque approve"
		"write to /etc/cron.d/x: no rule allows it: redirect approve"
		"cannot parse: unterminated quote at offset 5" */
	char			**approvers;	/* NULL-terminated groups; empty = any
						   approver (never the owner) */
	int			 count;		/* approvals needed; 0 unless approve */
	int			 timeout;	/* seconds; 0 unless approve */
	char			*owner;		/* copy of subject->owner, or NULL */
	struct policy_item	*items;		/* in analysis order: commands, then
						   writes */
	size_t			 nitems;
};

const char *policy_action_name(enum policy_action a);	/* "allow"... */

/*
 * Validates and compiles the policy object obj (not kept: the policy is
 * independent of it afterwards; NULL is the empty policy).  On success
 * *out is set and 0 returned.  Otherwise returns BST_ERR_CONFIG and, if
 * cause is not NULL, sets *cause to a malloc'd text, one problem per line,
 * in the format of cfg_load():
 *   "FILE: rules[2] \"wipe\".match.commands[0]: must not be empty"
 * policy_load_at() puts prefix before every key path (e.g. "policy" for a
 * policy inline in the config file); policy_load() uses none.
 */
int policy_load(struct json_object *obj, const char *file,
    struct policy **out, char **cause);
int policy_load_at(struct json_object *obj, const char *file,
    const char *prefix, struct policy **out, char **cause);
void policy_free(struct policy *p);
size_t policy_nrules(const struct policy *p);

/*
 * Decides the analysed exec request r for subject s.  Sets *out (free with
 * policy_decision_free) and returns 0; BST_ERR_INTERNAL on NULL arguments.
 * Thread-safe on a shared policy (evaluation only reads it; glibc's
 * regexec locks a shared regex_t itself).  Costs a few microseconds
 * with 10,000 rules (bench/policy_bench.c).
 */
int policy_eval(const struct policy *p, const struct policy_subject *s,
    const struct pc_result *r, struct policy_decision **out);
/* The "shell" action for an interactive shell request. */
int policy_eval_shell(const struct policy *p, const struct policy_subject *s,
    struct policy_decision **out);
/* The "sftp" action for starting the sftp subsystem. */
int policy_eval_sftp(const struct policy *p, const struct policy_subject *s,
    struct policy_decision **out);
void policy_decision_free(struct policy_decision *d);

/*
 * {"action","rule","reason","approvers":[...],"count","timeout",
 *  "owner" (if any), "items":[{"kind","text","via","action","rule",
 *  "reason"}]}.  New reference, owned by the caller.
 */
struct json_object *policy_decision_json(const struct policy_decision *d);
/*
 * Multi-line text for --explain, one line per item then the decision,
 * malloc'd:
 *   cmd sudo systemctl restart nginx: approve (rule "privilege" matches sudo)
 *   cmd systemctl restart nginx (via sudo): allow (rule "ops" matches systemctl)
 *   write /tmp/x: allow (rule "tmp-writes" matches write to /tmp/x)
 *   decision: approve: rule "privilege" matches sudo
 *   approvers: oncall (never alice); count 1; timeout 300s
 */
char *policy_explain_text(const struct policy_decision *d);

#endif
