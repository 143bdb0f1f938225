/*
 * ctl-policies.c: "bastionctl policies [VERSION]": the policy versions
 * the bastion decided with (table policies: put in force at start or on
 * SIGHUP), from the database opened read-only.  Without an argument a
 * table, oldest first; with a version (its SHA-256, or a unique prefix of
 * at least 6 hex digits, as `replay --decisions` and the log print it)
 * that policy's JSON.  Each row is checked against its name: a text that
 * no longer hashes to its sha256 is reported, and the exit status is 1.
 * Trusts nothing it reads (printed through ctl_safe(), or as JSON).
 */
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "recorder/recorder.h"
#include "tools/ctl.h"

static const struct ctl_opt policies_opts[] = {
	{ NULL, 0 }
};

static int
row_ok(struct json_object *p)
{
	struct json_object *v;

	return json_object_object_get_ex(p, "text_matches_sha256", &v) &&
	    json_object_get_boolean(v);
}

/* The version named by prefix: 0 and *out, or an error (printed). */
static int
find_version(struct ctl_ctx *ctx, struct json_object *arr, const char *prefix,
    struct json_object **out)
{
	struct json_object *p, *found = NULL;
	size_t i, n = json_object_array_length(arr), len = strlen(prefix);
	const char *sha;
	char safe[128];
	int matches = 0;

	if (len < 6 || len > 64 || strspn(prefix, "0123456789abcdef") != len)
		return ctl_usage_error(ctx, "%s: not a policy version (6 to 64 "
		    "lowercase hex digits of its SHA-256)",
		    ctl_safe(prefix, safe, sizeof(safe)));
	for (i = 0; i < n; i++) {
		p = json_object_array_get_idx(arr, i);
		sha = ctl_jstr(p, "sha256");
		if (sha != NULL && strncmp(sha, prefix, len) == 0) {
			found = p;
			matches++;
		}
	}
	if (matches == 0)
		return ctl_error("no policy version %s in the database",
		    prefix);
	if (matches > 1)
		return ctl_error("%s names %d policy versions: give more digits",
		    prefix, matches);
	*out = found;
	return 0;
}

static int
policies_fn(struct ctl_ctx *ctx)
{
	static const char *const heads[] = { "VERSION", "FIRST IN FORCE (UTC)",
	    "LAST PUT IN FORCE", ">RULES", "SOURCE", "CHECK" };
	struct json_object *arr = NULL, *p = NULL, *pol, *rules;
	struct ctl_table *t;
	struct rec *rec;
	char ver[16], first[32], last[32], nrules[16], src[512];
	const char *cells[6], *s;
	int64_t us;
	size_t i, n;
	int r, bad = 0;

	if (ctx->nargs > 1)
		return ctl_usage_error(ctx, "at most one policy version");
	if ((r = ctl_db(ctx, &rec)) != 0)
		return r;
	if (rec_policy_list(rec, &arr) != 0)
		return ctl_error("cannot read the policy versions");
	n = json_object_array_length(arr);
	if (ctx->nargs == 1) {
		if ((r = find_version(ctx, arr, ctx->args[0], &p)) != 0) {
			json_object_put(arr);
			return r;
		}
		bad = !row_ok(p);
		if (bad)
			fprintf(stderr, "bastionctl: policy %s: its text does "
			    "not hash to its version: edited after it was "
			    "recorded\n", ctl_jstr(p, "sha256"));
		if (ctx->json)
			ctl_print_json(p);
		else if (json_object_object_get_ex(p, "policy", &pol))
			printf("%s\n", json_object_to_json_string_ext(pol,
			    JSON_C_TO_STRING_PRETTY |
			    JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(arr);
		return bad ? CTL_EXIT_FAIL : CTL_EXIT_OK;
	}
	for (i = 0; i < n; i++)
		bad |= !row_ok(json_object_array_get_idx(arr, i));
	if (ctx->json) {
		ctl_print_json(arr);
		json_object_put(arr);
		return bad ? CTL_EXIT_FAIL : CTL_EXIT_OK;
	}
	t = ctl_table_new(6, heads);
	for (i = 0; i < n; i++) {
		p = json_object_array_get_idx(arr, i);
		s = ctl_jstr(p, "sha256");
		snprintf(ver, sizeof(ver), "%.12s", s != NULL ? s : "");
		us = 0;
		ctl_jint(p, "first_loaded_us", &us);
		ctl_fmt_time(us, first, sizeof(first));
		us = 0;
		ctl_jint(p, "last_loaded_us", &us);
		ctl_fmt_time(us, last, sizeof(last));
		if (json_object_object_get_ex(p, "policy", &pol) &&
		    json_object_object_get_ex(pol, "rules", &rules) &&
		    json_object_is_type(rules, json_type_array))
			snprintf(nrules, sizeof(nrules), "%zu",
			    json_object_array_length(rules));
		else
			snprintf(nrules, sizeof(nrules), "0");
		cells[0] = ver;
		cells[1] = first;
		cells[2] = last;
		cells[3] = nrules;
		cells[4] = ctl_safe(ctl_jstr(p, "source"), src, sizeof(src));
		cells[5] = row_ok(p) ? "ok" : "EDITED";
		ctl_table_add(t, cells);
	}
	if (n == 0)
		fprintf(stderr, "bastionctl: no policy versions recorded (a "
		    "database from before they were)\n");
	else
		ctl_table_print(t);
	ctl_table_free(t);
	json_object_put(arr);
	return bad ? CTL_EXIT_FAIL : CTL_EXIT_OK;
}

const struct ctl_cmd ctl_policies_entry = {
	"policies",
	"[VERSION]",
	"The policy versions the bastion has decided with, oldest first: the\n"
	"first 12 digits of each one's SHA-256 (what the log, replay\n"
	"--decisions and every recorded decision's policy_sha256 name), when\n"
	"it was first and last put in force (at start or on SIGHUP), its\n"
	"number of rules, the file it came from, and whether its stored text\n"
	"still hashes to its version (\"EDITED\" if not: exit status 1).\n"
	"With VERSION (6 or more hex digits): that policy's JSON.\n"
	"  --json           the versions (or the one) as JSON\n",
	policies_opts,
	policies_fn,
};
