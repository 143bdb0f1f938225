/*
 * access.c: whether a live session may go on under a reloaded
 * configuration (see access.h).  Trusts the configuration given.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bastion/access.h"
#include "common/config.h"

static int
identity_has_key(const struct cfg_identity *id, const char *type,
    const char *b64)
{
	size_t i;

	for (i = 0; i < id->nkeys; i++)
		if (strcmp(id->keys[i].type, type) == 0 &&
		    strcmp(id->keys[i].blob_b64, b64) == 0)
			return 1;
	return 0;
}

int
access_recheck(const struct cfg *cfg, const struct access_grant *g,
    const struct cfg_identity **idp, const struct cfg_target **tp,
    char *why, size_t len)
{
	const struct cfg_identity *id;
	const struct cfg_target *t = NULL;
	char *fp;

	*idp = NULL;
	*tp = NULL;
	if ((id = cfg_find_identity(cfg, g->identity)) == NULL) {
		snprintf(why, len, "identity \"%s\" was removed from the "
		    "configuration", g->identity);
		return -1;
	}
	if (!identity_has_key(id, g->key_type, g->key_b64)) {
		fp = cfg_key_fingerprint(g->key_b64);
		snprintf(why, len, "key %s %s was removed from identity \"%s\"",
		    g->key_type, fp != NULL ? fp : "?", g->identity);
		free(fp);
		return -1;
	}
	if (g->target != NULL) {
		if ((t = cfg_find_target(cfg, g->target)) == NULL) {
			snprintf(why, len, "target \"%s\" was removed from the "
			    "configuration", g->target);
			return -1;
		}
		if (!cfg_target_allows(t, id)) {
			snprintf(why, len, "identity \"%s\" may no longer use "
			    "target \"%s\"", id->name, t->name);
			return -1;
		}
		if (g->target_user != NULL &&
		    !cfg_target_has_user(t, g->target_user)) {
			snprintf(why, len, "user \"%s\" is no longer allowed on "
			    "target \"%s\"", g->target_user, t->name);
			return -1;
		}
	}
	*idp = id;
	*tp = t;
	return 0;
}
