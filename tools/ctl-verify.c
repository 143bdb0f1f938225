/*
 * ctl-verify.c: "bastionctl verify ID... | --all [--key FILE]": recomputes
 * the hash chain of sessions (rec_verify_session) on the database opened
 * read-only and says, per session, OK or TAMPERED with the cause.  Seal
 * signatures are checked with --key, else the config's seal_public_key,
 * else its seal_key when readable.  Exit status 1 if any session does
 * not verify.  Trusts nothing it reads.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "common/config.h"
#include "common/err.h"
#include "recorder/recorder.h"
#include "tools/ctl.h"

static const struct ctl_opt verify_opts[] = {
	{ "--all", 0 },
	{ "--key", 1 },
	{ NULL, 0 }
};

/*
 * Sets the key seals are checked with, if there is one.  Without --key,
 * a config whose seal key this user cannot read and that names no
 * seal_public_key gets a note: not checked.
 */
static int
seal_key(struct ctl_ctx *ctx, struct rec *rec)
{
	const struct cfg *cfg = NULL;
	const char *path = ctl_opt_value(ctx, "--key");
	char *cause = NULL;
	int r;

	if (path == NULL && ctx->db_path == NULL) {
		if ((r = ctl_config(ctx, &cfg)) != 0)
			return r;
		if (cfg->seal_public_key != NULL)
			path = cfg->seal_public_key;
		else if (cfg->seal_key != NULL) {
			if (access(cfg->seal_key, R_OK) != 0) {
				fprintf(stderr, "bastionctl: seal signatures "
				    "not checked: cannot read seal_key %s (set "
				    "seal_public_key, or pass --key)\n",
				    cfg->seal_key);
				return 0;
			}
			path = cfg->seal_key;
		}
	}
	if (path == NULL)
		return 0;
	if (rec_set_seal_public_key(rec, path, &cause) != 0) {
		r = ctl_error("seal key: %s", cause ? cause : path);
		free(cause);
		return r;
	}
	return 0;
}

/*
 * Verifies one session whose row (list fields) is s; prints the result,
 * or appends it to out with --json.  Returns 0 (OK), 1 (tampered) or 2
 * (could not read; message printed).
 */
static int
verify_one(struct ctl_ctx *ctx, struct rec *rec, int64_t sid,
    struct json_object *s, struct json_object *out)
{
	struct json_object *o;
	char *cause = NULL, buf[1024];
	int64_t events = 0;
	int r, ok, live, flags = 0;

	r = rec_verify_session(rec, sid, &flags, &cause);
	if (r != 0 && r != BST_ERR_TAMPERED) {
		ctl_error("verifying session %lld: %s", (long long)sid,
		    bst_strerror(r));
		free(cause);
		return 2;
	}
	ok = r == 0;
	ctl_jint(s, "events", &events);
	live = (flags & REC_VERIFY_LIVE) != 0;
	if (ctx->json) {
		o = json_object_new_object();
		json_object_object_add(o, "id", json_object_new_int64(sid));
		json_object_object_add(o, "ok", json_object_new_boolean(ok));
		json_object_object_add(o, "events",
		    json_object_new_int64(events));
		/* As the row says; "ok" says whether to believe it. */
		json_object_object_add(o, "sealed", json_object_new_boolean(
		    json_object_get_boolean(json_object_object_get(s,
		    "sealed"))));
		/* When not ok, "cause" says why (the signature, perhaps). */
		json_object_object_add(o, "signature", !ok ? NULL :
		    json_object_new_string((flags & REC_VERIFY_SIGNED) ? "ok" :
		    (flags & REC_VERIFY_BEFORE_KEY) ? "before-key" :
		    "unchecked"));
		json_object_object_add(o, "cause",
		    ok ? NULL : json_object_new_string(cause ? cause : ""));
		json_object_array_add(out, o);
	} else if (ok)
		printf("session %lld: OK (%lld events, %s)\n", (long long)sid,
		    (long long)events, live ? "not sealed" :
		    (flags & REC_VERIFY_SIGNED) ? "sealed, signature OK" :
		    (flags & REC_VERIFY_BEFORE_KEY) ? "sealed before the seal "
		    "key was in use: not signed" : "sealed");
	else
		printf("session %lld: TAMPERED: %s\n", (long long)sid,
		    ctl_safe(cause ? cause : "?", buf, sizeof(buf)));
	free(cause);
	return ok ? 0 : 1;
}

static int
verify_fn(struct ctl_ctx *ctx)
{
	struct json_object *list = NULL, *s = NULL, *out = NULL;
	struct rec *rec;
	int64_t sid, *ids = NULL;
	size_t i, n = 0;
	int r, all = ctl_opt_given(ctx, "--all"), bad = 0, failed = 0;

	if (all && ctx->nargs > 0)
		return ctl_usage_error(ctx, "either session ids or --all");
	if (!all && ctx->nargs == 0)
		return ctl_usage_error(ctx, "a session id (or --all) is "
		    "needed");
	ids = calloc((size_t)ctx->nargs + 1, sizeof(*ids));
	if (ids == NULL)
		return ctl_error("out of memory");
	for (i = 0; i < (size_t)ctx->nargs; i++) {
		if ((r = ctl_parse_sid(ctx, ctx->args[i], &ids[i])) != 0)
			goto out;
	}
	if ((r = ctl_db(ctx, &rec)) != 0 ||
	    (r = seal_key(ctx, rec)) != 0)
		goto out;
	if (ctx->json)
		out = json_object_new_array();
	if (all) {
		if ((r = rec_list_sessions(rec, 0, &list)) != 0) {
			r = ctl_error("listing sessions: %s", bst_strerror(r));
			goto out;
		}
		/* Oldest first reads better. */
		n = json_object_array_length(list);
		for (i = n; i > 0; i--) {
			s = json_object_array_get_idx(list, i - 1);
			if (ctl_jint(s, "id", &sid) != 0)
				continue;
			if ((r = verify_one(ctx, rec, sid, s, out)) == 1)
				bad++;
			else if (r != 0)
				failed++;
		}
		if (n == 0 && !ctx->json)
			printf("no recorded sessions\n");
	} else {
		for (i = 0; i < (size_t)ctx->nargs; i++) {
			r = rec_show_session(rec, ids[i], &s);
			if (r == BST_ERR_NOTFOUND) {
				ctl_error("no session %lld",
				    (long long)ids[i]);
				failed++;
				continue;
			} else if (r != 0) {
				ctl_error("reading session %lld: %s",
				    (long long)ids[i], bst_strerror(r));
				failed++;
				continue;
			}
			if ((r = verify_one(ctx, rec, ids[i], s, out)) == 1)
				bad++;
			else if (r != 0)
				failed++;
			json_object_put(s);
			s = NULL;
		}
	}
	if (ctx->json)
		ctl_print_json(out);
	else if (all && n > 1)
		printf("%zu sessions: %zu OK, %zu TAMPERED%s\n", n,
		    n - (size_t)bad - (size_t)failed, (size_t)bad,
		    failed ? ", some could not be read" : "");
	r = bad || failed ? CTL_EXIT_FAIL : CTL_EXIT_OK;
 out:
	json_object_put(out);
	json_object_put(list);
	free(ids);
	return r;
}

const struct ctl_cmd ctl_verify_entry = {
	"verify",
	"ID... | --all [--key FILE]",
	"Recomputes each session's hash chain from its stored events and\n"
	"checks the session row (identity, target, counters, end, final hash)\n"
	"against it.  Prints \"session ID: OK (N events, sealed)\" or\n"
	"\"session ID: TAMPERED: <cause>\"; a live session verifies up to its\n"
	"last committed event (\"not sealed\").  With a seal key each seal's\n"
	"Ed25519 signature is checked too (\"sealed, signature OK\"): a\n"
	"missing or wrong signature is TAMPERED, except on sessions sealed\n"
	"before the key was first used.  Exit status 1 if any fails.\n"
	"\n"
	"  --all       every session in the database, then a count\n"
	"  --key FILE  the seal key to check with (public or private PEM);\n"
	"              default: the config's seal_public_key, else its\n"
	"              seal_key if readable\n"
	"  --json      a JSON array of {\"id\",\"ok\",\"events\",\"sealed\",\n"
	"              \"signature\" (ok, before-key, unchecked; null when\n"
	"              not ok),\"cause\"}\n",
	verify_opts,
	verify_fn,
};
