/*
 * config-channels.c: "http", "slack", "teams", "webhooks" and
 * approvers[].slack_user (see config-channels.h and the README's
 * configuration reference).
 *
 * Trusts the file to be the operator's, like config.c, but treats the
 * secrets in it (bot token, signing secret, webhook secrets, the Teams
 * URL, which carries its own signature) as secrets: a problem with one is
 * reported by key only, never with the value.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "common/config.h"
#include "common/config-channels.h"
#include "common/jcheck.h"
#include "common/tlscert.h"
#include "common/util.h"

#define URL_MAX		2048
#define SLACK_ID_MAX	32

static const char *const http_keys[] = { "listen", "public_url", "tls_cert",
	"tls_key", NULL };
static const char *const slack_keys[] = {
	"api_url", "bot_token", "bot_token_env", "signing_secret",
	"signing_secret_env", "channel", NULL
};
static const char *const teams_keys[] = {
	"webhook_url", "webhook_url_env", NULL
};
static const char *const webhook_keys[] = { "url", "secret", "secret_env",
	NULL };

/* http(s)://, printable ASCII without spaces, quotes, <, >, |, \ or `. */
static int
valid_url(const char *s)
{
	size_t i;

	if (strncmp(s, "https://", 8) != 0 && strncmp(s, "http://", 7) != 0)
		return 0;
	if (strlen(s) <= (s[4] == 's' ? 8u : 7u))
		return 0;
	for (i = 0; s[i] != '\0'; i++) {
		if (i >= URL_MAX || s[i] <= 0x20 || s[i] >= 0x7f ||
		    strchr("\"'<>|\\`", s[i]) != NULL)
			return 0;
	}
	return 1;
}

/* Slack ids: U024BE7LH, C0123456. */
static int
valid_slack_id(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= SLACK_ID_MAX &&
	    s[strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")] == '\0';
}

static struct json_object *
get_object(struct jc *jc, struct json_object *root, const char *key)
{
	struct json_object *o = jc_member(root, key);

	if (o != NULL && !json_object_is_type(o, json_type_object)) {
		jc_problem(jc, key, jc_jvis(o), "must be an object");
		return NULL;
	}
	return o;
}

/* A plain string member copied (NULL if absent or wrong). */
static char *
get_plain(struct jc *jc, struct json_object *o, const char *parent,
    const char *key, int required)
{
	struct json_object *v = jc_member(o, key);
	char p[JC_KEYPATH_MAX];
	const char *s;

	jc_path_key(p, sizeof(p), parent, key);
	if (v == NULL) {
		if (required)
			jc_problem(jc, p, NULL, "is required");
		return NULL;
	}
	if ((s = jc_str_value(jc, p, v)) == NULL)
		return NULL;
	return xstrdup(s);
}

static char *
get_url(struct jc *jc, struct json_object *o, const char *parent,
    const char *key, int required)
{
	char *s = get_plain(jc, o, parent, key, required), p[JC_KEYPATH_MAX];

	if (s != NULL && !valid_url(s)) {
		jc_path_key(p, sizeof(p), parent, key);
		jc_problem(jc, p, s, "must be an http:// or https:// URL "
		    "without spaces, quotes, <, >, | or backslashes");
		free(s);
		return NULL;
	}
	return s;
}

/*
 * A secret given either inline (key) or through the environment
 * (key_env, a variable name); exactly one of them, unless optional.
 * is_url: the secret is a URL (Teams) and must look like one.
 */
static char *
get_secret(struct jc *jc, struct json_object *o, const char *parent,
    const char *key, int flags, int is_url)
{
	struct json_object *v = jc_member(o, key), *ev;
	char p[JC_KEYPATH_MAX], ekey[64], *out = NULL;
	const char *s = NULL, *name;

	snprintf(ekey, sizeof(ekey), "%s_env", key);
	ev = jc_member(o, ekey);
	if ((v == NULL) == (ev == NULL)) {
		jc_path_key(p, sizeof(p), parent, key);
		jc_problem(jc, p, NULL, v == NULL ? "is required (or %s)" :
		    "give it inline or through %s, not both", ekey);
		return NULL;
	}
	if (v != NULL) {
		jc_path_key(p, sizeof(p), parent, key);
		if (!json_object_is_type(v, json_type_string) ||
		    json_object_get_string_len(v) == 0 ||
		    (size_t)json_object_get_string_len(v) !=
		    strlen(json_object_get_string(v)) ||
		    jc_has_cntrl(json_object_get_string(v))) {
			jc_problem(jc, p, NULL, "must be a non-empty string "
			    "without control characters (value not shown: "
			    "it is a secret)");
			return NULL;
		}
		s = json_object_get_string(v);
	} else {
		jc_path_key(p, sizeof(p), parent, ekey);
		if ((name = jc_str_value(jc, p, ev)) == NULL)
			return NULL;
		if (flags & CFG_PATHS_ONLY)
			return NULL;	/* bastionctl: not needed */
		s = getenv(name);
		if (s == NULL || *s == '\0' || jc_has_cntrl(s)) {
			jc_problem(jc, p, name, "the environment variable is "
			    "%s", s == NULL || *s == '\0' ? "not set or empty" :
			    "not a valid value (control characters)");
			return NULL;
		}
	}
	if (is_url && !valid_url(s)) {
		jc_problem(jc, p, NULL, "must be an http:// or https:// URL "
		    "(value not shown: it is a secret)");
		return NULL;
	}
	out = xstrdup(s);
	return out;
}

/*
 * http.tls_cert and http.tls_key: both or neither; paths from the
 * config's folder; checked (parsed, matched) unless CFG_PATHS_ONLY.
 */
static void
load_http_tls(struct jc *jc, struct json_object *o, int flags,
    struct cfg *cfg)
{
	struct tls_pem pem;
	char *s, *why;
	int r, has_cert, has_key;

	if ((s = get_plain(jc, o, "http", "tls_cert", 0)) != NULL) {
		cfg->http_tls_cert = cfg_resolve_path(cfg, s);
		free(s);
	}
	if ((s = get_plain(jc, o, "http", "tls_key", 0)) != NULL) {
		cfg->http_tls_key = cfg_resolve_path(cfg, s);
		free(s);
	}
	has_cert = json_object_object_get_ex(o, "tls_cert", NULL);
	has_key = json_object_object_get_ex(o, "tls_key", NULL);
	if (has_cert != has_key)
		jc_problem(jc, has_cert ? "http.tls_key" : "http.tls_cert",
		    NULL, "is required with %s", has_cert ? "http.tls_cert" :
		    "http.tls_key");
	if (cfg->http_tls_cert == NULL || cfg->http_tls_key == NULL ||
	    (flags & CFG_PATHS_ONLY))
		return;
	if ((r = tls_pem_load(cfg->http_tls_cert, cfg->http_tls_key, &pem,
	    &why)) != 0) {
		jc_problem(jc, r == TLS_PEM_CERT ? "http.tls_cert" :
		    "http.tls_key", r == TLS_PEM_CERT ? cfg->http_tls_cert :
		    cfg->http_tls_key, "%s", why);
		free(why);
		return;
	}
	tls_pem_free(&pem);
}

static void
load_http(struct jc *jc, struct json_object *root, int flags,
    struct cfg *cfg)
{
	struct json_object *o = get_object(jc, root, "http");
	const char *why, *scheme;
	char *s;
	size_t n;

	if (o == NULL)
		return;
	jc_check_unknown(jc, o, "http", http_keys);
	if ((s = get_plain(jc, o, "http", "listen", 1)) != NULL) {
		if ((why = cfg_parse_listen(s, &cfg->http_host,
		    &cfg->http_port)) != NULL)
			jc_problem(jc, "http.listen", s, "%s", why);
		free(s);
	}
	load_http_tls(jc, o, flags, cfg);
	scheme = cfg->http_tls_cert != NULL ? "https" : "http";
	cfg->public_url = get_url(jc, o, "http", "public_url", 0);
	if (cfg->public_url == NULL && cfg->http_host != NULL)
		cfg->public_url = strchr(cfg->http_host, ':') != NULL ?
		    xasprintf("%s://[%s]:%d", scheme, cfg->http_host,
		    cfg->http_port) : xasprintf("%s://%s:%d", scheme,
		    cfg->http_host, cfg->http_port);
	if (cfg->public_url != NULL) {
		n = strlen(cfg->public_url);
		while (n > 0 && cfg->public_url[n - 1] == '/')
			cfg->public_url[--n] = '\0';
	}
}

static void
load_slack(struct jc *jc, struct json_object *root, int flags,
    struct cfg *cfg)
{
	struct json_object *o = get_object(jc, root, "slack");
	struct cfg_slack *sl;
	size_t n;

	if (o == NULL)
		return;
	jc_check_unknown(jc, o, "slack", slack_keys);
	sl = cfg->slack = xcalloc(1, sizeof(*sl));
	sl->api_url = get_url(jc, o, "slack", "api_url", 0);
	if (sl->api_url == NULL)
		sl->api_url = xstrdup("https://slack.com/api");
	n = strlen(sl->api_url);
	while (n > 0 && sl->api_url[n - 1] == '/')
		sl->api_url[--n] = '\0';
	sl->bot_token = get_secret(jc, o, "slack", "bot_token", flags, 0);
	sl->signing_secret = get_secret(jc, o, "slack", "signing_secret",
	    flags, 0);
	if ((sl->channel = get_plain(jc, o, "slack", "channel", 1)) != NULL &&
	    !valid_slack_id(sl->channel)) {
		jc_problem(jc, "slack.channel", sl->channel, "must be a "
		    "channel id (C0123456: in Slack, the channel's details "
		    "show it), not a name");
		free(sl->channel);
		sl->channel = NULL;
	}
	if (jc_member(root, "http") == NULL)
		jc_problem(jc, "slack", NULL, "needs \"http\": button clicks "
		    "arrive at POST /slack/actions on the HTTP listener");
}

static void
load_teams(struct jc *jc, struct json_object *root, int flags,
    struct cfg *cfg)
{
	struct json_object *o = get_object(jc, root, "teams");

	if (o == NULL)
		return;
	jc_check_unknown(jc, o, "teams", teams_keys);
	cfg->teams_url = get_secret(jc, o, "teams", "webhook_url", flags, 1);
	if (jc_member(root, "http") == NULL)
		jc_problem(jc, "teams", NULL, "needs \"http\": the card links "
		    "to the review page on the HTTP listener");
}

static void
load_webhooks(struct jc *jc, struct json_object *root, int flags,
    struct cfg *cfg)
{
	struct json_object *arr = jc_member(root, "webhooks"), *o;
	char p[JC_KEYPATH_MAX];
	size_t i, n;

	if (arr == NULL)
		return;
	if (!json_object_is_type(arr, json_type_array)) {
		jc_problem(jc, "webhooks", jc_jvis(arr), "must be an array");
		return;
	}
	n = json_object_array_length(arr);
	cfg->webhooks = xcalloc(n ? n : 1, sizeof(*cfg->webhooks));
	cfg->nwebhooks = n;
	for (i = 0; i < n; i++) {
		o = json_object_array_get_idx(arr, i);
		jc_pathf(p, sizeof(p), "webhooks[%zu]", i);
		if (o == NULL || !json_object_is_type(o, json_type_object)) {
			jc_problem(jc, p, jc_jvis(o), "must be an object");
			continue;
		}
		jc_check_unknown(jc, o, p, webhook_keys);
		cfg->webhooks[i].url = get_url(jc, o, p, "url", 1);
		cfg->webhooks[i].secret = get_secret(jc, o, p, "secret", flags,
		    0);
	}
}

static void
check_slack_users(struct jc *jc, struct cfg *cfg)
{
	char p[JC_KEYPATH_MAX];
	size_t i, j;

	for (i = 0; i < cfg->napprovers; i++) {
		struct cfg_approver *a = &cfg->approvers[i];

		if (a->slack_user == NULL)
			continue;
		if (a->name != NULL)
			jc_pathf(p, sizeof(p), "approvers[%zu] \"%s\".slack_user",
			    i, a->name);
		else
			jc_pathf(p, sizeof(p), "approvers[%zu].slack_user", i);
		if (!valid_slack_id(a->slack_user)) {
			jc_problem(jc, p, a->slack_user, "must be a Slack "
			    "user id (U024BE7LH)");
			continue;
		}
		for (j = 0; j < i; j++)
			if (cfg->approvers[j].slack_user != NULL &&
			    strcmp(cfg->approvers[j].slack_user,
			    a->slack_user) == 0)
				jc_problem(jc, p, a->slack_user, "is also "
				    "approvers[%zu]'s: one Slack user is one "
				    "approver", j);
	}
}

void
cfg_load_channels(struct jc *jc, struct json_object *root, int flags,
    struct cfg *cfg)
{
	load_http(jc, root, flags, cfg);
	load_slack(jc, root, flags, cfg);
	load_teams(jc, root, flags, cfg);
	load_webhooks(jc, root, flags, cfg);
	check_slack_users(jc, cfg);
}

static void
free_secret(char *s)
{
	if (s != NULL)
		freezero(s, strlen(s));
}

void
cfg_free_channels(struct cfg *cfg)
{
	size_t i;

	free(cfg->http_host);
	free(cfg->public_url);
	free(cfg->http_tls_cert);
	free(cfg->http_tls_key);
	if (cfg->slack != NULL) {
		free(cfg->slack->api_url);
		free_secret(cfg->slack->bot_token);
		free_secret(cfg->slack->signing_secret);
		free(cfg->slack->channel);
		free(cfg->slack);
	}
	free_secret(cfg->teams_url);
	for (i = 0; i < cfg->nwebhooks; i++) {
		free(cfg->webhooks[i].url);
		free_secret(cfg->webhooks[i].secret);
	}
	free(cfg->webhooks);
}

const struct cfg_approver *
cfg_find_approver_by_slack(const struct cfg *cfg, const char *slack_user)
{
	size_t i;

	if (slack_user == NULL || *slack_user == '\0')
		return NULL;
	for (i = 0; i < cfg->napprovers; i++)
		if (cfg->approvers[i].slack_user != NULL &&
		    strcmp(cfg->approvers[i].slack_user, slack_user) == 0)
			return &cfg->approvers[i];
	return NULL;
}
