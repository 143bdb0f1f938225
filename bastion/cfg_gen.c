/*
 * cfg_gen.c: reference-counted configuration generations (cfg_gen.h).
 */
#include <stdlib.h>

#include "bastion/cfg_gen.h"
#include "common/config.h"
#include "common/util.h"

struct cfg_gen *
cfg_gen_new(struct cfg *cfg, int owned)
{
	struct cfg_gen *g = xcalloc(1, sizeof(*g));

	g->cfg = cfg;
	g->owned = owned;
	g->refs = 1;
	return g;
}

struct cfg_gen *
cfg_gen_ref(struct cfg_gen *g)
{
	g->refs++;
	return g;
}

void
cfg_gen_unref(struct cfg_gen *g)
{
	if (g == NULL || --g->refs > 0)
		return;
	if (g->owned)
		cfg_free(g->cfg);
	free(g);
}
