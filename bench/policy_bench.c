/*
 * policy_bench.c: latency of policy_eval() per simple command with a
 * large generated policy.  Prints figures; asserts nothing (the goal,
 * p99 <= 10 us at 10,000 rules, is for a human to read).
 *
 * Usage: policy_bench [NRULES [NCOMMANDS [SEED]]]   (10000 100000 1)
 *
 * The policy mixes what real ones hold: literal command lists, prefix
 * globs ("mkfs.*"), a few leading-wildcard globs ("*-admin"), args regexes,
 * target and group restrictions, subject-only rules (no "commands") and
 * write rules.  The commands, built beforehand as struct pc_command
 * values, name rules from all over the list (so first-match has to find
 * late rules too) or nothing at all.  Each evaluation is a whole
 * policy_eval() of a one-command request, decision allocation included.
 * Two timed passes over the same commands: "cold" right after loading,
 * when glibc has not yet built the DFA states of the args regexes that
 * these arguments reach (it does so lazily inside regexec, tens of
 * microseconds each, once), and "warm", the steady state of a monitor
 * that has been running for a while.
 * Trusts nothing; touches no files.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "common/util.h"
#include "policy/cmdparse.h"
#include "policy/policy.h"

static uint64_t rng_state;

static uint32_t
rnd(void)
{
	/* xorshift64*: reproducible across runs and machines. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 2685821657736338717ULL) >> 32);
}

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static const char *const actions[] = { "allow", "deny", "approve" };

static struct json_object *
gen_policy(int nrules, int *nnames)
{
	struct json_object *o = json_object_new_object(), *rules, *r, *m, *a;
	char buf[128];
	int i, j, k, kind;

	rules = json_object_new_array();
	*nnames = 0;
	for (i = 0; i < nrules; i++) {
		r = json_object_new_object();
		m = json_object_new_object();
		snprintf(buf, sizeof(buf), "rule-%d", i);
		json_object_object_add(r, "name", json_object_new_string(buf));
		kind = (int)(rnd() % 100);
		if (kind < 60) {
			/* 1..3 literal command names, sometimes args */
			a = json_object_new_array();
			k = 1 + (int)(rnd() % 3);
			for (j = 0; j < k; j++) {
				snprintf(buf, sizeof(buf), "tool%d", (*nnames)++);
				json_object_array_add(a,
				    json_object_new_string(buf));
			}
			json_object_object_add(m, "commands", a);
			if (rnd() % 4 == 0) {
				snprintf(buf, sizeof(buf),
				    "^(stop|restart|delete)( |$)|--force%d",
				    i % 10);
				json_object_object_add(m, "args",
				    json_object_new_string(buf));
			}
		} else if (kind < 80) {
			/* prefix glob */
			snprintf(buf, sizeof(buf), "pfx%d.*", i);
			json_object_object_add(m, "commands",
			    json_object_new_string(buf));
		} else if (kind < 81) {
			/* leading wildcard: checked for every command */
			snprintf(buf, sizeof(buf), "*-admin%d", i);
			json_object_object_add(m, "commands",
			    json_object_new_string(buf));
		} else if (kind < 93) {
			/* literal, restricted to targets and maybe groups */
			snprintf(buf, sizeof(buf), "tool%d", (*nnames)++);
			json_object_object_add(m, "commands",
			    json_object_new_string(buf));
			snprintf(buf, sizeof(buf), "db%d*", i % 50);
			json_object_object_add(m, "targets",
			    json_object_new_string(buf));
			if (rnd() % 2 == 0)
				json_object_object_add(m, "groups",
				    json_object_new_string("dba"));
		} else if (kind < 95) {
			/* subject only: checked for every command */
			snprintf(buf, sizeof(buf), "intern-%d-*", i);
			json_object_object_add(m, "identities",
			    json_object_new_string(buf));
		} else {
			snprintf(buf, sizeof(buf), "/srv/app%d/**", i);
			json_object_object_add(m, "writes",
			    json_object_new_string(buf));
		}
		json_object_object_add(r, "match", m);
		json_object_object_add(r, "action",
		    json_object_new_string(actions[rnd() % 3]));
		json_object_array_add(rules, r);
	}
	json_object_object_add(o, "rules", rules);
	return o;
}

static const char *const kind_names[] = {
	"literal name", "glob name", "unknown name"
};

/*
 * One command: a literal rule's name, a name a glob matches, or a name
 * no rule has.  Returns which (index in kind_names).
 */
static int
gen_command(struct pc_command *c, int nnames, int nrules)
{
	char buf[64];
	int kind = (int)(rnd() % 10), i, nargs;

	memset(c, 0, sizeof(*c));
	if (kind < 6)
		snprintf(buf, sizeof(buf), "tool%u", rnd() % (unsigned)nnames);
	else if (kind < 8)
		snprintf(buf, sizeof(buf), "pfx%u.ext4",
		    rnd() % (unsigned)nrules);
	else
		snprintf(buf, sizeof(buf), "unknown%u", rnd() % 1000);
	nargs = (int)(rnd() % 6);
	c->argv = xcalloc((size_t)nargs + 2, sizeof(*c->argv));
	c->argv[0] = xstrdup(buf);
	for (i = 1; i <= nargs; i++) {
		if (i == 1 && rnd() % 3 == 0)
			c->argv[i] = xstrdup("restart");
		else {
			snprintf(buf, sizeof(buf), "--opt%u=value%u",
			    rnd() % 20, rnd() % 1000);
			c->argv[i] = xstrdup(buf);
		}
	}
	c->argc = (size_t)nargs + 1;
	c->name = xstrdup(c->argv[0]);
	return kind < 6 ? 0 : kind < 8 ? 1 : 2;
}

static void
print_percentiles(const char *what, int64_t *lat, size_t n)
{
	if (n == 0)
		return;
	qsort(lat, n, sizeof(*lat), cmp_i64);
	printf("  %-14s n %6zu: p50 %6.2f us, p99 %6.2f us, max %8.2f us\n",
	    what, n, (double)lat[n / 2] / 1e3,
	    (double)lat[n * 99 / 100] / 1e3, (double)lat[n - 1] / 1e3);
}

int
main(int argc, char **argv)
{
	int nrules = argc > 1 ? atoi(argv[1]) : 10000;
	int ncmds = argc > 2 ? atoi(argv[2]) : 100000;
	static const char *const g_ops[] = { "ops", NULL };
	static const char *const g_dba[] = { "dba", "ops", NULL };
	struct policy_subject subj[3] = {
		{ "agent-ci", g_ops, "alice", "web1" },
		{ "agent-db", g_dba, "bob", "db7-primary" },
		{ "intern-3-x", g_ops, "carol", "db12" },
	};
	struct pc_command *cmds;
	struct pc_result res;
	struct policy_decision *d;
	struct json_object *o;
	struct policy *p = NULL;
	char *cause = NULL;
	int64_t *lat, *bykind[3], t0, load_ns, sum, p99[2];
	int i, pass, nnames, counts[3] = { 0, 0, 0 }, *kinds;
	size_t j, nk[3] = { 0, 0, 0 };

	if (nrules < 1 || ncmds < 1) {
		fprintf(stderr, "usage: policy_bench [NRULES [NCOMMANDS "
		    "[SEED]]]\n");
		return 2;
	}
	rng_state = argc > 3 ? strtoull(argv[3], NULL, 10) : 1;
	if (rng_state == 0)
		rng_state = 1;
	o = gen_policy(nrules, &nnames);
	t0 = now_ns();
	if (policy_load(o, "generated", &p, &cause) != 0) {
		fprintf(stderr, "%s\n", cause);
		return 1;
	}
	load_ns = now_ns() - t0;
	json_object_put(o);

	cmds = xcalloc((size_t)ncmds, sizeof(*cmds));
	kinds = xcalloc((size_t)ncmds, sizeof(*kinds));
	for (i = 0; i < ncmds; i++)
		kinds[i] = gen_command(&cmds[i], nnames, nrules);
	lat = xcalloc((size_t)ncmds, sizeof(*lat));
	for (i = 0; i < 3; i++)
		bykind[i] = xcalloc((size_t)ncmds, sizeof(**bykind));
	memset(&res, 0, sizeof(res));
	res.ncmds = 1;
	printf("policy_bench: %d rules, %d commands, load %.1f ms\n", nrules,
	    ncmds, (double)load_ns / 1e6);
	for (pass = 0; pass < 2; pass++) {
		sum = 0;
		memset(nk, 0, sizeof(nk));
		for (i = 0; i < ncmds; i++) {
			res.cmds = &cmds[i];
			t0 = now_ns();
			policy_eval(p, &subj[i % 3], &res, &d);
			policy_decision_free(d);
			lat[i] = now_ns() - t0;
			sum += lat[i];
			bykind[kinds[i]][nk[kinds[i]]++] = lat[i];
		}
		qsort(lat, (size_t)ncmds, sizeof(*lat), cmp_i64);
		printf("%s pass, per command (policy_eval + "
		    "policy_decision_free):\n  mean %.2f us, p50 %.2f us, "
		    "p90 %.2f us, p99 %.2f us, p99.9 %.2f us, max %.2f us\n",
		    pass == 0 ? "cold" : "warm",
		    (double)sum / ncmds / 1e3, (double)lat[ncmds / 2] / 1e3,
		    (double)lat[(size_t)ncmds * 90 / 100] / 1e3,
		    (double)lat[(size_t)ncmds * 99 / 100] / 1e3,
		    (double)lat[(size_t)ncmds * 999 / 1000] / 1e3,
		    (double)lat[ncmds - 1] / 1e3);
		for (i = 0; i < 3; i++)
			print_percentiles(kind_names[i], bykind[i], nk[i]);
		p99[pass] = lat[(size_t)ncmds * 99 / 100];
	}
	/* Once more, untimed, to report what was decided. */
	for (i = 0; i < ncmds; i++) {
		res.cmds = &cmds[i];
		policy_eval(p, &subj[i % 3], &res, &d);
		counts[d->action]++;
		policy_decision_free(d);
	}
	printf("decisions: allow %d, approve %d, deny %d\n",
	    counts[POLICY_ALLOW], counts[POLICY_APPROVE], counts[POLICY_DENY]);
	printf("goal p99 <= 10 us at 10000 rules: cold %s, warm %s\n",
	    p99[0] <= 10000 ? "met" : "NOT met",
	    p99[1] <= 10000 ? "met" : "NOT met");

	for (i = 0; i < ncmds; i++) {
		for (j = 0; j < cmds[i].argc; j++)
			free(cmds[i].argv[j]);
		free(cmds[i].argv);
		free(cmds[i].name);
	}
	free(cmds);
	free(kinds);
	for (i = 0; i < 3; i++)
		free(bykind[i]);
	free(lat);
	policy_free(p);
	return 0;
}
