/*
 * main.c: entry point of build/bastion, the monitor daemon.
 *
 *   bastion -f CONFIG [-d]   run in the foreground, logs on stderr
 *   bastion -t -f CONFIG     check the configuration and exit
 *   bastion -t -f CONFIG --explain 'CMD' --as IDENTITY --target T
 *                            show how CMD is parsed and decided
 *
 * Trusts its command line (the operator's).
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bastion/monitor.h"
#include "bastion/running_policy.h"
#include "policy/cmdparse.h"
#include "policy/policy.h"
#include "common/config.h"
#include "common/err.h"
#include "common/log.h"
#include "common/proctitle.h"
#include "common/util.h"

static void
usage(FILE *f)
{
	fprintf(f, "usage: bastion [-d] [-t] -f CONFIG\n"
	    "       bastion -t -f CONFIG --explain CMD --as IDENTITY "
	    "--target TARGET\n"
	    "  -f CONFIG  configuration file (JSON)\n"
	    "  -t         check the configuration and exit\n"
	    "  -d         debug logging\n"
	    "  --explain  with -t: show the parse of CMD, the rules that "
	    "match and the decision\n"
	    "             (CMD \"shell\" with --shell explains opening a "
	    "shell)\n");
}

/* bastion -t --explain: the parse, every item's rule, the decision. */
static int
explain(const struct cfg *cfg, const struct policy *pol, const char *cmd,
    const char *as, const char *target, int shell)
{
	const struct cfg_identity *id;
	const struct cfg_target *t;
	struct policy_subject subj;
	struct policy_decision *d = NULL;
	struct pc_result *pr = NULL;
	char *text;
	int r;

	if (as == NULL || (id = cfg_find_identity(cfg, as)) == NULL) {
		fprintf(stderr, "bastion: --as: no identity \"%s\" in %s\n",
		    as ? as : "", cfg->path);
		return 1;
	}
	if (target == NULL || (t = cfg_find_target(cfg, target)) == NULL) {
		fprintf(stderr, "bastion: --target: no target \"%s\" in %s\n",
		    target ? target : "", cfg->path);
		return 1;
	}
	running_policy_subject(&subj, id, t->name);
	if (shell)
		r = policy_eval_shell(pol, &subj, &d);
	else {
		pr = pc_parse(cmd, strlen(cmd));
		text = pc_result_describe(pr);
		printf("parse:\n%s", text);
		if (*text != '\0' && text[strlen(text) - 1] != '\n')
			printf("\n");
		free(text);
		r = policy_eval(pol, &subj, pr, &d);
	}
	if (r != 0 || d == NULL) {
		fprintf(stderr, "bastion: cannot evaluate: %s\n",
		    bst_strerror(r));
		pc_result_free(pr);
		return 1;
	}
	text = policy_explain_text(d);
	printf("%s", text);
	free(text);
	policy_decision_free(d);
	pc_result_free(pr);
	return 0;
}

/*
 * A configuration or policy that does not load: with -t the problems go
 * to stderr as they are (one per line), else through the log.  Frees cause.
 */
static void
load_failed(int test, int r, char *cause)
{
	if (test)
		fprintf(stderr, "%s\n", cause ? cause : bst_strerror(r));
	else
		log_error("%s", cause ? cause : bst_strerror(r));
	free(cause);
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

/*
 * The empty folder workers chroot to: created (with its parents) when
 * missing, and checked: a root-owned folder nobody else can write, with
 * nothing in it.  Returns 0, or -1 with the reason logged.
 */
static int
prepare_chroot(const struct cfg *cfg)
{
	char *p = xstrdup(cfg->sandbox_chroot), *s;
	const char *why;
	struct dirent *de;
	DIR *d;
	int r = -1;

	if (cfg->sandbox_off) {
		log_warn("SANDBOX DISABLED (sandbox.mode \"none\"): workers run "
		    "without chroot, user change or seccomp; tests only");
		free(p);
		return 0;
	}
	if (geteuid() != 0) {
		log_warn("not running as root: workers cannot chroot or change "
		    "user (seccomp still applies)");
		free(p);
		return 0;
	}
	for (s = strchr(p + 1, '/'); s != NULL; s = strchr(s + 1, '/')) {
		*s = '\0';
		if (mkdir(p, 0755) != 0 && errno != EEXIST) {
			log_error("sandbox.chroot: cannot create %s: %s", p,
			    strerror(errno));
			goto out;
		}
		*s = '/';
	}
	if (mkdir(p, 0555) != 0 && errno != EEXIST) {
		log_error("sandbox.chroot: cannot create %s: %s", p,
		    strerror(errno));
		goto out;
	}
	if ((why = cfg_chroot_problem(p, 0)) != NULL) {
		log_error("sandbox.chroot: %s: %s", p, why);
		goto out;
	}
	if ((d = opendir(p)) == NULL) {
		log_error("sandbox.chroot: %s: %s", p, strerror(errno));
		goto out;
	}
	r = 0;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
			log_error("sandbox.chroot: %s must be empty (it holds "
			    "\"%s\")", p, de->d_name);
			r = -1;
			break;
		}
	closedir(d);
 out:
	free(p);
	return r;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "explain", required_argument, NULL, 'E' },
		{ "as", required_argument, NULL, 'A' },
		{ "target", required_argument, NULL, 'T' },
		{ "shell", no_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *path = NULL, *ex = NULL, *as = NULL, *target = NULL;
	struct cfg *cfg = NULL;
	struct running_policy rp;
	char *cause = NULL, *bin;
	int ch, test = 0, debug = 0, shell = 0, r;

	while ((ch = getopt_long(argc, argv, "df:th", longopts, NULL)) != -1) {
		switch (ch) {
		case 'E':
			ex = optarg;
			break;
		case 'A':
			as = optarg;
			break;
		case 'T':
			target = optarg;
			break;
		case 'S':
			shell = 1;
			break;
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
	if (path == NULL || optind != argc || ((ex || shell) && !test)) {
		usage(stderr);
		return 2;
	}
	log_init("bastion", debug ? LOG_LVL_DEBUG : LOG_LVL_INFO);
	proctitle_init(argc, argv);
	if ((r = cfg_load(path, &cfg, &cause)) != 0) {
		load_failed(test, r, cause);
		return 1;
	}
	if ((r = running_policy_load(cfg, &rp, &cause)) != 0) {
		load_failed(test, r, cause);
		cfg_free(cfg);
		return 1;
	}
	if (test && (ex != NULL || shell)) {
		r = explain(cfg, rp.pol, ex ? ex : "", as, target, shell);
		running_policy_free(&rp);
		cfg_free(cfg);
		return r;
	}
	if (test) {
		printf("configuration OK: %s (%zu identities, %zu targets, "
		    "%zu approvers; policy %.12s from %s, %zu rule%s)\n",
		    cfg->path, cfg->nidentities, cfg->ntargets,
		    cfg->napprovers, rp.sha256, rp.source, rp.nrules,
		    rp.nrules == 1 ? "" : "s");
		running_policy_free(&rp);
		cfg_free(cfg);
		return 0;
	}
	if (prepare_chroot(cfg) != 0) {
		running_policy_free(&rp);
		cfg_free(cfg);
		return 1;
	}
	bin = session_binary(cfg);
	r = monitor_run(cfg, &rp, bin, debug);
	running_policy_free(&rp);
	free(bin);
	cfg_free(cfg);
	return r;
}
