/*
 * jcheck.h: diagnostics for validating JSON documents (the config and the
 * command policy): collects problems as "FILE: KEY: problem (value)"
 * lines, builds key paths, shows values safely.
 */
#ifndef BASTION_JCHECK_H
#define BASTION_JCHECK_H

#include <stddef.h>

struct json_object;

#define JC_MAX_PROBLEMS		100	/* reported; the rest are counted */
#define JC_VALUE_MAX		60	/* characters of a value quoted in a message */
#define JC_KEYPATH_MAX		512	/* "targets[1] \"web1\".users[0]" */
#define JC_NAME_MAX		64

#define JC_MSG_NAME	"must be 1..64 of A-Za-z0-9._- not starting with '.' or '-'"

/* The problems found so far in one document. */
struct jc {
	char		*file;		/* named in messages; the caller's */
	char		*msgs;		/* problems so far, '\n'-separated */
	size_t		 msgslen;
	unsigned int	 nproblems;
};

/*
 * Records "FILE: KEY: problem (value)".  key may be NULL (the file as a
 * whole), value may be NULL (nothing to quote).
 */
void	 jc_problem(struct jc *, const char *key, const char *value,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* "FILE: N more problems not shown", if more than JC_MAX_PROBLEMS. */
void	 jc_add_more(struct jc *);

/* Sanitized, truncated copy of s; buf must hold JC_VALUE_MAX + 1 bytes. */
const char *jc_vis(char *buf, size_t sz, const char *s);
/* Text of a JSON value for a message; owned by v (or static). */
const char *jc_jvis(struct json_object *v);

/* snprintf for key paths, where cutting a long path short is fine. */
void	 jc_pathf(char *buf, size_t sz, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/* "listen", "targets[1] \"web1\".port", "policy.rules[0]". */
void	 jc_path_key(char *buf, size_t sz, const char *parent,
	    const char *key);
/* "name" of an array element, if it is an object with a valid one. */
const char *jc_elem_name(struct json_object *elem);

/* Member key of o; NULL if absent or JSON null. */
struct json_object *jc_member(struct json_object *o, const char *key);
/* Reports every key of o not in allowed (NULL-terminated). */
void	 jc_check_unknown(struct jc *, struct json_object *o,
	    const char *parent, const char *const *allowed);
/* A non-empty string without control characters (borrowed), else NULL. */
const char *jc_str_value(struct jc *, const char *p, struct json_object *v);
/* Integer member key in min..max; def if absent or wrong. */
int	 jc_get_int(struct jc *, struct json_object *o, const char *parent,
	    const char *key, int def, int min, int max);

int	 jc_has_cntrl(const char *s);
/* Identity, target, group and user names: [A-Za-z0-9._-], 1..64. */
int	 jc_valid_name(const char *s);
int	 jc_list_contains(const char *const *v, const char *s);

#endif
