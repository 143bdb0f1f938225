/*
 * policy.c: validates and compiles the command policy, and decides
 * requests analysed by cmdparse.  See policy.h for the format and the
 * evaluation rules.
 *
 * The policy JSON is the operator's: every value is checked and every
 * problem collected by common/jcheck.c, in the message format of
 * common/config.c.  The analysed commands are an agent's: they are only
 * compared, never trusted, and quoted in reasons only after sanitizing
 * and cutting.
 *
 * Index, built once at load so evaluation does not scan thousands of
 * rules.  Command names without glob characters go into a hash table
 * (name -> ascending rule indices).  Glob command patterns go into a
 * prefix index: a hash table keyed by their literal prefix (cut to
 * POL_PREFIX_KEY bytes), probed with every prefix of the command name of
 * a length in use (at most POL_PREFIX_KEY + 1 probes; the FNV hash of each
 * prefix comes incrementally); the literal prefix and suffix are compared
 * before fnmatch.  Command rules without "commands" are filed the same
 * way under their identities, else targets, else groups (looked up once
 * per request for the subject), else in a plain list.  A command is
 * decided by merging these sorted lists in rule order and stopping at the
 * first rule that matches: first-match semantics without looking at rules
 * that cannot apply.  Write rules are few and scanned in order.  Regexes
 * are compiled (and their first DFA states built) at load.
 */
#include <sys/types.h>

#include <fnmatch.h>
#include <regex.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "common/err.h"
#include "common/jcheck.h"
#include "common/strv.h"
#include "common/util.h"
#include "policy/cmdparse.h"
#include "policy/policy.h"

#define POL_VALUE_MAX		60	/* characters of a value quoted in a message */
#define POL_KEYPATH_MAX		512
#define POL_PATTERN_MAX		1024
#define POL_COUNT_MAX		100
#define POL_TIMEOUT_MAX		86400
#define POL_TEXT_MAX		200	/* characters of an item's text */
#define WARM_ARGS		"-rf --force=1 restart nginx.service /var/lib/x_Y:2 'a' \"b\" @c,d;e|f&g(h)[i]{j}<k>~l#m%n^o+p?q*r!s=t\\u$v"
#define POL_PREFIX_KEY		16	/* glob prefixes longer than this are indexed by their start */
#define POL_MAX_LISTS		(POL_PREFIX_KEY + 3) /* merged per command */

static const char *const top_keys[] = {
	"default", "opaque", "shell", "sftp", "redirect", "approvers",
	"count", "timeout", "rules", NULL
};
static const char *const rule_keys[] = {
	"name", "match", "action", "approvers", "count", "timeout", NULL
};
static const char *const match_keys[] = {
	"commands", "args", "writes", "identities", "groups", "targets", NULL
};
/* Names the decision uses for what is not a rule. */
static const char *const reserved_names[] = {
	"default", "opaque", "redirect", "parse-error", "shell", "sftp", NULL
};

#define MSG_ACTION	"must be \"allow\", \"deny\" or \"approve\""

/* A glob (or literal) over a name or path. */
struct pat {
	char	*s;
	size_t	 len;
	size_t	 prelen;	/* bytes before the first glob character */
	size_t	 suflen;	/* bytes after the last one (0 if literal) */
	int	 literal;	/* no glob character at all */
	int	 subtree;	/* writes: a last "**" component was cut off */
};

struct patlist {
	struct pat	*v;
	size_t		 n;
};

struct rule {
	char			*name;
	enum policy_action	 action;
	int			 is_write;
	struct patlist		 commands, writes, identities, groups, targets;
	regex_t			*args;
	size_t			 nargs;
	char			**approvers;	/* NULL: the policy's */
	int			 count;		/* 0: the policy's */
	int			 timeout;	/* 0: the policy's */
};

struct idxv {
	size_t	*v;
	size_t	 n, cap;
};

/* A glob command pattern in a bucket. */
struct globent {
	size_t			 rule;
	const struct pat	*pat;
};

struct globv {
	struct globent	*v;
	size_t		 n, cap;
};

/* A hash table slot: a literal name, or the literal prefix of globs. */
struct hent {
	char		*key;		/* NULL: free slot */
	size_t		 keylen;
	uint64_t	 hash;
	struct idxv	 rules;		/* literal table: rules naming key */
	struct globv	 globs;		/* prefix table: globs starting so */
};

struct htab {
	struct hent	*v;
	size_t		 cap;		/* power of two */
};

/*
 * Patterns by their literal prefix, cut to POL_PREFIX_KEY bytes: a value
 * can only match the patterns filed under one of its own prefixes, so a
 * lookup probes at most POL_PREFIX_KEY + 1 keys (only the lengths in use).
 */
struct pindex {
	struct htab	 t;
	uint32_t	 lens;		/* bit L: some key has length L */
	size_t		 npat;
};

#define POL_PINDEX_MAX	(POL_PREFIX_KEY + 1)	/* lists from one lookup */

struct policy {
	enum policy_action	 def, opaque, shell, sftp, redirect;
	char			**approvers;	/* NULL-terminated, maybe empty */
	int			 count, timeout;
	struct rule		*rules;
	size_t			 nrules;
	struct htab		 lit;		/* literal command names */
	struct pindex		 cmdglobs;	/* glob command patterns */
	/* Command rules without "commands", by one subject key. */
	struct pindex		 byid;		/* have "identities" */
	struct pindex		 bytarget;	/* else have "targets" */
	struct pindex		 bygroup;	/* else have "groups" */
	struct idxv		 rest;		/* none of these (args only) */
	struct idxv		 wrules;	/* write rules */
};

/* Validation context. */
struct ctx {
	struct jc	 jc;
	const char	*prefix;
};

/* ---- small helpers ---- */

/*
 * Sanitized copy of untrusted or operator text, at most max characters
 * ("..." marks a cut): control and non-ASCII bytes become '?'.
 * malloc'd.
 */
static char *
vis_n(const char *s, size_t max)
{
	size_t len = strlen(s), i, n;
	char *out;

	n = len <= max ? len : max - 3;
	out = xmalloc(n + 4);
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		out[i] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
	}
	if (len > max)
		memcpy(out + n, "...", 3), n += 3;
	out[n] = '\0';
	return out;
}

static void
idxv_push(struct idxv *v, size_t i)
{
	if (v->n == v->cap) {
		v->cap = v->cap == 0 ? 4 : v->cap * 2;
		v->v = xrealloc(v->v, v->cap * sizeof(*v->v));
	}
	v->v[v->n++] = i;
}

static void
globv_push(struct globv *v, size_t rule, const struct pat *pat)
{
	if (v->n == v->cap) {
		v->cap = v->cap == 0 ? 4 : v->cap * 2;
		v->v = xrealloc(v->v, v->cap * sizeof(*v->v));
	}
	v->v[v->n].rule = rule;
	v->v[v->n].pat = pat;
	v->n++;
}

/* FNV-1a, incremental: the hash of every prefix comes on the way. */
#define HASH_INIT	1469598103934665603ULL
#define HASH_STEP(h, ch) (((h) ^ (unsigned char)(ch)) * 1099511628211ULL)

static uint64_t
hash_mem(const char *s, size_t n)
{
	uint64_t h = HASH_INIT;
	size_t i;

	for (i = 0; i < n; i++)
		h = HASH_STEP(h, s[i]);
	return h;
}

const char *
policy_action_name(enum policy_action a)
{
	switch (a) {
	case POLICY_ALLOW:
		return "allow";
	case POLICY_DENY:
		return "deny";
	case POLICY_APPROVE:
		return "approve";
	}
	return "deny";
}

static int
action_from_name(const char *s, enum policy_action *a)
{
	if (strcmp(s, "allow") == 0)
		*a = POLICY_ALLOW;
	else if (strcmp(s, "deny") == 0)
		*a = POLICY_DENY;
	else if (strcmp(s, "approve") == 0)
		*a = POLICY_APPROVE;
	else
		return -1;
	return 0;
}

/* ---- reading values; problems go through common/jcheck.c ---- */

static int
get_action(struct ctx *c, struct json_object *o, const char *parent,
    const char *key, int required, enum policy_action *a)
{
	struct json_object *v = jc_member(o, key);
	char p[POL_KEYPATH_MAX];

	jc_path_key(p, sizeof(p), parent, key);
	if (v == NULL) {
		if (required)
			jc_problem(&c->jc, p, NULL, "is required");
		return -1;
	}
	if (!json_object_is_type(v, json_type_string) ||
	    action_from_name(json_object_get_string(v), a) != 0) {
		jc_problem(&c->jc, p, jc_jvis(v), MSG_ACTION);
		return -1;
	}
	return 0;
}

/*
 * A string or a non-empty array of strings, as a NULL-terminated list of
 * (borrowed) valid strings; NULL (after reporting) when the value is not
 * one.  check() returns NULL or what is wrong with one element.
 */
static const char **
get_list(struct ctx *c, struct json_object *v, const char *p,
    const char *(*check)(const char *))
{
	char ep[POL_KEYPATH_MAX];
	const char **out, *s, *why;
	size_t i, n, k = 0;
	int bad = 0;

	if (json_object_is_type(v, json_type_string)) {
		if ((s = jc_str_value(&c->jc, p, v)) == NULL)
			return NULL;
		if (check != NULL && (why = check(s)) != NULL) {
			jc_problem(&c->jc, p, s, "%s", why);
			return NULL;
		}
		out = xcalloc(2, sizeof(*out));
		out[0] = s;
		return out;
	}
	if (!json_object_is_type(v, json_type_array)) {
		jc_problem(&c->jc, p, jc_jvis(v),
		    "must be a string or an array of strings");
		return NULL;
	}
	if ((n = json_object_array_length(v)) == 0) {
		jc_problem(&c->jc, p, NULL, "must not be empty");
		return NULL;
	}
	out = xcalloc(n + 1, sizeof(*out));
	for (i = 0; i < n; i++) {
		jc_pathf(ep, sizeof(ep), "%s[%zu]", p, i);
		if ((s = jc_str_value(&c->jc, ep,
		    json_object_array_get_idx(v, i))) == NULL) {
			bad = 1;
			continue;
		}
		if (check != NULL && (why = check(s)) != NULL) {
			jc_problem(&c->jc, ep, s, "%s", why);
			bad = 1;
			continue;
		}
		out[k++] = s;
	}
	if (bad) {
		free(out);
		return NULL;
	}
	return out;
}

static const char *
check_group(const char *s)
{
	return jc_valid_name(s) ? NULL : JC_MSG_NAME;
}

static const char *
check_pattern(const char *s)
{
	return strlen(s) > POL_PATTERN_MAX ? "longer than 1024 bytes" : NULL;
}

static const char *
check_command(const char *s)
{
	if (strchr(s, '/') != NULL)
		return "matches command names (basenames), not paths";
	return check_pattern(s);
}

static const char *
check_write(const char *s)
{
	const char *p, *dd;

	if (s[0] != '/')
		return "must be an absolute path glob";
	if ((dd = strstr(s, "**")) != NULL &&
	    (strcmp(dd, "**") != 0 || dd[-1] != '/'))
		return "\"**\" only as the last component (\"/dir/**\")";
	for (p = s; (p = strchr(p, '/')) != NULL; p++) {
		if (strncmp(p, "/./", 3) == 0 || strcmp(p, "/.") == 0 ||
		    strncmp(p, "/../", 4) == 0 || strcmp(p, "/..") == 0)
			return "must not contain \".\" or \"..\" components";
		if (p[1] == '/')
			return "must not contain \"//\"";
	}
	return check_pattern(s);
}

/* ---- compiling ---- */

static void
pat_init(struct pat *pt, const char *s, int paths)
{
	size_t len = strlen(s);

	memset(pt, 0, sizeof(*pt));
	if (paths && len >= 3 && strcmp(s + len - 3, "/**") == 0) {
		pt->subtree = 1;
		len -= 3;
	}
	pt->s = xstrndup(s, len);
	pt->len = len;
	pt->prelen = strcspn(pt->s, "*?[\\");
	pt->literal = pt->s[pt->prelen] == '\0';
	/*
	 * What follows the last of *?[]\ is literal and must end any match:
	 * a cheap test before fnmatch for "*-admin" patterns.
	 */
	if (!pt->literal) {
		for (len = pt->len; len > 0 &&
		    strchr("*?[]\\", pt->s[len - 1]) == NULL; len--)
			;
		pt->suflen = pt->len - len;
	}
}

static void
patlist_set(struct patlist *pl, const char **v, int paths)
{
	size_t i;

	for (pl->n = 0; v[pl->n] != NULL; pl->n++)
		;
	pl->v = xcalloc(pl->n, sizeof(*pl->v));
	for (i = 0; i < pl->n; i++)
		pat_init(&pl->v[i], v[i], paths);
}

static void
patlist_clear(struct patlist *pl)
{
	size_t i;

	for (i = 0; i < pl->n; i++)
		free(pl->v[i].s);
	free(pl->v);
	memset(pl, 0, sizeof(*pl));
}

static void
rule_clear(struct rule *r)
{
	size_t i;

	free(r->name);
	patlist_clear(&r->commands);
	patlist_clear(&r->writes);
	patlist_clear(&r->identities);
	patlist_clear(&r->groups);
	patlist_clear(&r->targets);
	for (i = 0; i < r->nargs; i++)
		regfree(&r->args[i]);
	free(r->args);
	strv_free(r->approvers);
	memset(r, 0, sizeof(*r));
}

/* The approvers value (string or array of group names), deduplicated. */
static char **
get_approvers(struct ctx *c, struct json_object *o, const char *parent)
{
	struct json_object *v = jc_member(o, "approvers");
	char p[POL_KEYPATH_MAX], **out;
	const char **l;
	size_t i, j, k = 0;

	if (v == NULL)
		return NULL;
	jc_path_key(p, sizeof(p), parent, "approvers");
	if ((l = get_list(c, v, p, check_group)) == NULL)
		return NULL;
	for (i = 0; l[i] != NULL; i++)
		;
	out = xcalloc(i + 1, sizeof(*out));
	for (i = 0; l[i] != NULL; i++) {
		for (j = 0; j < k && strcmp(out[j], l[i]) != 0; j++)
			;
		if (j == k)
			out[k++] = xstrdup(l[i]);
	}
	free(l);
	return out;
}

/* Fills r->args from the "args" value; 0 or -1 (reported). */
static int
compile_args(struct ctx *c, struct rule *r, struct json_object *v,
    const char *p)
{
	char ep[POL_KEYPATH_MAX], err[256];
	const char **l;
	size_t i, n;
	int bad = 0, e;

	if ((l = get_list(c, v, p, check_pattern)) == NULL)
		return -1;
	for (n = 0; l[n] != NULL; n++)
		;
	r->args = xcalloc(n, sizeof(*r->args));
	for (i = 0; i < n; i++) {
		if ((e = regcomp(&r->args[r->nargs], l[i],
		    REG_EXTENDED | REG_NOSUB)) != 0) {
			regerror(e, NULL, err, sizeof(err));
			if (json_object_is_type(v, json_type_array))
				jc_pathf(ep, sizeof(ep), "%s[%zu]", p, i);
			else
				jc_pathf(ep, sizeof(ep), "%s", p);
			jc_problem(&c->jc, ep, l[i],
			    "invalid extended regex: %s", err);
			bad = 1;
			continue;
		}
		/*
		 * glibc builds its DFA lazily, inside regexec: the first
		 * matches against a new regex cost tens of microseconds.
		 * Pay that here, once, with text like real arguments.
		 */
		regexec(&r->args[r->nargs], "", 0, NULL, 0);
		regexec(&r->args[r->nargs], WARM_ARGS, 0, NULL, 0);
		r->nargs++;
	}
	free(l);
	return bad ? -1 : 0;
}

/* Validates and compiles rule o into r; 0 or -1 (reported). */
static int
load_rule(struct ctx *c, struct json_object *o, const char *ep, struct rule *r)
{
	struct json_object *m, *v;
	char p[POL_KEYPATH_MAX], mp[POL_KEYPATH_MAX];
	const char **l, *s;
	size_t before = c->jc.nproblems;

	memset(r, 0, sizeof(*r));
	jc_check_unknown(&c->jc, o, ep, rule_keys);
	jc_path_key(p, sizeof(p), ep, "name");
	if ((v = jc_member(o, "name")) == NULL)
		jc_problem(&c->jc, p, NULL, "is required");
	else if ((s = jc_str_value(&c->jc, p, v)) != NULL) {
		if (!jc_valid_name(s))
			jc_problem(&c->jc, p, s, JC_MSG_NAME);
		else if (jc_list_contains(reserved_names, s))
			jc_problem(&c->jc, p, s,
			    "is reserved for decisions no rule made");
		else
			r->name = xstrdup(s);
	}
	if (get_action(c, o, ep, "action", 1, &r->action) != 0)
		r->action = POLICY_DENY;	/* reported; the rule is dropped */
	else if (r->action != POLICY_APPROVE) {
		/* allow/deny: approval settings would be ignored; say so */
		static const char *const akeys[] = { "approvers", "count",
		    "timeout", NULL };
		size_t i;

		for (i = 0; akeys[i] != NULL; i++) {
			if (jc_member(o, akeys[i]) == NULL)
				continue;
			jc_path_key(p, sizeof(p), ep, akeys[i]);
			jc_problem(&c->jc, p, NULL,
			    "only for \"approve\" rules");
		}
	} else {
		r->approvers = get_approvers(c, o, ep);
		r->count = jc_get_int(&c->jc, o, ep, "count", 0, 1,
		    POL_COUNT_MAX);
		r->timeout = jc_get_int(&c->jc, o, ep, "timeout", 0, 1,
		    POL_TIMEOUT_MAX);
	}

	jc_path_key(mp, sizeof(mp), ep, "match");
	if ((m = jc_member(o, "match")) == NULL)
		jc_problem(&c->jc, mp, NULL, "is required");
	else if (!json_object_is_type(m, json_type_object))
		jc_problem(&c->jc, mp, jc_jvis(m), "must be an object");
	else if (json_object_object_length(m) == 0)
		jc_problem(&c->jc, mp, NULL,
		    "must not be empty (use \"default\" "
		    "to decide what no rule matches)");
	else {
		jc_check_unknown(&c->jc, m, mp, match_keys);
		if ((v = jc_member(m, "commands")) != NULL) {
			jc_path_key(p, sizeof(p), mp, "commands");
			if ((l = get_list(c, v, p, check_command)) != NULL) {
				patlist_set(&r->commands, l, 0);
				free(l);
			}
		}
		if ((v = jc_member(m, "args")) != NULL) {
			jc_path_key(p, sizeof(p), mp, "args");
			compile_args(c, r, v, p);
		}
		if ((v = jc_member(m, "writes")) != NULL) {
			r->is_write = 1;
			jc_path_key(p, sizeof(p), mp, "writes");
			if (jc_member(m, "commands") != NULL ||
			    jc_member(m, "args") != NULL)
				jc_problem(&c->jc, p, NULL,
				    "cannot be combined with "
				    "\"commands\" or \"args\" (a write is not "
				    "tied to a command)");
			if ((l = get_list(c, v, p, check_write)) != NULL) {
				patlist_set(&r->writes, l, 1);
				free(l);
			}
		}
		if ((v = jc_member(m, "identities")) != NULL) {
			jc_path_key(p, sizeof(p), mp, "identities");
			if ((l = get_list(c, v, p, check_pattern)) != NULL) {
				patlist_set(&r->identities, l, 0);
				free(l);
			}
		}
		if ((v = jc_member(m, "groups")) != NULL) {
			jc_path_key(p, sizeof(p), mp, "groups");
			if ((l = get_list(c, v, p, check_pattern)) != NULL) {
				patlist_set(&r->groups, l, 0);
				free(l);
			}
		}
		if ((v = jc_member(m, "targets")) != NULL) {
			jc_path_key(p, sizeof(p), mp, "targets");
			if ((l = get_list(c, v, p, check_pattern)) != NULL) {
				patlist_set(&r->targets, l, 0);
				free(l);
			}
		}
	}
	if (c->jc.nproblems != before) {
		rule_clear(r);
		return -1;
	}
	return 0;
}

struct name_ref {
	const char	*name;
	size_t		 idx;
};

static int
name_ref_cmp(const void *a, const void *b)
{
	const struct name_ref *x = a, *y = b;
	int d = strcmp(x->name, y->name);

	if (d != 0)
		return d;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Duplicate rule names make decisions ambiguous in records. */
static void
check_duplicates(struct ctx *c, struct json_object *rules, const char *rp)
{
	struct name_ref *refs;
	struct json_object *e;
	char ep[POL_KEYPATH_MAX], p[POL_KEYPATH_MAX];
	size_t i, n = json_object_array_length(rules), k = 0;
	const char *s;

	refs = xcalloc(n + 1, sizeof(*refs));
	for (i = 0; i < n; i++) {
		e = json_object_array_get_idx(rules, i);
		if ((s = jc_elem_name(e)) != NULL) {
			refs[k].name = s;
			refs[k++].idx = i;
		}
	}
	qsort(refs, k, sizeof(*refs), name_ref_cmp);
	for (i = 1; i < k; i++) {
		if (strcmp(refs[i].name, refs[i - 1].name) != 0)
			continue;
		jc_pathf(ep, sizeof(ep), "%s[%zu] \"%s\"", rp, refs[i].idx,
		    refs[i].name);
		jc_path_key(p, sizeof(p), ep, "name");
		jc_problem(&c->jc, p, refs[i].name, "duplicate rule name");
	}
	free(refs);
}

static void
htab_init(struct htab *t, size_t nkeys)
{
	for (t->cap = 16; t->cap < nkeys * 2; t->cap *= 2)
		;
	t->v = xcalloc(t->cap, sizeof(*t->v));
}

/* The slot of key (len bytes), or the free slot where it would go. */
static struct hent *
htab_find(const struct htab *t, const char *key, size_t len, uint64_t h)
{
	size_t i = (size_t)h & (t->cap - 1);

	while (t->v[i].key != NULL) {
		if (t->v[i].hash == h && t->v[i].keylen == len &&
		    memcmp(t->v[i].key, key, len) == 0)
			return &t->v[i];
		i = (i + 1) & (t->cap - 1);
	}
	return &t->v[i];
}

static struct hent *
htab_get(struct htab *t, const char *key, size_t len)
{
	uint64_t h = hash_mem(key, len);
	struct hent *e = htab_find(t, key, len, h);

	if (e->key == NULL) {
		e->key = xstrndup(key, len);
		e->keylen = len;
		e->hash = h;
	}
	return e;
}

static void
htab_free(struct htab *t)
{
	size_t i;

	for (i = 0; t->v != NULL && i < t->cap; i++) {
		free(t->v[i].key);
		free(t->v[i].rules.v);
		free(t->v[i].globs.v);
	}
	free(t->v);
}

static void
pindex_add(struct pindex *x, size_t rule, const struct pat *pt)
{
	size_t plen = pt->prelen < POL_PREFIX_KEY ? pt->prelen : POL_PREFIX_KEY;
	struct hent *h = htab_get(&x->t, pt->s, plen);

	x->lens |= (uint32_t)1 << plen;
	/* A rule with two patterns under one prefix: both kept (in order). */
	globv_push(&h->globs, rule, pt);
}

static void
pindex_add_list(struct pindex *x, size_t rule, const struct patlist *pl)
{
	size_t j;

	for (j = 0; j < pl->n; j++)
		pindex_add(x, rule, &pl->v[j]);
}

static void
build_index(struct policy *p)
{
	size_t i, j, nlit = 0, nglob = 0, nid = 0, ntgt = 0, ngrp = 0;
	struct rule *r;
	struct hent *h;
	const struct pat *pt;

	for (i = 0; i < p->nrules; i++) {
		r = &p->rules[i];
		for (j = 0; j < r->commands.n; j++) {
			nlit += r->commands.v[j].literal;
			nglob += !r->commands.v[j].literal;
		}
		nid += r->identities.n;
		ntgt += r->targets.n;
		ngrp += r->groups.n;
	}
	htab_init(&p->lit, nlit);
	htab_init(&p->cmdglobs.t, nglob);
	htab_init(&p->byid.t, nid);
	htab_init(&p->bytarget.t, ntgt);
	htab_init(&p->bygroup.t, ngrp);
	for (i = 0; i < p->nrules; i++) {
		r = &p->rules[i];
		if (r->is_write) {
			idxv_push(&p->wrules, i);
			continue;
		}
		if (r->commands.n == 0) {
			if (r->identities.n > 0)
				pindex_add_list(&p->byid, i, &r->identities);
			else if (r->targets.n > 0)
				pindex_add_list(&p->bytarget, i, &r->targets);
			else if (r->groups.n > 0)
				pindex_add_list(&p->bygroup, i, &r->groups);
			else
				idxv_push(&p->rest, i);
			continue;
		}
		for (j = 0; j < r->commands.n; j++) {
			pt = &r->commands.v[j];
			if (!pt->literal) {
				pindex_add(&p->cmdglobs, i, pt);
				continue;
			}
			h = htab_get(&p->lit, pt->s, pt->len);
			/* A rule listing a name twice is indexed once. */
			if (h->rules.n == 0 || h->rules.v[h->rules.n - 1] != i)
				idxv_push(&h->rules, i);
		}
	}
}

int
policy_load_at(struct json_object *obj, const char *file, const char *prefix,
    struct policy **out, char **cause)
{
	struct ctx c;
	struct policy *p;
	struct json_object *rules, *e;
	char rp[POL_KEYPATH_MAX], ep[POL_KEYPATH_MAX];
	size_t i, n;
	int r = BST_ERR_CONFIG;

	if (out != NULL)
		*out = NULL;
	if (cause != NULL)
		*cause = NULL;
	if (out == NULL)
		return BST_ERR_INTERNAL;
	memset(&c, 0, sizeof(c));
	c.jc.file = vis_n(file != NULL ? file : "policy", 4096);
	c.prefix = prefix != NULL ? prefix : "";
	p = xcalloc(1, sizeof(*p));
	p->def = p->opaque = p->shell = p->redirect = POLICY_APPROVE;
	p->sftp = POLICY_ALLOW;	/* each request is judged on its own */
	p->count = 1;
	p->timeout = 300;
	if (obj == NULL)
		goto done;
	if (!json_object_is_type(obj, json_type_object)) {
		jc_problem(&c.jc, *c.prefix != '\0' ? c.prefix : "top level",
		    NULL, "must be an object");
		goto done;
	}
	jc_check_unknown(&c.jc, obj, c.prefix, top_keys);
	get_action(&c, obj, c.prefix, "default", 0, &p->def);
	get_action(&c, obj, c.prefix, "opaque", 0, &p->opaque);
	get_action(&c, obj, c.prefix, "shell", 0, &p->shell);
	get_action(&c, obj, c.prefix, "sftp", 0, &p->sftp);
	get_action(&c, obj, c.prefix, "redirect", 0, &p->redirect);
	p->approvers = get_approvers(&c, obj, c.prefix);
	p->count = jc_get_int(&c.jc, obj, c.prefix, "count", 1, 1,
	    POL_COUNT_MAX);
	p->timeout = jc_get_int(&c.jc, obj, c.prefix, "timeout", 300, 1,
	    POL_TIMEOUT_MAX);
	if ((rules = jc_member(obj, "rules")) == NULL)
		goto done;
	jc_path_key(rp, sizeof(rp), c.prefix, "rules");
	if (!json_object_is_type(rules, json_type_array)) {
		jc_problem(&c.jc, rp, jc_jvis(rules), "must be an array");
		goto done;
	}
	n = json_object_array_length(rules);
	p->rules = xcalloc(n > 0 ? n : 1, sizeof(*p->rules));
	for (i = 0; i < n; i++) {
		e = json_object_array_get_idx(rules, i);
		if (jc_elem_name(e) != NULL)
			jc_pathf(ep, sizeof(ep), "%s[%zu] \"%s\"", rp, i,
			    jc_elem_name(e));
		else
			jc_pathf(ep, sizeof(ep), "%s[%zu]", rp, i);
		if (e == NULL || !json_object_is_type(e, json_type_object)) {
			jc_problem(&c.jc, ep, jc_jvis(e), "must be an object");
			continue;
		}
		if (load_rule(&c, e, ep, &p->rules[p->nrules]) == 0)
			p->nrules++;
	}
	check_duplicates(&c, rules, rp);
 done:
	if (p->approvers == NULL)
		p->approvers = xcalloc(1, sizeof(*p->approvers));
	if (c.jc.nproblems == 0) {
		build_index(p);
		*out = p;
		p = NULL; /* transferred */
		r = 0;
	} else
		jc_add_more(&c.jc);
	if (r != 0 && cause != NULL) {
		*cause = c.jc.msgs;
		c.jc.msgs = NULL; /* transferred */
	}
	free(c.jc.msgs);
	free(c.jc.file);
	policy_free(p);
	return r;
}

int
policy_load(struct json_object *obj, const char *file, struct policy **out,
    char **cause)
{
	return policy_load_at(obj, file, NULL, out, cause);
}

void
policy_free(struct policy *p)
{
	size_t i;

	if (p == NULL)
		return;
	for (i = 0; i < p->nrules; i++)
		rule_clear(&p->rules[i]);
	free(p->rules);
	htab_free(&p->lit);
	htab_free(&p->cmdglobs.t);
	htab_free(&p->byid.t);
	htab_free(&p->bytarget.t);
	htab_free(&p->bygroup.t);
	free(p->rest.v);
	free(p->wrules.v);
	strv_free(p->approvers);
	free(p);
}

size_t
policy_nrules(const struct policy *p)
{
	return p != NULL ? p->nrules : 0;
}

/* ---- matching ---- */

/* Does s (n bytes) match pt?  Literal prefix and suffix before fnmatch. */
static int
pat_match_n(const struct pat *pt, const char *s, size_t n, int flags)
{
	if (pt->literal)
		return n == pt->len && memcmp(pt->s, s, n) == 0;
	if (n < pt->prelen + pt->suflen ||
	    memcmp(pt->s, s, pt->prelen) != 0 ||
	    memcmp(s + n - pt->suflen, pt->s + pt->len - pt->suflen,
	    pt->suflen) != 0)
		return 0;
	return fnmatch(pt->s, s, flags) == 0;
}

static int
pat_match(const struct pat *pt, const char *s, int flags)
{
	return pat_match_n(pt, s, strlen(s), flags);
}

static int
patlist_match(const struct patlist *pl, const char *s)
{
	size_t i;

	for (i = 0; i < pl->n; i++)
		if (pat_match(&pl->v[i], s, 0))
			return 1;
	return 0;
}

/* identities, groups, targets: the parts of a rule about who and where. */
static int
subject_matches(const struct rule *r, const struct policy_subject *s)
{
	size_t i;

	if (r->targets.n > 0 &&
	    !patlist_match(&r->targets, s->target != NULL ? s->target : ""))
		return 0;
	if (r->identities.n > 0 && !patlist_match(&r->identities,
	    s->identity != NULL ? s->identity : ""))
		return 0;
	if (r->groups.n > 0) {
		for (i = 0; s->groups != NULL && s->groups[i] != NULL; i++)
			if (patlist_match(&r->groups, s->groups[i]))
				break;
		if (s->groups == NULL || s->groups[i] == NULL)
			return 0;
	}
	return 1;
}

/* One sorted candidate list being merged. */
struct cursor {
	const size_t		*idx;	/* rule indices, or NULL: use globs */
	const struct globent	*globs;
	size_t			 n, i;
	const char		*value;	/* globs: what their patterns must match */
	size_t			 vlen;
};

/* Evaluation scratch, one per policy_eval call. */
struct evalctx {
	const struct policy		*p;
	const struct policy_subject	*s;
	char				*args;		/* joined argv[1..] */
	size_t				 argscap;
	const struct pc_command		*argsfor;	/* whose args are in args */
	struct cursor			*subj;		/* rules without "commands"
							   that may apply to s */
	size_t				 nsubj;
	struct cursor			*cur;		/* per command */
	size_t				 curcap;
};

static const char *
joined_args(struct evalctx *e, const struct pc_command *cmd)
{
	size_t i, len = 0, o = 0, l;

	if (e->argsfor == cmd)
		return e->args;
	for (i = 1; i < cmd->argc; i++)
		len += strlen(cmd->argv[i]) + 1;
	if (len + 1 > e->argscap) {
		e->argscap = len + 64;
		e->args = xrealloc(e->args, e->argscap);
	}
	for (i = 1; i < cmd->argc; i++) {
		if (i > 1)
			e->args[o++] = ' ';
		l = strlen(cmd->argv[i]);
		memcpy(e->args + o, cmd->argv[i], l);
		o += l;
	}
	e->args[o] = '\0';
	e->argsfor = cmd;
	return e->args;
}

/*
 * Everything but "commands": the caller found r in a list whose condition
 * holds (its name is the command's, or one of its command globs matched,
 * or it has no "commands").
 */
static int
rule_matches(struct evalctx *e, const struct rule *r,
    const struct pc_command *cmd)
{
	const char *a;
	size_t i;

	if (!subject_matches(r, e->s))
		return 0;
	if (r->nargs == 0)
		return 1;
	a = joined_args(e, cmd);
	for (i = 0; i < r->nargs; i++)
		if (regexec(&r->args[i], a, 0, NULL, 0) == 0)
			return 1;
	return 0;
}

#define NO_RULE	((size_t)-1)

/* Adds to c[*n] the lists of x filed under a prefix of value. */
static void
pindex_lookup(const struct pindex *x, const char *value, struct cursor *c,
    size_t *n)
{
	size_t len = strlen(value), L;
	uint64_t hv = HASH_INIT;
	const struct hent *h;

	if (x->lens == 0)
		return;
	for (L = 0; L <= POL_PREFIX_KEY && L <= len; L++) {
		if (L > 0)
			hv = HASH_STEP(hv, value[L - 1]);
		if ((x->lens & ((uint32_t)1 << L)) == 0)
			continue;
		h = htab_find(&x->t, value, L, hv);
		if (h->key == NULL || h->globs.n == 0)
			continue;
		memset(&c[*n], 0, sizeof(c[*n]));
		c[*n].globs = h->globs.v;
		c[*n].n = h->globs.n;
		c[*n].value = value;
		c[*n].vlen = len;
		(*n)++;
	}
}

/*
 * The lists of rules without "commands" that may apply to the subject,
 * once per request.
 */
static void
subject_cursors(struct evalctx *e)
{
	const struct policy *p = e->p;
	const struct policy_subject *s = e->s;
	size_t ng = 0, max;

	while (s->groups != NULL && s->groups[ng] != NULL)
		ng++;
	max = (3 + ng) * POL_PINDEX_MAX + 1;
	e->subj = xcalloc(max, sizeof(*e->subj));
	pindex_lookup(&p->byid, s->identity != NULL ? s->identity : "",
	    e->subj, &e->nsubj);
	pindex_lookup(&p->bytarget, s->target != NULL ? s->target : "",
	    e->subj, &e->nsubj);
	for (ng = 0; s->groups != NULL && s->groups[ng] != NULL; ng++)
		pindex_lookup(&p->bygroup, s->groups[ng], e->subj, &e->nsubj);
	if (p->rest.n > 0) {
		e->subj[e->nsubj].idx = p->rest.v;
		e->subj[e->nsubj++].n = p->rest.n;
	}
	e->curcap = e->nsubj + 1 + POL_PINDEX_MAX;
	e->cur = xcalloc(e->curcap, sizeof(*e->cur));
}

/* Index of the first command rule matching cmd (name not NULL), or NO_RULE. */
static size_t
first_command_rule(struct evalctx *e, const struct pc_command *cmd)
{
	const struct policy *p = e->p;
	const char *name = cmd->name;
	struct cursor *cur = e->cur, *c, *best;
	const struct hent *h;
	size_t len = strlen(name), ncur = 0, i, ri, tested = NO_RULE, v;

	/* Literal rules naming the command. */
	h = htab_find(&p->lit, name, len, hash_mem(name, len));
	if (h->key != NULL && h->rules.n > 0) {
		memset(&cur[ncur], 0, sizeof(cur[ncur]));
		cur[ncur].idx = h->rules.v;
		cur[ncur++].n = h->rules.n;
	}
	/* Globs filed under a prefix of the name. */
	pindex_lookup(&p->cmdglobs, name, cur, &ncur);
	/* Rules without "commands" that may apply to this subject. */
	for (i = 0; i < e->nsubj; i++) {
		cur[ncur] = e->subj[i];
		cur[ncur++].i = 0;
	}
	/* Merge in rule order; the first rule that matches decides. */
	for (;;) {
		best = NULL;
		ri = NO_RULE;
		for (i = 0; i < ncur; i++) {
			c = &cur[i];
			if (c->i >= c->n)
				continue;
			v = c->idx != NULL ? c->idx[c->i] : c->globs[c->i].rule;
			if (v < ri) {
				best = c;
				ri = v;
			}
		}
		if (best == NULL)
			return NO_RULE;
		i = best->i++;
		if (best->idx == NULL && !pat_match_n(best->globs[i].pat,
		    best->value, best->vlen, 0))
			continue;
		/* This list's condition holds; test the rest once per rule. */
		if (ri == tested)
			continue;
		tested = ri;
		if (rule_matches(e, &p->rules[ri], cmd))
			return ri;
	}
}

/*
 * Lexically normalized path: no "//", ".", and ".." resolved against
 * the components before it (at the root it stays at the root).
 * Symlinks are not known here: see policy.h.  malloc'd.
 */
static char *
normalize_path(const char *path)
{
	size_t len = strlen(path), o = 0, n, ncomp = 0, nup = 0;
	size_t *starts = xcalloc(len / 2 + 2, sizeof(*starts));
	char *out = xmalloc(len + 2);
	const char *s = path;
	int abs = path[0] == '/';

	/*
	 * out holds the components so far; starts[] where each begins (at
	 * its '/' separator, or 0).  The first nup components of a
	 * relative path are ".." that cannot be resolved.
	 */
	while (*s != '\0') {
		while (*s == '/')
			s++;
		if (*s == '\0')
			break;
		n = strcspn(s, "/");
		if (n == 1 && s[0] == '.') {
			/* nothing */
		} else if (n == 2 && s[0] == '.' && s[1] == '.' &&
		    ncomp > nup) {
			o = starts[--ncomp];
		} else if (n == 2 && s[0] == '.' && s[1] == '.' && abs) {
			/* "/.." is "/" */
		} else {
			if (n == 2 && s[0] == '.' && s[1] == '.')
				nup++;
			starts[ncomp++] = o;
			if (abs || o > 0)
				out[o++] = '/';
			memcpy(out + o, s, n);
			o += n;
		}
		s += n;
	}
	if (o == 0 && abs)
		out[o++] = '/';
	else if (o == 0)
		out[o++] = '.';
	out[o] = '\0';
	free(starts);
	return out;
}

static int
write_pat_match(const struct pat *pt, const char *path)
{
	char *buf;
	size_t i, len;
	int m = 0;

	if (!pt->subtree)
		return pat_match(pt, path, FNM_PATHNAME);
	/* DIR + "**": a proper prefix ending before a '/' matches DIR. */
	len = strlen(path);
	if (strncmp(pt->s, path, pt->prelen) != 0)
		return 0;
	buf = xmalloc(len + 1);
	for (i = 0; i < len && !m; i++) {
		if (path[i] != '/' || i + 1 >= len)
			continue;
		memcpy(buf, path, i);
		buf[i] = '\0';
		m = pat_match(pt, buf, FNM_PATHNAME);
	}
	free(buf);
	return m;
}

/* Index of the first write rule matching the normalized path, or NO_RULE. */
static size_t
first_write_rule(struct evalctx *e, const char *path)
{
	const struct rule *r;
	size_t i, j;

	for (i = 0; i < e->p->wrules.n; i++) {
		r = &e->p->rules[e->p->wrules.v[i]];
		for (j = 0; j < r->writes.n; j++)
			if (write_pat_match(&r->writes.v[j], path))
				break;
		if (j < r->writes.n && subject_matches(r, e->s))
			return e->p->wrules.v[i];
	}
	return NO_RULE;
}

/* ---- decisions ---- */

/* What an approve item asks for, beside the item itself. */
struct appr {
	char *const	*groups;	/* borrowed from the policy; empty = any */
	int		 count, timeout;
};

static void
item_policy_defaults(const struct policy *p, struct appr *a)
{
	a->groups = p->approvers;
	a->count = p->count;
	a->timeout = p->timeout;
}

static void
item_rule(const struct policy *p, const struct rule *r, struct appr *a)
{
	a->groups = r->approvers != NULL ? r->approvers : p->approvers;
	a->count = r->count != 0 ? r->count : p->count;
	a->timeout = r->timeout != 0 ? r->timeout : p->timeout;
}

/* argv joined by spaces, sanitized and cut. */
static char *
argv_text(const struct pc_command *cmd)
{
	size_t i, len = 0, o = 0, l;
	char *j, *out;

	for (i = 0; i < cmd->argc && len <= POL_TEXT_MAX; i++)
		len += strlen(cmd->argv[i]) + 1;
	j = xmalloc(len + 1);
	for (i = 0; i < cmd->argc && o <= POL_TEXT_MAX; i++) {
		if (i > 0)
			j[o++] = ' ';
		l = strlen(cmd->argv[i]);
		memcpy(j + o, cmd->argv[i], l);
		o += l;
	}
	j[o] = '\0';
	out = vis_n(j, POL_TEXT_MAX);
	free(j);
	return out;
}

static void
eval_command(struct evalctx *e, const struct pc_command *cmd,
    struct policy_item *it, struct appr *a)
{
	const struct policy *p = e->p;
	const struct rule *r;
	size_t ri;
	char *n, *w;

	it->kind = POLICY_ITEM_CMD;
	it->text = argv_text(cmd);
	it->via = cmd->via != NULL ? vis_n(cmd->via, POL_VALUE_MAX) : NULL;
	if (cmd->opaque || cmd->name == NULL) {
		it->action = p->opaque;
		it->rule = xstrdup("opaque");
		n = vis_n(cmd->opaque_reason != NULL ? cmd->opaque_reason :
		    "cannot be analysed", POL_VALUE_MAX);
		w = cmd->argc > 0 ? vis_n(cmd->argv[0], POL_VALUE_MAX) : NULL;
		it->reason = xasprintf("opaque: %s%s%s%s: opaque %s", n,
		    w != NULL ? " (" : "", w != NULL ? w : "",
		    w != NULL ? ")" : "", policy_action_name(it->action));
		free(n);
		free(w);
		item_policy_defaults(p, a);
		/*
		 * An opaque command whose name is known ("sh" reading a
		 * script from stdin): a rule about that name still applies
		 * when it is stricter.  Opaque never weakens a rule.
		 */
		if (cmd->name != NULL &&
		    (ri = first_command_rule(e, cmd)) != NO_RULE &&
		    p->rules[ri].action > it->action) {
			r = &p->rules[ri];
			free(it->rule);
			free(it->reason);
			n = vis_n(cmd->name, POL_VALUE_MAX);
			it->action = r->action;
			it->rule = xstrdup(r->name);
			it->reason = xasprintf("rule \"%s\" matches %s "
			    "(stricter than opaque %s)", r->name, n,
			    policy_action_name(p->opaque));
			free(n);
			item_rule(p, r, a);
		}
		return;
	}
	n = vis_n(cmd->name, POL_VALUE_MAX);
	if ((ri = first_command_rule(e, cmd)) != NO_RULE) {
		r = &p->rules[ri];
		it->action = r->action;
		it->rule = xstrdup(r->name);
		it->reason = xasprintf("rule \"%s\" matches %s", r->name, n);
		item_rule(p, r, a);
	} else {
		it->action = p->def;
		it->rule = xstrdup("default");
		it->reason = xasprintf("no rule matches \"%s\": default %s", n,
		    policy_action_name(p->def));
		item_policy_defaults(p, a);
	}
	free(n);
}

static void
eval_write(struct evalctx *e, const struct pc_write *wr,
    struct policy_item *it, struct appr *a)
{
	const struct policy *p = e->p;
	const struct rule *r;
	char *norm, *vn = NULL, *vp;
	size_t ri;

	it->kind = POLICY_ITEM_WRITE;
	if (wr->opaque || wr->path == NULL) {
		it->text = vis_n(wr->path != NULL ? wr->path : "(expansion)",
		    POL_TEXT_MAX);
		it->action = p->redirect > POLICY_APPROVE ? p->redirect :
		    POLICY_APPROVE;
		it->rule = xstrdup("redirect");
		it->reason = xasprintf("write to a path from an expansion: "
		    "redirect %s", policy_action_name(it->action));
		item_policy_defaults(p, a);
		return;
	}
	it->text = vis_n(wr->path, POL_TEXT_MAX);
	norm = normalize_path(wr->path);
	vp = vis_n(wr->path, POL_VALUE_MAX);
	if (strcmp(norm, wr->path) != 0) {
		char *t = vis_n(norm, POL_VALUE_MAX);

		vn = xasprintf("%s (%s)", vp, t);
		free(t);
		free(vp);
		vp = vn;
	}
	if ((ri = first_write_rule(e, norm)) != NO_RULE) {
		r = &p->rules[ri];
		it->action = r->action;
		it->rule = xstrdup(r->name);
		it->reason = xasprintf("rule \"%s\" matches write to %s",
		    r->name, vp);
		item_rule(p, r, a);
	} else {
		it->action = p->redirect;
		it->rule = xstrdup("redirect");
		it->reason = xasprintf("write to %s: no rule allows it: "
		    "redirect %s", vp, policy_action_name(p->redirect));
		item_policy_defaults(p, a);
	}
	free(vp);
	free(norm);
}

static int
strv_has(char *const *v, size_t n, const char *s)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return 1;
	return 0;
}

/* Combines the items into d: most restrictive wins; approvals merged. */
static void
combine(struct policy_decision *d, const struct appr *a)
{
	size_t i, j, ng = 0, k = 0, dec = 0;

	d->action = POLICY_ALLOW;
	for (i = 0; i < d->nitems; i++)
		if (d->items[i].action > d->action)
			d->action = d->items[i].action;
	for (i = 0; i < d->nitems; i++)
		if (d->items[i].action == d->action) {
			dec = i;
			break;
		}
	d->rule = xstrdup(d->items[dec].rule);
	d->reason = xstrdup(d->items[dec].reason);
	if (d->action != POLICY_APPROVE) {
		d->approvers = xcalloc(1, sizeof(*d->approvers));
		return;
	}
	for (i = 0; i < d->nitems; i++)
		if (d->items[i].action == POLICY_APPROVE)
			ng += strv_len(a[i].groups);
	d->approvers = xcalloc(ng + 1, sizeof(*d->approvers));
	d->timeout = POL_TIMEOUT_MAX;
	for (i = 0; i < d->nitems; i++) {
		if (d->items[i].action != POLICY_APPROVE)
			continue;
		if (a[i].count > d->count)
			d->count = a[i].count;
		if (a[i].timeout < d->timeout)
			d->timeout = a[i].timeout;
		for (j = 0; a[i].groups[j] != NULL; j++)
			if (!strv_has(d->approvers, k, a[i].groups[j]))
				d->approvers[k++] = xstrdup(a[i].groups[j]);
	}
}

int
policy_eval(const struct policy *p, const struct policy_subject *s,
    const struct pc_result *r, struct policy_decision **out)
{
	struct policy_decision *d;
	struct evalctx e;
	struct appr *a;
	size_t i, n;

	if (out != NULL)
		*out = NULL;
	if (p == NULL || s == NULL || r == NULL || out == NULL)
		return BST_ERR_INTERNAL;
	d = xcalloc(1, sizeof(*d));
	d->owner = s->owner != NULL ? vis_n(s->owner, POL_VALUE_MAX) : NULL;
	if (r->error != PC_OK || r->incomplete) {
		d->items = xcalloc(1, sizeof(*d->items));
		d->nitems = 1;
		d->items[0].kind = POLICY_ITEM_ERROR;
		d->items[0].text = vis_n(r->error_msg != NULL ? r->error_msg :
		    r->error != PC_OK ? "syntax error" : "incomplete command",
		    POL_TEXT_MAX);
		d->items[0].action = POLICY_DENY;
		d->items[0].rule = xstrdup("parse-error");
		d->items[0].reason = xasprintf("cannot parse: %s",
		    d->items[0].text);
		a = xcalloc(1, sizeof(*a));
		item_policy_defaults(p, &a[0]);
		goto done;
	}
	n = r->ncmds + r->nwrites;
	if (n == 0) {
		d->items = xcalloc(1, sizeof(*d->items));
		d->nitems = 1;
		d->items[0].kind = POLICY_ITEM_EMPTY;
		d->items[0].text = xstrdup("");
		d->items[0].action = p->def;
		d->items[0].rule = xstrdup("default");
		d->items[0].reason = xasprintf("nothing to run: default %s",
		    policy_action_name(p->def));
		a = xcalloc(1, sizeof(*a));
		item_policy_defaults(p, &a[0]);
		goto done;
	}
	memset(&e, 0, sizeof(e));
	e.p = p;
	e.s = s;
	d->items = xcalloc(n, sizeof(*d->items));
	a = xcalloc(n, sizeof(*a));
	if (r->ncmds > 0)
		subject_cursors(&e);
	for (i = 0; i < r->ncmds; i++)
		eval_command(&e, &r->cmds[i], &d->items[d->nitems++],
		    &a[i]);
	for (i = 0; i < r->nwrites; i++)
		eval_write(&e, &r->writes[i], &d->items[d->nitems++],
		    &a[r->ncmds + i]);
	free(e.args);
	free(e.subj);
	free(e.cur);
 done:
	combine(d, a);
	free(a);
	*out = d;
	return 0;
}

/* The decision about starting a shell or the sftp subsystem. */
static int
eval_start(const struct policy *p, const struct policy_subject *s,
    enum policy_item_kind kind, enum policy_action action, const char *what,
    const char *rule, struct policy_decision **out)
{
	struct policy_decision *d;
	struct appr a;

	if (out != NULL)
		*out = NULL;
	if (p == NULL || s == NULL || out == NULL)
		return BST_ERR_INTERNAL;
	d = xcalloc(1, sizeof(*d));
	d->owner = s->owner != NULL ? vis_n(s->owner, POL_VALUE_MAX) : NULL;
	d->items = xcalloc(1, sizeof(*d->items));
	d->nitems = 1;
	d->items[0].kind = kind;
	d->items[0].text = xstrdup(what);
	d->items[0].action = action;
	d->items[0].rule = xstrdup(rule);
	d->items[0].reason = xasprintf("%s: %s %s", what, rule,
	    policy_action_name(action));
	item_policy_defaults(p, &a);
	combine(d, &a);
	*out = d;
	return 0;
}

int
policy_eval_shell(const struct policy *p, const struct policy_subject *s,
    struct policy_decision **out)
{
	return eval_start(p, s, POLICY_ITEM_SHELL, p ? p->shell : 0,
	    "interactive shell", "shell", out);
}

int
policy_eval_sftp(const struct policy *p, const struct policy_subject *s,
    struct policy_decision **out)
{
	return eval_start(p, s, POLICY_ITEM_SFTP, p ? p->sftp : 0,
	    "sftp subsystem", "sftp", out);
}

void
policy_decision_free(struct policy_decision *d)
{
	size_t i;

	if (d == NULL)
		return;
	for (i = 0; i < d->nitems; i++) {
		free(d->items[i].text);
		free(d->items[i].via);
		free(d->items[i].rule);
		free(d->items[i].reason);
	}
	free(d->items);
	free(d->rule);
	free(d->reason);
	strv_free(d->approvers);
	free(d->owner);
	free(d);
}

static const char *
kind_name(enum policy_item_kind k)
{
	switch (k) {
	case POLICY_ITEM_CMD:
		return "cmd";
	case POLICY_ITEM_WRITE:
		return "write";
	case POLICY_ITEM_ERROR:
		return "error";
	case POLICY_ITEM_SHELL:
		return "shell";
	case POLICY_ITEM_SFTP:
		return "sftp";
	case POLICY_ITEM_EMPTY:
		return "empty";
	}
	return "?";
}

struct json_object *
policy_decision_json(const struct policy_decision *d)
{
	struct json_object *o, *arr, *it;
	size_t i;

	if (d == NULL)
		return NULL;
	o = json_object_new_object();
	json_object_object_add(o, "action",
	    json_object_new_string(policy_action_name(d->action)));
	json_object_object_add(o, "rule", json_object_new_string(d->rule));
	json_object_object_add(o, "reason", json_object_new_string(d->reason));
	arr = json_object_new_array();
	for (i = 0; d->approvers[i] != NULL; i++)
		json_object_array_add(arr,
		    json_object_new_string(d->approvers[i]));
	json_object_object_add(o, "approvers", arr);
	json_object_object_add(o, "count", json_object_new_int(d->count));
	json_object_object_add(o, "timeout", json_object_new_int(d->timeout));
	if (d->owner != NULL)
		json_object_object_add(o, "owner",
		    json_object_new_string(d->owner));
	arr = json_object_new_array();
	for (i = 0; i < d->nitems; i++) {
		it = json_object_new_object();
		json_object_object_add(it, "kind",
		    json_object_new_string(kind_name(d->items[i].kind)));
		json_object_object_add(it, "text",
		    json_object_new_string(d->items[i].text));
		json_object_object_add(it, "via", d->items[i].via != NULL ?
		    json_object_new_string(d->items[i].via) : NULL);
		json_object_object_add(it, "action", json_object_new_string(
		    policy_action_name(d->items[i].action)));
		json_object_object_add(it, "rule",
		    json_object_new_string(d->items[i].rule));
		json_object_object_add(it, "reason",
		    json_object_new_string(d->items[i].reason));
		json_object_array_add(arr, it);
	}
	json_object_object_add(o, "items", arr);
	return o;
}

/* Appends to a growing string. */
static void __attribute__((format(printf, 3, 4)))
sappend(char **buf, size_t *len, const char *fmt, ...)
{
	va_list ap;
	char *s;
	size_t l;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) == -1)
		s = NULL;
	va_end(ap);
	if (s == NULL)
		s = xstrdup("");	/* xstrdup is fatal on out-of-memory */
	l = strlen(s);
	*buf = xrealloc(*buf, *len + l + 1);
	memcpy(*buf + *len, s, l + 1);
	*len += l;
	free(s);
}

char *
policy_explain_text(const struct policy_decision *d)
{
	const struct policy_item *it;
	char *buf = NULL;
	size_t len = 0, i;

	if (d == NULL)
		return NULL;
	sappend(&buf, &len, "%s", "");
	for (i = 0; i < d->nitems; i++) {
		it = &d->items[i];
		sappend(&buf, &len, "%s %s%s%s%s: %s (%s)\n",
		    kind_name(it->kind), it->text,
		    it->via != NULL ? " (via " : "",
		    it->via != NULL ? it->via : "", it->via != NULL ? ")" : "",
		    policy_action_name(it->action), it->reason);
	}
	sappend(&buf, &len, "decision: %s: %s\n",
	    policy_action_name(d->action), d->reason);
	if (d->action == POLICY_APPROVE) {
		sappend(&buf, &len, "approvers: ");
		if (d->approvers[0] == NULL)
			sappend(&buf, &len, "any approver");
		for (i = 0; d->approvers[i] != NULL; i++)
			sappend(&buf, &len, "%s%s", i > 0 ? ", " : "",
			    d->approvers[i]);
		if (d->owner != NULL)
			sappend(&buf, &len, " (never %s)", d->owner);
		sappend(&buf, &len, "; count %d; timeout %ds\n", d->count,
		    d->timeout);
	}
	return buf;
}
