/*
 * running_policy.h: the policy the monitor decides with, and its version.
 * Loaded from the configuration at start and again on SIGHUP; the
 * version is the SHA-256 of the policy's JSON (the text stored in the
 * database's `policies` table and named by every recorded decision), so
 * an auditor can tell which policy decided what.
 *
 * Trusts: the configuration (already loaded and checked by config.c); the
 * policy itself is checked by policy_load_at().
 */
#ifndef BST_RUNNING_POLICY_H
#define BST_RUNNING_POLICY_H

#include <stddef.h>
#include <stdint.h>

struct cfg;
struct policy;

struct running_policy {
	struct policy	*pol;
	char		 sha256[65];	/* lowercase hex, of text */
	char		*text;		/* the policy's JSON, compact */
	char		*source;	/* the policy file, or the config file */
	size_t		 nrules;
	int64_t		 in_force_us;	/* put in force (recorded), or 0 */
};

/*
 * Loads and checks cfg's policy.  Returns 0 and fills *out, or an error
 * with *cause (malloc'd: one line per problem, naming the file and key).
 */
int running_policy_load(const struct cfg *cfg, struct running_policy *out,
    char **cause);
void running_policy_free(struct running_policy *rp);

/* Who asks, as the policy sees it: identity id on target (borrowed). */
struct cfg_identity;
struct policy_subject;
void running_policy_subject(struct policy_subject *s,
    const struct cfg_identity *id, const char *target);

#endif
