/*
 * running_policy.c: the policy the monitor decides with, and its version
 * (see running_policy.h).  Trusts the loaded configuration.
 */
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "bastion/running_policy.h"
#include "common/config.h"
#include "common/err.h"
#include "common/hmac.h"
#include "common/util.h"
#include "policy/policy.h"

int
running_policy_load(const struct cfg *cfg, struct running_policy *out,
    char **cause)
{
	struct json_object *rules;
	const char *text;
	int r;

	memset(out, 0, sizeof(*out));
	/* Problems name the policy file, or "policy." keys of the config. */
	if ((r = policy_load_at(cfg->policy, cfg->policy_path ?
	    cfg->policy_path : cfg->path, cfg->policy_path ? NULL : "policy",
	    &out->pol, cause)) != 0)
		return r;
	text = json_object_to_json_string_ext(cfg->policy,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	out->text = xstrdup(text != NULL ? text : "null");
	if (sha256_hex_of(out->text, strlen(out->text), out->sha256) != 0) {
		*cause = xasprintf("cannot hash the policy");
		running_policy_free(out);
		return BST_ERR_INTERNAL;
	}
	out->source = xstrdup(cfg->policy_path != NULL ? cfg->policy_path :
	    cfg->path);
	if (json_object_object_get_ex(cfg->policy, "rules", &rules) &&
	    json_object_is_type(rules, json_type_array))
		out->nrules = json_object_array_length(rules);
	return 0;
}

void
running_policy_free(struct running_policy *rp)
{
	if (rp == NULL)
		return;
	policy_free(rp->pol);
	free(rp->text);
	free(rp->source);
	memset(rp, 0, sizeof(*rp));
}

void
running_policy_subject(struct policy_subject *s, const struct cfg_identity *id,
    const char *target)
{
	memset(s, 0, sizeof(*s));
	s->identity = id->name;
	s->groups = (const char *const *)id->groups;
	s->owner = id->owner;
	s->target = target;
}
