/*
 * test_policy.c: unit tests of policy/policy.c (cmocka), and the decision
 * corpus in tests/data/policy (see its README).
 *
 * The unit tests build struct pc_result values by hand, so they test the
 * policy alone.  The corpus runs real command strings through
 * policy/cmdparse.c: pc_parse is a weak reference, and without cmdparse.o
 * linked in the corpus test is skipped ("cmdparse not available").  The
 * corpus folder is tests/data/policy relative to the current directory
 * (make runs tests from the top), or $POLICY_CORPUS_DIR.  Trusts nothing
 * but the files of this repository.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "common/err.h"
#include "common/util.h"
#include "policy/cmdparse.h"
#include "policy/policy.h"

/* Resolved only when cmdparse.o is linked in. */
#pragma weak pc_parse
#pragma weak pc_result_free
#pragma weak pc_result_describe

#define EXAMPLE_POLICY "{" \
	"\"default\": \"approve\", \"opaque\": \"approve\"," \
	"\"shell\": \"approve\", \"redirect\": \"approve\"," \
	"\"rules\": [" \
	"{\"name\": \"read-only\", \"match\": {\"commands\": [\"ls\", \"cat\"," \
	"  \"echo\", \"id\", \"uptime\", \"true\"]}, \"action\": \"allow\"}," \
	"{\"name\": \"privilege\", \"match\": {\"commands\": [\"sudo\", \"su\"," \
	"  \"doas\", \"pkexec\"]}, \"action\": \"approve\"," \
	"  \"approvers\": \"oncall\", \"count\": 1, \"timeout\": 300}," \
	"{\"name\": \"data-export\", \"match\": {\"commands\": [\"pg_dump\"," \
	"  \"pg_dumpall\", \"mysqldump\", \"mongodump\", \"mongoexport\"]}," \
	"  \"action\": \"approve\", \"approvers\": \"dba\", \"count\": 2," \
	"  \"timeout\": 600}," \
	"{\"name\": \"wipe\", \"match\": {\"commands\": [\"mkfs\", \"mkfs.*\"," \
	"  \"wipefs\"], \"targets\": [\"db*\"]}, \"action\": \"deny\"}," \
	"{\"name\": \"tmp-writes\", \"match\": {\"writes\": [\"/tmp/*\"]}," \
	"  \"action\": \"allow\"}" \
	"]}"

static const char *const ci_groups[] = { "ci", "deploy", NULL };
static const struct policy_subject subj_web = {
	"agent-ci", ci_groups, "alice", "web1"
};
static const struct policy_subject subj_db = {
	"agent-ci", ci_groups, "alice", "db1"
};

/* ---- hand-built analyses ---- */

static struct pc_result *
res_new(void)
{
	return xcalloc(1, sizeof(struct pc_result));
}

static struct pc_command *
res_add(struct pc_result *r, const char *words)
{
	struct pc_command *c;
	char *copy = xstrdup(words), *w, *save = NULL, *slash;

	r->cmds = xrealloc(r->cmds, (r->ncmds + 1) * sizeof(*r->cmds));
	c = &r->cmds[r->ncmds++];
	memset(c, 0, sizeof(*c));
	c->argv = xcalloc(strlen(words) + 2, sizeof(*c->argv));
	for (w = strtok_r(copy, " ", &save); w != NULL;
	    w = strtok_r(NULL, " ", &save))
		c->argv[c->argc++] = xstrdup(w);
	free(copy);
	if (c->argc > 0) {
		slash = strrchr(c->argv[0], '/');
		c->name = xstrdup(slash != NULL ? slash + 1 : c->argv[0]);
	}
	return c;
}

/* A simple command "a b c" (split on spaces), run via via (or NULL). */
static void
res_cmd(struct pc_result *r, const char *words, const char *via)
{
	struct pc_command *c = res_add(r, words);

	if (via != NULL) {
		c->via = xstrdup(via);
		c->depth = 1;
	}
}

static void
res_opaque(struct pc_result *r, const char *words, const char *reason)
{
	struct pc_command *c = res_add(r, words);

	free(c->name);
	c->name = NULL;
	c->opaque = 1;
	c->opaque_reason = reason;
}

/* A write to path; NULL: a path from an expansion. */
static void
res_write(struct pc_result *r, const char *path)
{
	r->writes = xrealloc(r->writes, (r->nwrites + 1) * sizeof(*r->writes));
	r->writes[r->nwrites].path = path != NULL ? xstrdup(path) : NULL;
	r->writes[r->nwrites].opaque = path == NULL;
	r->nwrites++;
}

static void
res_free(struct pc_result *r)
{
	size_t i, j;

	for (i = 0; i < r->ncmds; i++) {
		for (j = 0; j < r->cmds[i].argc; j++)
			free(r->cmds[i].argv[j]);
		free(r->cmds[i].argv);
		free(r->cmds[i].name);
		free(r->cmds[i].via);
	}
	free(r->cmds);
	for (i = 0; i < r->nwrites; i++)
		free(r->writes[i].path);
	free(r->writes);
	free(r->error_msg);
	free(r);
}

/* ---- helpers ---- */

static struct policy *
load_text(const char *text)
{
	struct json_object *o = json_tokener_parse(text);
	struct policy *p = NULL;
	char *cause = NULL;
	int r;

	assert_non_null(o);
	r = policy_load(o, "/etc/bastion/policy.json", &p, &cause);
	if (r != 0)
		fail_msg("policy did not load: %s", cause);
	assert_null(cause);
	json_object_put(o);
	return p;
}

/* The problems for text (file "F"), one per line. */
static char *
load_errors(const char *text, const char *prefix)
{
	struct json_object *o = json_tokener_parse(text);
	struct policy *p = NULL;
	char *cause = NULL;

	assert_non_null(o);
	assert_int_equal(policy_load_at(o, "F", prefix, &p, &cause),
	    BST_ERR_CONFIG);
	assert_null(p);
	assert_non_null(cause);
	json_object_put(o);
	return cause;
}

static void
expect_errors(const char *text, const char *expected)
{
	char *cause = load_errors(text, NULL);

	assert_string_equal(cause, expected);
	free(cause);
}

static struct policy_decision *
eval(const struct policy *p, const struct policy_subject *s,
    const struct pc_result *r)
{
	struct policy_decision *d = NULL;

	assert_int_equal(policy_eval(p, s, r, &d), 0);
	assert_non_null(d);
	return d;
}

/* Decision for one simple command (words split on spaces). */
static struct policy_decision *
eval1(const struct policy *p, const struct policy_subject *s,
    const char *words)
{
	struct pc_result *r = res_new();
	struct policy_decision *d;

	res_cmd(r, words, NULL);
	d = eval(p, s, r);
	res_free(r);
	return d;
}

static void
check(struct policy_decision *d, enum policy_action a, const char *rule)
{
	if (d->action != a || strcmp(d->rule, rule) != 0)
		fail_msg("expected %s %s, got %s %s (%s)",
		    policy_action_name(a), rule,
		    policy_action_name(d->action), d->rule, d->reason);
}

/* Checks and frees. */
static void
expect1(const struct policy *p, const struct policy_subject *s,
    const char *words, enum policy_action a, const char *rule)
{
	struct policy_decision *d = eval1(p, s, words);

	check(d, a, rule);
	policy_decision_free(d);
}

static size_t
strv_count(char **v)
{
	size_t n = 0;

	while (v[n] != NULL)
		n++;
	return n;
}

/* ---- loading ---- */

static void
test_load_example(void **state)
{
	struct policy *p = load_text(EXAMPLE_POLICY);

	assert_int_equal(policy_nrules(p), 5);
	policy_free(p);
}

static void
test_load_defaults(void **state)
{
	struct policy *p = NULL;
	struct policy_decision *d;
	char *cause = NULL;

	/* NULL is the empty policy: everything approve by anyone. */
	assert_int_equal(policy_load(NULL, "x", &p, &cause), 0);
	d = eval1(p, &subj_web, "ls -la");
	check(d, POLICY_APPROVE, "default");
	assert_string_equal(d->reason, "no rule matches \"ls\": default approve");
	assert_int_equal(d->count, 1);
	assert_int_equal(d->timeout, 300);
	assert_null(d->approvers[0]);
	assert_string_equal(d->owner, "alice");
	policy_decision_free(d);
	policy_free(p);

	p = load_text("{}");
	expect1(p, &subj_web, "ls", POLICY_APPROVE, "default");
	assert_int_equal(policy_eval_shell(p, &subj_web, &d), 0);
	check(d, POLICY_APPROVE, "shell");
	policy_decision_free(d);
	policy_free(p);

	/* Top-level approvers/count/timeout apply to default approves. */
	p = load_text("{\"approvers\": [\"oncall\", \"sre\", \"oncall\"], "
	    "\"count\": 2, \"timeout\": 60}");
	d = eval1(p, &subj_web, "ls");
	assert_int_equal(strv_count(d->approvers), 2);
	assert_string_equal(d->approvers[0], "oncall");
	assert_string_equal(d->approvers[1], "sre");
	assert_int_equal(d->count, 2);
	assert_int_equal(d->timeout, 60);
	policy_decision_free(d);
	policy_free(p);

	p = load_text("{\"default\": \"allow\"}");
	d = eval1(p, &subj_web, "ls");
	check(d, POLICY_ALLOW, "default");
	assert_int_equal(d->count, 0);
	assert_int_equal(d->timeout, 0);
	assert_null(d->approvers[0]);
	policy_decision_free(d);
	policy_free(p);
}

static void
test_load_errors_top(void **state)
{
	expect_errors("{\"default\": \"maybe\", \"opaque\": 3, \"bogus\": 1,"
	    "\"count\": 0, \"timeout\": 90000, \"approvers\": [],"
	    "\"shell\": \"deny\", \"redirect\": \"ALLOW\"}",
	    "F: bogus: unknown key\n"
	    "F: default: must be \"allow\", \"deny\" or \"approve\" (maybe)\n"
	    "F: opaque: must be \"allow\", \"deny\" or \"approve\" (3)\n"
	    "F: redirect: must be \"allow\", \"deny\" or \"approve\" (ALLOW)\n"
	    "F: approvers: must not be empty\n"
	    "F: count: must be 1..100 (0)\n"
	    "F: timeout: must be 1..86400 (90000)");
	expect_errors("{\"approvers\": [\"oncall\", \"bad name\", 7],"
	    "\"count\": \"2\", \"rules\": {}}",
	    "F: approvers[1]: must be 1..64 of A-Za-z0-9._- not starting "
	    "with '.' or '-' (bad name)\n"
	    "F: approvers[2]: must be a string (7)\n"
	    "F: count: must be an integer (2)\n"
	    "F: rules: must be an array ({})");
	expect_errors("[1]", "F: top level: must be an object");
}

static void
test_load_errors_rules(void **state)
{
	char *cause;

	expect_errors("{\"rules\": ["
	    /* 0 */ "{\"match\": {\"commands\": \"ls\"}, \"action\": \"allow\"},"
	    /* 1 */ "{\"name\": \"wipe\", \"match\": {\"commands\": [\"\","
	    "  \"/usr/bin/sudo\", 3]}, \"action\": \"deny\"},"
	    /* 2 */ "{\"name\": \"re\", \"match\": {\"args\": [\"ok\", \"(\"]},"
	    "  \"action\": \"approve\", \"count\": 101},"
	    /* 3 */ "{\"name\": \"w\", \"match\": {\"writes\": [\"tmp/*\","
	    "  \"/a/../b\", \"/a/**/b\", \"/a//b\"], \"commands\": [\"ls\"]},"
	    "  \"action\": \"allow\"},"
	    /* 4 */ "{\"name\": \"e\", \"match\": {}, \"action\": \"allow\","
	    "  \"count\": 2, \"approvers\": \"x\"},"
	    /* 5 */ "{\"name\": \"u\", \"match\": {\"command\": [\"ls\"]},"
	    "  \"action\": \"permit\", \"extra\": true},"
	    /* 6 */ "3,"
	    /* 7 */ "{\"name\": \"default\", \"match\": {\"commands\": [\"ls\"]},"
	    "  \"action\": \"allow\"},"
	    /* 8 */ "{\"name\": \"wipe\", \"match\": \"ls\"},"
	    /* 9 */ "{\"name\": \"-x\", \"match\": {\"targets\": []},"
	    "  \"action\": \"deny\"}"
	    "]}",
	    "F: rules[0].name: is required\n"
	    "F: rules[1] \"wipe\".match.commands[0]: must not be empty\n"
	    "F: rules[1] \"wipe\".match.commands[1]: matches command names "
	    "(basenames), not paths (/usr/bin/sudo)\n"
	    "F: rules[1] \"wipe\".match.commands[2]: must be a string (3)\n"
	    "F: rules[2] \"re\".count: must be 1..100 (101)\n"
	    "F: rules[2] \"re\".match.args[1]: invalid extended regex: "
	    "Unmatched ( or \\( (()\n"
	    "F: rules[3] \"w\".match.writes: cannot be combined with "
	    "\"commands\" or \"args\" (a write is not tied to a command)\n"
	    "F: rules[3] \"w\".match.writes[0]: must be an absolute path glob "
	    "(tmp/*)\n"
	    "F: rules[3] \"w\".match.writes[1]: must not contain \".\" or "
	    "\"..\" components (/a/../b)\n"
	    "F: rules[3] \"w\".match.writes[2]: \"**\" only as the last "
	    "component (\"/dir/**\") (/a/**/b)\n"
	    "F: rules[3] \"w\".match.writes[3]: must not contain \"//\" (/a//b)\n"
	    "F: rules[4] \"e\".approvers: only for \"approve\" rules\n"
	    "F: rules[4] \"e\".count: only for \"approve\" rules\n"
	    "F: rules[4] \"e\".match: must not be empty (use \"default\" to "
	    "decide what no rule matches)\n"
	    "F: rules[5] \"u\".extra: unknown key\n"
	    "F: rules[5] \"u\".action: must be \"allow\", \"deny\" or "
	    "\"approve\" (permit)\n"
	    "F: rules[5] \"u\".match.command: unknown key\n"
	    "F: rules[6]: must be an object (3)\n"
	    "F: rules[7] \"default\".name: is reserved for decisions no rule "
	    "made (default)\n"
	    "F: rules[8] \"wipe\".action: is required\n"
	    "F: rules[8] \"wipe\".match: must be an object (ls)\n"
	    "F: rules[9].name: must be 1..64 of A-Za-z0-9._- not starting "
	    "with '.' or '-' (-x)\n"
	    "F: rules[9].match.targets: must not be empty\n"
	    "F: rules[8] \"wipe\".name: duplicate rule name (wipe)");

	/* A prefix for policies inline in the config file. */
	cause = load_errors("{\"rules\": [{\"name\": \"a\", \"match\": "
	    "{\"commands\": [\"ls\"]}, \"action\": \"no\"}], \"x\": 1}",
	    "policy");
	assert_string_equal(cause, "F: policy.x: unknown key\n"
	    "F: policy.rules[0] \"a\".action: must be \"allow\", \"deny\" or "
	    "\"approve\" (no)");
	free(cause);
}

static void
test_load_errors_many(void **state)
{
	struct json_object *o = json_object_new_object(), *rules;
	struct policy *p = NULL;
	char *cause = NULL, *last;
	size_t n = 0;
	int i;

	rules = json_object_new_array();
	for (i = 0; i < 150; i++)
		json_object_array_add(rules, json_object_new_int(i));
	json_object_object_add(o, "rules", rules);
	assert_int_equal(policy_load(o, "F\n2", &p, &cause), BST_ERR_CONFIG);
	for (last = cause; strchr(last, '\n') != NULL; n++)
		last = strchr(last, '\n') + 1;
	assert_int_equal(n, 100);
	assert_string_equal(last, "F?2: 50 more problems not shown");
	assert_true(strncmp(cause, "F?2: rules[0]: must be an object (0)\n",
	    36) == 0);
	free(cause);
	json_object_put(o);
}

/* ---- matching ---- */

static void
test_match_keys(void **state)
{
	static const char *const ops[] = { "ops", NULL };
	static const struct policy_subject bob = { "bob-bot", ops, NULL,
	    "db7" };
	struct policy *p = load_text("{\"default\": \"allow\", \"rules\": ["
	    "{\"name\": \"lit\", \"match\": {\"commands\": [\"halt\"]},"
	    "  \"action\": \"deny\"},"
	    "{\"name\": \"glob\", \"match\": {\"commands\": [\"*reboot*\"]},"
	    "  \"action\": \"deny\"},"
	    "{\"name\": \"args\", \"match\": {\"commands\": [\"systemctl\"],"
	    "  \"args\": [\"^stop \", \"(^| )--force( |$)\"]},"
	    "  \"action\": \"deny\"},"
	    "{\"name\": \"noargs\", \"match\": {\"commands\": [\"crontab\"],"
	    "  \"args\": \"^$\"}, \"action\": \"deny\"},"
	    "{\"name\": \"ids\", \"match\": {\"identities\": [\"bob-*\"],"
	    "  \"commands\": [\"psql\"]}, \"action\": \"deny\"},"
	    "{\"name\": \"grp\", \"match\": {\"groups\": [\"deploy\"],"
	    "  \"commands\": [\"kubectl\"]}, \"action\": \"deny\"},"
	    "{\"name\": \"tgt\", \"match\": {\"targets\": [\"db?\"],"
	    "  \"commands\": [\"redis-cli\"]}, \"action\": \"deny\"},"
	    "{\"name\": \"all3\", \"match\": {\"identities\": \"agent-ci\","
	    "  \"groups\": \"ci\", \"targets\": \"web1\"}, \"action\": \"approve\"}"
	    "]}");

	expect1(p, &subj_web, "halt", POLICY_DENY, "lit");
	expect1(p, &bob, "halt -f", POLICY_DENY, "lit");
	expect1(p, &bob, "halting", POLICY_ALLOW, "default");
	expect1(p, &bob, "reboot", POLICY_DENY, "glob");
	expect1(p, &bob, "xrebooty now", POLICY_DENY, "glob");
	expect1(p, &bob, "systemctl stop nginx", POLICY_DENY, "args");
	expect1(p, &bob, "systemctl restart nginx --force", POLICY_DENY,
	    "args");
	expect1(p, &bob, "systemctl restart nginx --forced", POLICY_ALLOW,
	    "default");
	expect1(p, &bob, "systemctl status stop", POLICY_ALLOW, "default");
	expect1(p, &bob, "crontab", POLICY_DENY, "noargs");
	expect1(p, &bob, "crontab -l", POLICY_ALLOW, "default");
	expect1(p, &bob, "psql", POLICY_DENY, "ids");
	expect1(p, &subj_db, "psql", POLICY_ALLOW, "default");
	expect1(p, &subj_db, "kubectl get pods", POLICY_DENY, "grp");
	expect1(p, &bob, "kubectl get pods", POLICY_ALLOW, "default");
	expect1(p, &bob, "redis-cli", POLICY_DENY, "tgt");
	expect1(p, &subj_db, "redis-cli", POLICY_DENY, "tgt");
	expect1(p, &subj_web, "redis-cli", POLICY_APPROVE, "all3");
	expect1(p, &subj_db, "uptime", POLICY_ALLOW, "default");
	expect1(p, &subj_web, "uptime", POLICY_APPROVE, "all3");
	/* The basename is matched: /sbin/halt is halt. */
	expect1(p, &bob, "/sbin/halt", POLICY_DENY, "lit");
	policy_free(p);
}

static void
test_glob_commands(void **state)
{
	struct policy *p = load_text(EXAMPLE_POLICY);
	struct policy_decision *d;

	expect1(p, &subj_db, "mkfs.ext4 /dev/sda", POLICY_DENY, "wipe");
	expect1(p, &subj_db, "mkfs.xfs -f /dev/sdb1", POLICY_DENY, "wipe");
	expect1(p, &subj_db, "mkfs /dev/sda", POLICY_DENY, "wipe");
	expect1(p, &subj_db, "/sbin/mkfs.btrfs /dev/sda", POLICY_DENY, "wipe");
	expect1(p, &subj_db, "mkfsx /dev/sda", POLICY_APPROVE, "default");
	expect1(p, &subj_db, "MKFS.ext4 /dev/sda", POLICY_APPROVE, "default");
	expect1(p, &subj_web, "mkfs.ext4 /dev/sda", POLICY_APPROVE, "default");
	d = eval1(p, &subj_db, "wipefs -a /dev/sda");
	check(d, POLICY_DENY, "wipe");
	assert_string_equal(d->reason, "rule \"wipe\" matches wipefs");
	assert_null(d->approvers[0]);
	assert_int_equal(d->count, 0);
	policy_decision_free(d);
	policy_free(p);
}

static void
test_first_match(void **state)
{
	struct policy *p = load_text("{\"rules\": ["
	    "{\"name\": \"g0\", \"match\": {\"commands\": [\"gi*\"],"
	    "  \"args\": \"^push\"}, \"action\": \"deny\"},"
	    "{\"name\": \"l1\", \"match\": {\"commands\": [\"git\"]},"
	    "  \"action\": \"allow\"},"
	    "{\"name\": \"g2\", \"match\": {\"commands\": [\"g*\"]},"
	    "  \"action\": \"deny\"},"
	    "{\"name\": \"n3\", \"match\": {\"targets\": [\"web*\"]},"
	    "  \"action\": \"allow\"},"
	    "{\"name\": \"l4\", \"match\": {\"commands\": [\"gcc\", \"make\"]},"
	    "  \"action\": \"deny\"},"
	    "{\"name\": \"w5\", \"match\": {\"commands\": [\"?ake\", \"make\"]},"
	    "  \"action\": \"approve\"}"
	    "]}");

	expect1(p, &subj_web, "git push origin", POLICY_DENY, "g0");
	expect1(p, &subj_web, "git pull", POLICY_ALLOW, "l1");
	expect1(p, &subj_web, "gcc x.c", POLICY_DENY, "g2");
	expect1(p, &subj_web, "make", POLICY_ALLOW, "n3");
	expect1(p, &subj_db, "make", POLICY_DENY, "l4");
	expect1(p, &subj_db, "bake", POLICY_APPROVE, "w5");
	expect1(p, &subj_db, "true", POLICY_APPROVE, "default");
	policy_free(p);
}

/* ---- combining ---- */

static void
test_most_restrictive(void **state)
{
	struct policy *p = load_text("{\"rules\": ["
	    "{\"name\": \"ok\", \"match\": {\"commands\": [\"ls\", \"cat\"]},"
	    "  \"action\": \"allow\"},"
	    "{\"name\": \"ask\", \"match\": {\"commands\": [\"sudo\"]},"
	    "  \"action\": \"approve\"},"
	    "{\"name\": \"no\", \"match\": {\"commands\": [\"rm\"]},"
	    "  \"action\": \"deny\"}]}");
	struct pc_result *r = res_new();
	struct policy_decision *d;

	res_cmd(r, "ls", NULL);
	res_cmd(r, "cat x", NULL);
	d = eval(p, &subj_web, r);
	check(d, POLICY_ALLOW, "ok");
	assert_int_equal(d->nitems, 2);
	policy_decision_free(d);

	res_cmd(r, "sudo rm -rf /", NULL);
	res_cmd(r, "rm -rf /", "sudo");
	d = eval(p, &subj_web, r);
	check(d, POLICY_DENY, "no");
	assert_string_equal(d->reason, "rule \"no\" matches rm");
	assert_int_equal(d->nitems, 4);
	assert_int_equal(d->items[2].action, POLICY_APPROVE);
	assert_string_equal(d->items[2].rule, "ask");
	assert_string_equal(d->items[3].via, "sudo");
	assert_string_equal(d->items[3].text, "rm -rf /");
	assert_null(d->approvers[0]);
	policy_decision_free(d);
	res_free(r);

	r = res_new();
	res_cmd(r, "ls", NULL);
	res_cmd(r, "sudo id", NULL);
	res_cmd(r, "ls", NULL);
	d = eval(p, &subj_web, r);
	check(d, POLICY_APPROVE, "ask");
	policy_decision_free(d);
	res_free(r);
	policy_free(p);
}

static void
test_approver_union(void **state)
{
	struct policy *p = load_text("{\"approvers\": \"sre\", \"timeout\": 900,"
	    "\"rules\": ["
	    "{\"name\": \"privilege\", \"match\": {\"commands\": [\"sudo\"]},"
	    "  \"action\": \"approve\", \"approvers\": \"oncall\", \"count\": 1,"
	    "  \"timeout\": 300},"
	    "{\"name\": \"export\", \"match\": {\"commands\": [\"pg_dump\"]},"
	    "  \"action\": \"approve\", \"approvers\": [\"dba\", \"oncall\"],"
	    "  \"count\": 2, \"timeout\": 600},"
	    "{\"name\": \"plain\", \"match\": {\"commands\": [\"curl\"]},"
	    "  \"action\": \"approve\", \"count\": 3},"
	    "{\"name\": \"ok\", \"match\": {\"commands\": [\"gzip\"]},"
	    "  \"action\": \"allow\"}]}");
	struct pc_result *r = res_new();
	struct policy_decision *d;

	res_cmd(r, "sudo -u postgres pg_dump shop", NULL);
	res_cmd(r, "pg_dump shop", "sudo");
	res_cmd(r, "gzip", NULL);
	d = eval(p, &subj_web, r);
	check(d, POLICY_APPROVE, "privilege");
	assert_int_equal(strv_count(d->approvers), 2);
	assert_string_equal(d->approvers[0], "oncall");
	assert_string_equal(d->approvers[1], "dba");
	assert_int_equal(d->count, 2);
	assert_int_equal(d->timeout, 300);
	policy_decision_free(d);

	/* A rule without approvers takes the policy's ("sre"). */
	res_cmd(r, "curl x", NULL);
	d = eval(p, &subj_web, r);
	assert_int_equal(strv_count(d->approvers), 3);
	assert_string_equal(d->approvers[2], "sre");
	assert_int_equal(d->count, 3);
	assert_int_equal(d->timeout, 300);
	policy_decision_free(d);
	res_free(r);
	policy_free(p);

	/* No approvers anywhere: anyone; a named group wins over "any". */
	p = load_text("{\"rules\": ["
	    "{\"name\": \"a\", \"match\": {\"commands\": [\"sudo\"]},"
	    "  \"action\": \"approve\", \"approvers\": \"oncall\"}]}");
	r = res_new();
	res_cmd(r, "frob", NULL);
	d = eval(p, &subj_web, r);
	check(d, POLICY_APPROVE, "default");
	assert_null(d->approvers[0]);
	policy_decision_free(d);
	res_cmd(r, "sudo id", NULL);
	d = eval(p, &subj_web, r);
	check(d, POLICY_APPROVE, "default");
	assert_int_equal(strv_count(d->approvers), 1);
	assert_string_equal(d->approvers[0], "oncall");
	policy_decision_free(d);
	res_free(r);
	policy_free(p);
}

/* ---- what cannot be analysed ---- */

static void
test_opaque(void **state)
{
	struct policy *p = load_text("{\"rules\": [{\"name\": \"all\","
	    "\"match\": {\"commands\": [\"*\"]}, \"action\": \"allow\"}]}");
	struct pc_result *r = res_new(), *r2;
	struct policy_decision *d;

	res_cmd(r, "ls", NULL);
	res_opaque(r, "$X foo", "command name from an expansion");
	d = eval(p, &subj_web, r);
	check(d, POLICY_APPROVE, "opaque");
	assert_string_equal(d->reason, "opaque: command name from an "
	    "expansion ($X): opaque approve");
	assert_string_equal(d->items[0].rule, "all");
	assert_string_equal(d->items[1].text, "$X foo");
	policy_decision_free(d);
	policy_free(p);

	p = load_text("{\"opaque\": \"deny\"}");
	d = eval(p, &subj_web, r);
	check(d, POLICY_DENY, "opaque");
	policy_decision_free(d);
	policy_free(p);

	/* Opaque with a known name: a stricter rule wins, a laxer does not. */
	p = load_text("{\"rules\": [{\"name\": \"no-sh\", \"match\": "
	    "{\"commands\": [\"sh\"]}, \"action\": \"deny\"}, {\"name\": "
	    "\"py\", \"match\": {\"commands\": [\"python3\"]}, \"action\": "
	    "\"allow\"}]}");
	r2 = res_new();
	res_opaque(r2, "sh", "interpreter reading a script from stdin");
	r2->cmds[0].name = xstrdup("sh");
	d = eval(p, &subj_web, r2);
	check(d, POLICY_DENY, "no-sh");
	assert_string_equal(d->reason,
	    "rule \"no-sh\" matches sh (stricter than opaque approve)");
	policy_decision_free(d);
	free(r2->cmds[0].name);
	r2->cmds[0].name = xstrdup("python3");
	d = eval(p, &subj_web, r2);
	check(d, POLICY_APPROVE, "opaque");
	policy_decision_free(d);
	res_free(r2);
	policy_free(p);

	/* The operator may allow opaque commands; that is their call. */
	p = load_text("{\"opaque\": \"allow\", \"default\": \"allow\"}");
	d = eval(p, &subj_web, r);
	check(d, POLICY_ALLOW, "default");
	assert_string_equal(d->items[1].rule, "opaque");
	assert_int_equal(d->items[1].action, POLICY_ALLOW);
	policy_decision_free(d);
	policy_free(p);
	res_free(r);
}

static void
test_parse_error(void **state)
{
	struct policy *p = load_text("{\"opaque\": \"allow\", \"default\": "
	    "\"allow\", \"redirect\": \"allow\"}");
	struct pc_result *r = res_new();
	struct policy_decision *d;
	char *text;

	res_cmd(r, "echo", NULL);
	r->error = PC_ERR_SYNTAX;
	r->error_msg = xstrdup("unterminated quote at offset 5");
	d = eval(p, &subj_web, r);
	check(d, POLICY_DENY, "parse-error");
	assert_string_equal(d->reason,
	    "cannot parse: unterminated quote at offset 5");
	assert_int_equal(d->nitems, 1);
	assert_int_equal(d->items[0].kind, POLICY_ITEM_ERROR);
	text = policy_explain_text(d);
	assert_string_equal(text, "error unterminated quote at offset 5: deny "
	    "(cannot parse: unterminated quote at offset 5)\n"
	    "decision: deny: cannot parse: unterminated quote at offset 5\n");
	free(text);
	policy_decision_free(d);

	r->error = PC_OK;
	r->incomplete = 1;
	free(r->error_msg);
	r->error_msg = NULL;
	d = eval(p, &subj_web, r);
	check(d, POLICY_DENY, "parse-error");
	assert_string_equal(d->reason, "cannot parse: incomplete command");
	policy_decision_free(d);
	res_free(r);
	policy_free(p);
}

/* ---- writes ---- */

static void
expect_write(const struct policy *p, const struct policy_subject *s,
    const char *path, enum policy_action a, const char *rule)
{
	struct pc_result *r = res_new();
	struct policy_decision *d;

	res_cmd(r, "ls", NULL);
	res_write(r, path);
	d = eval(p, s, r);
	if (d->items[1].action != a || strcmp(d->items[1].rule, rule) != 0)
		fail_msg("write %s: expected %s %s, got %s %s (%s)",
		    path != NULL ? path : "(opaque)", policy_action_name(a),
		    rule, policy_action_name(d->items[1].action),
		    d->items[1].rule, d->items[1].reason);
	policy_decision_free(d);
	res_free(r);
}

static void
test_writes(void **state)
{
	struct policy *p = load_text("{\"rules\": ["
	    "{\"name\": \"ls\", \"match\": {\"commands\": [\"ls\"]},"
	    "  \"action\": \"allow\"},"
	    "{\"name\": \"tmp\", \"match\": {\"writes\": [\"/tmp/*\","
	    "  \"/var/tmp/**\"]}, \"action\": \"allow\"},"
	    "{\"name\": \"etc\", \"match\": {\"writes\": [\"/etc/**\"]},"
	    "  \"action\": \"deny\"},"
	    "{\"name\": \"logs\", \"match\": {\"writes\": \"/var/log/*.log\","
	    "  \"targets\": [\"web*\"]}, \"action\": \"allow\"},"
	    "{\"name\": \"any\", \"match\": {\"writes\": \"/**\","
	    "  \"identities\": \"root-bot\"}, \"action\": \"allow\"}"
	    "]}");
	static const struct policy_subject root = { "root-bot", NULL, NULL,
	    "x" };
	struct pc_result *r;
	struct policy_decision *d;

	expect_write(p, &subj_web, "/tmp/x", POLICY_ALLOW, "tmp");
	expect_write(p, &subj_web, "/tmp//x", POLICY_ALLOW, "tmp");
	expect_write(p, &subj_web, "/tmp/./x", POLICY_ALLOW, "tmp");
	expect_write(p, &subj_web, "/tmp/a/b", POLICY_APPROVE, "redirect");
	expect_write(p, &subj_web, "/tmp", POLICY_APPROVE, "redirect");
	expect_write(p, &subj_web, "/tmp/../etc/passwd", POLICY_DENY, "etc");
	expect_write(p, &subj_web, "/tmp/../../../etc/x", POLICY_DENY, "etc");
	expect_write(p, &subj_web, "/var/tmp/a/b/c", POLICY_ALLOW, "tmp");
	expect_write(p, &subj_web, "/var/tmp/", POLICY_APPROVE, "redirect");
	expect_write(p, &subj_web, "/var/tmp/a/../../../etc/x", POLICY_DENY,
	    "etc");
	expect_write(p, &subj_web, "/etc/cron.d/x", POLICY_DENY, "etc");
	expect_write(p, &subj_web, "/etcx", POLICY_APPROVE, "redirect");
	expect_write(p, &subj_web, "/var/log/app.log", POLICY_ALLOW, "logs");
	expect_write(p, &subj_db, "/var/log/app.log", POLICY_APPROVE,
	    "redirect");
	expect_write(p, &subj_web, "tmp/x", POLICY_APPROVE, "redirect");
	expect_write(p, &subj_web, "../tmp/x", POLICY_APPROVE, "redirect");
	expect_write(p, &subj_web, NULL, POLICY_APPROVE, "redirect");
	expect_write(p, &root, "/usr/bin/x", POLICY_ALLOW, "any");
	expect_write(p, &root, "/", POLICY_APPROVE, "redirect");

	/* The reason says where and why. */
	r = res_new();
	res_cmd(r, "ls", NULL);
	res_write(r, "/etc/../etc/cron.d/x");
	res_write(r, "/srv/x");
	d = eval(p, &subj_web, r);
	check(d, POLICY_DENY, "etc");
	assert_string_equal(d->items[1].reason, "rule \"etc\" matches write "
	    "to /etc/../etc/cron.d/x (/etc/cron.d/x)");
	assert_string_equal(d->items[2].reason, "write to /srv/x: no rule "
	    "allows it: redirect approve");
	assert_int_equal(d->items[2].kind, POLICY_ITEM_WRITE);
	policy_decision_free(d);
	res_free(r);

	/* /dev/null: the parser does not report it, so nothing to decide. */
	r = res_new();
	res_cmd(r, "ls", NULL);
	d = eval(p, &subj_web, r);
	check(d, POLICY_ALLOW, "ls");
	policy_decision_free(d);
	res_free(r);
	policy_free(p);

	/* Opaque writes are never allowed; other writes follow redirect. */
	p = load_text("{\"redirect\": \"allow\", \"default\": \"allow\"}");
	expect_write(p, &subj_web, "/srv/x", POLICY_ALLOW, "redirect");
	expect_write(p, &subj_web, NULL, POLICY_APPROVE, "redirect");
	policy_free(p);
	p = load_text("{\"redirect\": \"deny\"}");
	expect_write(p, &subj_web, NULL, POLICY_DENY, "redirect");
	policy_free(p);

	/* A write with no command at all ("> /tmp/x"). */
	p = load_text("{\"rules\": [{\"name\": \"tmp\", \"match\": {\"writes\":"
	    "\"/tmp/*\"}, \"action\": \"allow\"}]}");
	r = res_new();
	res_write(r, "/tmp/x");
	d = eval(p, &subj_web, r);
	check(d, POLICY_ALLOW, "tmp");
	policy_decision_free(d);
	res_free(r);
	policy_free(p);
}

static void
test_shell_and_empty(void **state)
{
	struct policy *p = load_text("{\"shell\": \"deny\", \"default\": "
	    "\"allow\", \"rules\": [{\"name\": \"sh\", \"match\": {\"commands\":"
	    "[\"*\"]}, \"action\": \"approve\"}]}");
	struct policy_decision *d = NULL;
	struct pc_result *r;

	assert_int_equal(policy_eval_shell(p, &subj_web, &d), 0);
	check(d, POLICY_DENY, "shell");
	assert_string_equal(d->reason, "interactive shell: shell deny");
	assert_int_equal(d->items[0].kind, POLICY_ITEM_SHELL);
	policy_decision_free(d);
	assert_int_equal(policy_eval_shell(NULL, &subj_web, &d),
	    BST_ERR_INTERNAL);
	assert_null(d);

	r = res_new();
	d = eval(p, &subj_web, r);
	check(d, POLICY_ALLOW, "default");
	assert_string_equal(d->reason, "nothing to run: default allow");
	policy_decision_free(d);
	res_free(r);
	policy_free(p);
}

static void
test_output(void **state)
{
	struct policy *p = load_text(EXAMPLE_POLICY);
	struct pc_result *r = res_new();
	struct policy_decision *d;
	struct json_object *o;
	char *text;

	res_cmd(r, "sudo pg_dump shop", NULL);
	res_cmd(r, "pg_dump shop", "sudo");
	res_write(r, "/tmp/shop.sql");
	d = eval(p, &subj_web, r);
	text = policy_explain_text(d);
	assert_string_equal(text,
	    "cmd sudo pg_dump shop: approve (rule \"privilege\" matches sudo)\n"
	    "cmd pg_dump shop (via sudo): approve (rule \"data-export\" "
	    "matches pg_dump)\n"
	    "write /tmp/shop.sql: allow (rule \"tmp-writes\" matches write "
	    "to /tmp/shop.sql)\n"
	    "decision: approve: rule \"privilege\" matches sudo\n"
	    "approvers: oncall, dba (never alice); count 2; timeout 300s\n");
	free(text);
	o = policy_decision_json(d);
	assert_string_equal(json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
	    "{\"action\":\"approve\",\"rule\":\"privilege\",\"reason\":"
	    "\"rule \\\"privilege\\\" matches sudo\",\"approvers\":[\"oncall\","
	    "\"dba\"],\"count\":2,\"timeout\":300,\"owner\":\"alice\","
	    "\"items\":[{\"kind\":\"cmd\",\"text\":\"sudo pg_dump shop\","
	    "\"via\":null,\"action\":\"approve\",\"rule\":\"privilege\","
	    "\"reason\":\"rule \\\"privilege\\\" matches sudo\"},"
	    "{\"kind\":\"cmd\",\"text\":\"pg_dump shop\",\"via\":\"sudo\","
	    "\"action\":\"approve\",\"rule\":\"data-export\",\"reason\":"
	    "\"rule \\\"data-export\\\" matches pg_dump\"},"
	    "{\"kind\":\"write\",\"text\":\"/tmp/shop.sql\",\"via\":null,"
	    "\"action\":\"allow\",\"rule\":\"tmp-writes\",\"reason\":"
	    "\"rule \\\"tmp-writes\\\" matches write to /tmp/shop.sql\"}]}");
	json_object_put(o);
	policy_decision_free(d);
	res_free(r);
	policy_free(p);
}

static void
test_sanitize(void **state)
{
	struct policy *p = load_text("{}");
	struct pc_result *r = res_new();
	struct policy_decision *d;
	char *longw = xmalloc(1001);

	memset(longw, 'a', 1000);
	longw[1000] = '\0';
	res_cmd(r, "evil\x1b[2Jname arg\x7f", NULL);
	res_cmd(r, longw, NULL);
	d = eval(p, &subj_web, r);
	assert_string_equal(d->reason,
	    "no rule matches \"evil?[2Jname\": default approve");
	assert_string_equal(d->items[0].text, "evil?[2Jname arg?");
	assert_int_equal(strlen(d->items[1].text), 200);
	assert_string_equal(d->items[1].text + 197, "...");
	assert_true(strlen(d->items[1].reason) < 120);
	policy_decision_free(d);
	res_free(r);
	free(longw);
	policy_free(p);
}

/* 10,000 rules: the index finds the right one at the end. */
static void
test_many_rules(void **state)
{
	struct json_object *o = json_object_new_object(), *rules, *rule, *m;
	struct policy *p = NULL;
	struct policy_decision *d;
	char *cause = NULL, name[64], cmd[64];
	int i;

	rules = json_object_new_array();
	for (i = 0; i < 10000; i++) {
		rule = json_object_new_object();
		m = json_object_new_object();
		snprintf(name, sizeof(name), "r%d", i);
		json_object_object_add(rule, "name",
		    json_object_new_string(name));
		if (i % 10 == 3)
			snprintf(cmd, sizeof(cmd), "g%d*", i);
		else
			snprintf(cmd, sizeof(cmd), "cmd%d", i);
		json_object_object_add(m, "commands",
		    json_object_new_string(cmd));
		if (i % 7 == 0)
			json_object_object_add(m, "targets",
			    json_object_new_string("db*"));
		json_object_object_add(rule, "match", m);
		json_object_object_add(rule, "action", json_object_new_string(
		    i % 2 == 0 ? "allow" : "deny"));
		json_object_array_add(rules, rule);
	}
	/* A catch-all for one identity, late. */
	rule = json_object_new_object();
	m = json_object_new_object();
	json_object_object_add(rule, "name", json_object_new_string("late"));
	json_object_object_add(m, "identities",
	    json_object_new_string("agent-*"));
	json_object_object_add(rule, "match", m);
	json_object_object_add(rule, "action", json_object_new_string("deny"));
	json_object_array_add(rules, rule);
	json_object_object_add(o, "default", json_object_new_string("approve"));
	json_object_object_add(o, "rules", rules);
	assert_int_equal(policy_load(o, "big", &p, &cause), 0);
	json_object_put(o);
	assert_int_equal(policy_nrules(p), 10001);

	expect1(p, &subj_web, "cmd9999 x", POLICY_DENY, "r9999");
	expect1(p, &subj_web, "cmd9998", POLICY_ALLOW, "r9998");
	expect1(p, &subj_web, "g9993-tail", POLICY_DENY, "r9993");
	expect1(p, &subj_web, "g9983", POLICY_DENY, "r9983");
	/* r9996 is for db* targets only; then "late" catches agent-*. */
	expect1(p, &subj_web, "cmd9996", POLICY_DENY, "late");
	expect1(p, &subj_db, "cmd9996", POLICY_ALLOW, "r9996");
	expect1(p, &subj_web, "nothing", POLICY_DENY, "late");
	expect1(p, &subj_web, "cmd0", POLICY_DENY, "late");
	d = eval1(p, &subj_db, "cmd0");
	check(d, POLICY_ALLOW, "r0");
	policy_decision_free(d);
	policy_free(p);
}

/* ---- the decision corpus ---- */

struct corpus {
	const char	*dir;
	char		*file;		/* current .cases file */
	struct policy	*policy;
	char		*identity;
	char		*groups[16];
	char		*target;
	char		*input;
	char		*approvers;	/* pending checks, or NULL */
	int		 count, timeout;	/* -1: unchecked */
	char		*known;		/* pending known-bug text, or NULL */
	unsigned int	 ncases, nfailed, nknown;
};

static void
corpus_set_subject(struct corpus *c, const char *v)
{
	char *copy = xstrdup(v), *sp, *g, *save = NULL;
	size_t i;

	for (i = 0; c->groups[i] != NULL; i++) {
		free(c->groups[i]);
		c->groups[i] = NULL;
	}
	free(c->identity);
	if ((sp = strchr(copy, ' ')) != NULL)
		*sp++ = '\0';
	c->identity = xstrdup(copy);
	for (i = 0, g = sp != NULL ? strtok_r(sp, ",", &save) : NULL;
	    g != NULL && i < 15; g = strtok_r(NULL, ",", &save))
		c->groups[i++] = xstrdup(g);
	free(copy);
}

static int
corpus_load_policy(struct corpus *c, const char *name)
{
	char *path = xasprintf("%s/%s", c->dir, name), *cause = NULL;
	struct json_object *o = json_object_from_file(path);
	int r;

	policy_free(c->policy);
	c->policy = NULL;
	if (o == NULL) {
		print_error("%s: cannot load JSON\n", path);
		free(path);
		return -1;
	}
	if ((r = policy_load(o, path, &c->policy, &cause)) != 0)
		print_error("%s\n", cause);
	free(cause);
	json_object_put(o);
	free(path);
	return r;
}

/* Same set of groups as the comma-separated list ("-": none)? */
static int
same_groups(char **v, const char *list)
{
	char *copy = xstrdup(list), *g, *save = NULL;
	size_t n = 0, k;
	int ok = 1;

	for (g = strtok_r(copy, ",", &save); g != NULL && ok;
	    g = strtok_r(NULL, ",", &save)) {
		if (strcmp(g, "-") == 0)
			continue;
		n++;
		for (k = 0; v[k] != NULL && strcmp(v[k], g) != 0; k++)
			;
		ok = v[k] != NULL;
	}
	free(copy);
	return ok && n == strv_count(v);
}

static void
corpus_case(struct corpus *c, unsigned int line, const char *expect)
{
	struct policy_subject s;
	struct pc_result *r;
	struct policy_decision *d = NULL;
	char action[32] = "", rule[128] = "", *text, *desc;
	int fail = 0;

	c->ncases++;
	if (c->input == NULL || c->policy == NULL) {
		print_error("%s:%u: no input or no policy\n", c->file, line);
		c->nfailed++;
		return;
	}
	if (sscanf(expect, "%31s %127s", action, rule) < 1) {
		print_error("%s:%u: bad expect line\n", c->file, line);
		c->nfailed++;
		return;
	}
	s.identity = c->identity;
	s.groups = (const char *const *)c->groups;
	s.owner = NULL;
	s.target = c->target;
	r = pc_parse(c->input, strlen(c->input));
	assert_non_null(r);
	assert_int_equal(policy_eval(c->policy, &s, r, &d), 0);
	if (strcmp(policy_action_name(d->action), action) != 0 ||
	    (rule[0] != '\0' && strcmp(d->rule, rule) != 0))
		fail = 1;
	if (c->approvers != NULL && !same_groups(d->approvers, c->approvers))
		fail = 1;
	if ((c->count >= 0 && d->count != c->count) ||
	    (c->timeout >= 0 && d->timeout != c->timeout))
		fail = 1;
	if (!fail && c->known != NULL)
		print_message("known bug no longer shows (remove the known-bug "
		    "line): %s:%u: %s\n", c->file, line, c->input);
	if (fail && c->known != NULL) {
		c->nknown++;
		print_message("KNOWN BUG %s:%u: %s: expected %s, got %s %s "
		    "(%s)\n", c->file, line, c->input, expect,
		    policy_action_name(d->action), d->rule, c->known);
	} else if (fail) {
		c->nfailed++;
		text = policy_explain_text(d);
		desc = pc_result_describe != NULL ? pc_result_describe(r) :
		    NULL;
		print_error("FAIL %s:%u (%s@%s): %s\n  expected: %s%s%s%s\n"
		    "  parser:\n    %s\n  policy:\n%s\n", c->file, line,
		    c->identity, c->target, c->input, expect,
		    c->approvers != NULL ? "; approvers " : "",
		    c->approvers != NULL ? c->approvers : "",
		    c->count >= 0 || c->timeout >= 0 ? "; count/timeout" : "",
		    desc != NULL ? desc : "(no description)", text);
		free(text);
		free(desc);
	}
	policy_decision_free(d);
	pc_result_free(r);
	free(c->approvers);
	c->approvers = NULL;
	free(c->known);
	c->known = NULL;
	c->count = c->timeout = -1;
}

static void
corpus_file(struct corpus *c, const char *name)
{
	char *path = xasprintf("%s/%s", c->dir, name), *text = NULL, *line;
	char *next, *end, *term, *body;
	size_t len, blen;
	unsigned int lineno = 0, start;

	assert_int_equal(read_file(path, 1 << 20, &text, &len), 0);
	c->file = path;
	for (line = text; line != NULL && *line != '\0'; line = next) {
		lineno++;
		if ((end = strchr(line, '\n')) != NULL) {
			*end = '\0';
			next = end + 1;
		} else
			next = NULL;
		if (line[0] == '#' || line[0] == '\0')
			continue;
		if (strncmp(line, "policy: ", 8) == 0) {
			if (corpus_load_policy(c, line + 8) != 0)
				c->nfailed++;
		} else if (strncmp(line, "as: ", 4) == 0)
			corpus_set_subject(c, line + 4);
		else if (strncmp(line, "target: ", 8) == 0) {
			free(c->target);
			c->target = xstrdup(line + 8);
		} else if (strncmp(line, "input:", 6) == 0) {
			free(c->input);
			c->input = xstrdup(line[6] == ' ' ? line + 7 : line + 6);
		} else if (strncmp(line, "input<<", 7) == 0) {
			/* Lines up to the terminator, without the last newline. */
			term = line + 7;
			body = xstrdup("");
			blen = 0;
			start = lineno;
			for (;;) {
				if (next == NULL) {
					print_error("%s:%u: no terminator %s\n",
					    path, start, term);
					c->nfailed++;
					break;
				}
				line = next;
				lineno++;
				if ((end = strchr(line, '\n')) != NULL) {
					*end = '\0';
					next = end + 1;
				} else
					next = NULL;
				if (strcmp(line, term) == 0)
					break;
				len = strlen(line);
				body = xrealloc(body, blen + len + 2);
				if (blen > 0)
					body[blen++] = '\n';
				memcpy(body + blen, line, len + 1);
				blen += len;
			}
			free(c->input);
			c->input = body;
		} else if (strncmp(line, "approvers: ", 11) == 0) {
			free(c->approvers);
			c->approvers = xstrdup(line + 11);
		} else if (strncmp(line, "known-bug: ", 11) == 0) {
			free(c->known);
			c->known = xstrdup(line + 11);
		} else if (strncmp(line, "count: ", 7) == 0)
			c->count = atoi(line + 7);
		else if (strncmp(line, "timeout: ", 9) == 0)
			c->timeout = atoi(line + 9);
		else if (strncmp(line, "expect: ", 8) == 0)
			corpus_case(c, lineno, line + 8);
		else {
			print_error("%s:%u: unknown line: %s\n", path, lineno,
			    line);
			c->nfailed++;
		}
	}
	free(text);
	free(path);
	c->file = NULL;
}

static int
cases_filter(const struct dirent *e)
{
	size_t n = strlen(e->d_name);

	return n > 6 && strcmp(e->d_name + n - 6, ".cases") == 0;
}

static void
test_corpus(void **state)
{
	struct corpus c;
	struct dirent **names;
	int i, n;

	if (pc_parse == NULL || pc_result_free == NULL) {
		print_message("cmdparse not available: corpus skipped\n");
		skip();
	}
	memset(&c, 0, sizeof(c));
	c.count = c.timeout = -1;
	c.dir = getenv("POLICY_CORPUS_DIR") != NULL ?
	    getenv("POLICY_CORPUS_DIR") : "tests/data/policy";
	corpus_set_subject(&c, "agent-ci ci");
	c.target = xstrdup("web1");
	n = scandir(c.dir, &names, cases_filter, alphasort);
	assert_true(n > 0);
	for (i = 0; i < n; i++) {
		corpus_file(&c, names[i]->d_name);
		free(names[i]);
	}
	free(names);
	print_message("corpus: %u cases, %u failed, %u known bugs\n",
	    c.ncases, c.nfailed, c.nknown);
	policy_free(c.policy);
	corpus_set_subject(&c, "");
	free(c.identity);
	free(c.target);
	free(c.input);
	free(c.approvers);
	free(c.known);
	assert_true(c.ncases >= 80);
	assert_int_equal(c.nfailed, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load_example),
		cmocka_unit_test(test_load_defaults),
		cmocka_unit_test(test_load_errors_top),
		cmocka_unit_test(test_load_errors_rules),
		cmocka_unit_test(test_load_errors_many),
		cmocka_unit_test(test_match_keys),
		cmocka_unit_test(test_glob_commands),
		cmocka_unit_test(test_first_match),
		cmocka_unit_test(test_most_restrictive),
		cmocka_unit_test(test_approver_union),
		cmocka_unit_test(test_opaque),
		cmocka_unit_test(test_parse_error),
		cmocka_unit_test(test_writes),
		cmocka_unit_test(test_shell_and_empty),
		cmocka_unit_test(test_output),
		cmocka_unit_test(test_sanitize),
		cmocka_unit_test(test_many_rules),
		cmocka_unit_test(test_corpus),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
