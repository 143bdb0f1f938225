/*
 * fuzz_config.c: libFuzzer harness for the config loader (common/config.c)
 * and the policy compiler it feeds (policy/policy.c).  The input is the
 * config file's text.  Whatever it holds, loading must not crash, leak or
 * hang; a refused config must come with a cause whose every line names
 * a file (the config, or a policy file it names) and holds no control
 * characters (operators read it on a terminal: the loader promises
 * sanitized quotes); an accepted config's
 * policy goes through policy_load_at() under the same rules.
 *
 * Key files are not opened (CFG_PATHS_ONLY, as bastionctl loads it); the
 * folder holds a second JSON file, "p.json", that a "policy" key may name.
 *
 *   make fuzz && ./build-fuzz/fuzz_config -max_total_time=60
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"
#include "policy/policy.h"

static char dir[] = "/tmp/fuzz_config.XXXXXX";
static char path[sizeof(dir) + 16];

static void
put(const char *name, const void *data, size_t len)
{
	char p[sizeof(dir) + 16];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	if ((f = fopen(p, "w")) == NULL ||
	    fwrite(data, 1, len, f) != len || fclose(f) != 0)
		abort();
}

static void
cleanup(void)
{
	char p[sizeof(dir) + 16];

	snprintf(p, sizeof(p), "%s/p.json", dir);
	unlink(p);
	unlink(path);
	rmdir(dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char pol[] =
	    "{\"default\": \"deny\", \"rules\": [{\"name\": \"r\", "
	    "\"match\": {\"commands\": [\"ls\"]}, \"action\": \"allow\"}]}";

	(void)argc; (void)argv;
	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(path, sizeof(path), "%s/bastion.json", dir);
	put("p.json", pol, sizeof(pol) - 1);
	atexit(cleanup);
	return 0;
}

/* Every line of a cause names a file and is free of control bytes. */
static void
check_cause(const char *cause)
{
	const char *line = cause, *nl;
	size_t i, n;

	if (cause == NULL || *cause == '\0')
		abort();
	for (;;) {
		nl = strchr(line, '\n');
		n = nl != NULL ? (size_t)(nl - line) : strlen(line);
		/* "FILE: ...": the config, or a policy file it names */
		if (n > 0 && (line[0] != '/' || memmem(line, n, ": ", 2) ==
		    NULL))
			abort();
		for (i = 0; i < n; i++)
			if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
				abort();
		if (nl == NULL || nl[1] == '\0')
			break;
		line = nl + 1;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cfg *cfg = NULL;
	struct policy *pol = NULL;
	char *cause = NULL;

	put("bastion.json", data, size);
	if (cfg_load_flags(path, CFG_PATHS_ONLY, &cfg, &cause) != 0) {
		if (cfg != NULL)
			abort();
		check_cause(cause);
		free(cause);
		return 0;
	}
	if (cause != NULL)
		abort();
	if (policy_load_at(cfg->policy, cfg->policy_path ? cfg->policy_path :
	    cfg->path, cfg->policy_path ? NULL : "policy", &pol,
	    &cause) != 0) {
		if (pol != NULL)
			abort();
		check_cause(cause);
		free(cause);
	} else
		policy_free(pol);
	cfg_free(cfg);
	return 0;
}
