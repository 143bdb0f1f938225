/*
 * cfg_gen.h: one loaded configuration and who still points into it.
 *
 * SIGHUP replaces the monitor's configuration while sessions run.  A
 * session whose access still holds is moved to the new one; a session
 * being ended because its access was revoked keeps pointing into the old
 * one (its identity, its target) until its worker is gone.  Each such
 * generation is counted: the monitor holds one reference to the current
 * generation and each worker one to its own; the last unref frees it.
 *
 * Trusts its callers to pair ref and unref.
 */
#ifndef BST_CFG_GEN_H
#define BST_CFG_GEN_H

struct cfg;

struct cfg_gen {
	struct cfg	*cfg;
	int		 refs;
	int		 owned;		/* cfg_free() with the last reference */
};

/* A generation with one reference.  owned=0: the caller frees cfg. */
struct cfg_gen *cfg_gen_new(struct cfg *cfg, int owned);
struct cfg_gen *cfg_gen_ref(struct cfg_gen *g);
void cfg_gen_unref(struct cfg_gen *g);	/* NULL ok */

#endif
