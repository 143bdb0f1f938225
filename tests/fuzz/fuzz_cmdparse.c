/*
 * fuzz_cmdparse.c: libFuzzer harness for policy/cmdparse.c, the parser
 * of the command strings agents send: parse, describe, check the result's
 * invariants, free.  Any byte string is valid input.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -std=c11 \
 *       -D_GNU_SOURCE -I. tests/fuzz/fuzz_cmdparse.c policy/cmdparse*.c \
 *       common/util.c common/log.c common/err.c -o build-fuzz/fuzz_cmdparse
 *   ./build-fuzz/fuzz_cmdparse -max_total_time=300 [seed-dir]
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/cmdparse.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pc_result *r;
	char *d;
	size_t i, j;

	r = pc_parse((const char *)data, size);
	if (r == NULL)
		abort();
	d = pc_result_describe(r);
	if (d == NULL)
		abort();
	if ((r->error == 0) != (r->error_msg == NULL))
		abort();
	if (r->error != 0 && (r->ncmds != 0 || r->nwrites != 0))
		abort();
	for (i = 0; i < r->ncmds; i++) {
		const struct pc_command *c = &r->cmds[i];

		if (c->argc == 0 || c->argv[c->argc] != NULL)
			abort();
		for (j = 0; j < c->argc; j++)
			if (c->argv[j] == NULL)
				abort();
		if (c->opaque ? c->opaque_reason == NULL : c->name == NULL)
			abort();
		if (c->depth < 0 || c->depth > 16 || (c->depth == 0) !=
		    (c->via == NULL))
			abort();
	}
	for (i = 0; i < r->nwrites; i++)
		if ((r->writes[i].path == NULL) != (r->writes[i].opaque != 0))
			abort();
	free(d);
	pc_result_free(r);
	return 0;
}
