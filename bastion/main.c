/*
 * main.c: entry point of build/bastion, the monitor daemon.
 *
 *   bastion -f CONFIG [-d]   run in the foreground, logs on stderr
 *   bastion -t -f CONFIG     check the configuration and exit
 *
 * Trusts its command line (the operator's).
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bastion/monitor.h"
#include "common/config.h"
#include "common/err.h"
#include "common/log.h"
#include "common/util.h"

static void
usage(FILE *f)
{
	fprintf(f, "usage: bastion [-d] [-t] -f CONFIG\n"
	    "  -f CONFIG  configuration file (JSON)\n"
	    "  -t         check the configuration and exit\n"
	    "  -d         debug logging\n");
}

/* The worker binary: configured, or "bastion-session" beside us. */
static char *
session_binary(const struct cfg *cfg)
{
	char self[PATH_MAX];
	ssize_t n;

	if (cfg->session_binary != NULL)
		return xstrdup(cfg->session_binary);
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return xstrdup("/usr/local/libexec/bastion-session");
	self[n] = '\0';
	return xasprintf("%s/bastion-session", dirname(self));
}

int
main(int argc, char **argv)
{
	const char *path = NULL;
	struct cfg *cfg = NULL;
	char *cause = NULL, *bin;
	int ch, test = 0, debug = 0, r;

	while ((ch = getopt(argc, argv, "df:th")) != -1) {
		switch (ch) {
		case 'd':
			debug = 1;
			break;
		case 'f':
			path = optarg;
			break;
		case 't':
			test = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (path == NULL || optind != argc) {
		usage(stderr);
		return 2;
	}
	log_init("bastion", debug ? LOG_LVL_DEBUG : LOG_LVL_INFO);
	if ((r = cfg_load(path, &cfg, &cause)) != 0) {
		if (test)
			fprintf(stderr, "%s\n", cause ? cause :
			    bst_strerror(r));
		else
			log_error("%s", cause ? cause : bst_strerror(r));
		free(cause);
		return 1;
	}
	if (test) {
		printf("configuration OK: %s (%zu identities, %zu targets, "
		    "%zu approvers)\n", cfg->path, cfg->nidentities,
		    cfg->ntargets, cfg->napprovers);
		cfg_free(cfg);
		return 0;
	}
	bin = session_binary(cfg);
	r = monitor_run(cfg, bin, debug);
	free(bin);
	cfg_free(cfg);
	return r;
}
