/*
 * jcheck.c: diagnostics for validating JSON documents, shared by the
 * config loader (common/config.c) and the policy loader (policy/policy.c):
 * collects problems as "FILE: KEY: problem (value)" lines, builds key
 * paths, shows values safely.
 *
 * Trusts json-c (the document is already parsed) and its callers (buffer
 * sizes as jcheck.h says).  Keys, values and the file name are not
 * trusted: whatever is quoted is sanitized and truncated first, and every
 * problem is exactly one line.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "jcheck.h"
#include "log.h"
#include "util.h"

static int
is_alnum(int ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9');
}

int
jc_has_cntrl(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

int
jc_valid_name(const char *s)
{
	size_t i;

	if (s[0] == '\0' || s[0] == '.' || s[0] == '-')
		return 0;
	for (i = 0; s[i] != '\0'; i++) {
		if (i >= JC_NAME_MAX)
			return 0;
		if (!is_alnum(s[i]) && s[i] != '.' && s[i] != '_' &&
		    s[i] != '-')
			return 0;
	}
	return 1;
}

int
jc_list_contains(const char *const *v, const char *s)
{
	for (; *v != NULL; v++)
		if (strcmp(*v, s) == 0)
			return 1;
	return 0;
}

const char *
jc_vis(char *buf, size_t sz, const char *s)
{
	size_t len = strlen(s);

	if (len <= JC_VALUE_MAX)
		return log_sanitize(buf, sz, s, len);
	log_sanitize(buf, sz, s, JC_VALUE_MAX - 3);
	if (strlen(buf) + 4 <= sz)
		strcat(buf, "...");
	return buf;
}

const char *
jc_jvis(struct json_object *v)
{
	if (v == NULL)
		return "null";
	if (json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
}

static void
append_line(struct jc *c, const char *line)
{
	size_t len = strlen(line);

	c->msgs = xrealloc(c->msgs, c->msgslen + len + 2);
	if (c->msgslen > 0)
		c->msgs[c->msgslen++] = '\n';
	memcpy(c->msgs + c->msgslen, line, len + 1);
	c->msgslen += len;
}

void
jc_problem(struct jc *c, const char *key, const char *value,
    const char *fmt, ...)
{
	char msg[1024], v[JC_VALUE_MAX + 1], *line, *p;
	va_list ap;

	if (++c->nproblems > JC_MAX_PROBLEMS)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	line = xasprintf("%s: %s%s%s%s%s%s", c->file,
	    key != NULL ? key : "", key != NULL ? ": " : "", msg,
	    value != NULL ? " (" : "",
	    value != NULL ? jc_vis(v, sizeof(v), value) : "",
	    value != NULL ? ")" : "");
	/* One problem, one line, whatever the key or file name holds. */
	for (p = line; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	append_line(c, line);
	free(line);
}

void
jc_add_more(struct jc *c)
{
	char *line;

	if (c->nproblems <= JC_MAX_PROBLEMS)
		return;
	line = xasprintf("%s: %u more problems not shown", c->file,
	    c->nproblems - JC_MAX_PROBLEMS);
	append_line(c, line);
	free(line);
}

void
jc_pathf(char *buf, size_t sz, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sz, fmt, ap);
	va_end(ap);
}

void
jc_path_key(char *buf, size_t sz, const char *parent, const char *key)
{
	char v[JC_VALUE_MAX + 1];

	jc_vis(v, sizeof(v), key);
	if (parent == NULL || *parent == '\0')
		jc_pathf(buf, sz, "%s", v);
	else
		jc_pathf(buf, sz, "%s.%s", parent, v);
}

const char *
jc_elem_name(struct json_object *elem)
{
	struct json_object *v;
	const char *s;

	if (elem == NULL || !json_object_is_type(elem, json_type_object) ||
	    !json_object_object_get_ex(elem, "name", &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	s = json_object_get_string(v);
	if ((size_t)json_object_get_string_len(v) != strlen(s) ||
	    !jc_valid_name(s))
		return NULL;
	return s;
}

struct json_object *
jc_member(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	if (!json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

void
jc_check_unknown(struct jc *c, struct json_object *o, const char *parent,
    const char *const *allowed)
{
	struct json_object_iter it;
	char p[JC_KEYPATH_MAX];

	json_object_object_foreachC(o, it) {
		if (jc_list_contains(allowed, it.key))
			continue;
		jc_path_key(p, sizeof(p), parent, it.key);
		jc_problem(c, p, NULL, "unknown key");
	}
}

const char *
jc_str_value(struct jc *c, const char *p, struct json_object *v)
{
	const char *s;

	if (v == NULL) {
		jc_problem(c, p, NULL, "must be a string (null)");
		return NULL;
	}
	if (!json_object_is_type(v, json_type_string)) {
		jc_problem(c, p, jc_jvis(v), "must be a string");
		return NULL;
	}
	s = json_object_get_string(v);
	if (json_object_get_string_len(v) == 0) {
		jc_problem(c, p, NULL, "must not be empty");
		return NULL;
	}
	if ((size_t)json_object_get_string_len(v) != strlen(s) ||
	    jc_has_cntrl(s)) {
		jc_problem(c, p, s, "must not contain control characters");
		return NULL;
	}
	return s;
}

int
jc_get_int(struct jc *c, struct json_object *o, const char *parent,
    const char *key, int def, int min, int max)
{
	struct json_object *v = jc_member(o, key);
	char p[JC_KEYPATH_MAX];
	int64_t n;

	if (v == NULL)
		return def;
	jc_path_key(p, sizeof(p), parent, key);
	if (!json_object_is_type(v, json_type_int)) {
		jc_problem(c, p, jc_jvis(v), "must be an integer");
		return def;
	}
	n = json_object_get_int64(v);
	if (n < min || n > max) {
		jc_problem(c, p, jc_jvis(v), "must be %d..%d", min, max);
		return def;
	}
	return (int)n;
}
