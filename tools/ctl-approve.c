/*
 * ctl-approve.c: what an approver does with bastionctl on the running
 * bastion's control socket (docs/PROTOCOL.md): "approve ID" and "deny ID",
 * one vote on a held command,
 *
 *	{"cmd":"vote","id":N,"vote":"approve"|"deny","reason":"...","token":"..."}
 *
 * answered by {"ok":true,"status":"pending"|"approved"|"denied",
 * "message":"..."} or {"ok":false,"error":"..."}; and "terminate ID", which
 * ends a live session now,
 *
 *	{"cmd":"terminate","session":N,"reason":"...","token":"..."}
 *
 * answered by {"ok":true,"session":N,"message":"..."} or the same error.
 * The monitor, not this tool, checks the token, the approver's groups,
 * one vote per approver and that the request is still pending; it records
 * the vote before it answers.  The token comes from $BASTION_TOKEN (never
 * the command line, where ps would show it).  Trusts nothing in the
 * answer (ctl_safe()).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "common/proto.h"
#include "common/util.h"
#include "tools/ctl.h"

/* The reason goes to the database, chat and logs: keep it to a paragraph. */
#define VOTE_MAX_REASON	2048
#define SAFE_MAX	4096

static const struct ctl_opt vote_opts[] = {
	{ "--reason", 1 },
	{ NULL, 0 }
};

/*
 * Sends req (its "token" added from $BASTION_TOKEN) and prints the answer:
 * its "message", else "what: STATUS"; a refusal as an error.
 */
static int
send_as_approver(struct ctl_ctx *ctx, struct json_object *req,
    const char *what)
{
	struct json_object *reply = NULL, *ok;
	const char *token, *msg, *err, *status;
	char *line = NULL, safe[SAFE_MAX];
	int r;

	if ((token = getenv("BASTION_TOKEN")) == NULL || *token == '\0')
		return ctl_error("set BASTION_TOKEN to your approver token");
	json_object_object_add(req, "token", json_object_new_string(token));
	r = ctl_control_request(ctx, req, &reply, &line);
	if (r != 0)
		return r;
	if (!json_object_object_get_ex(reply, "ok", &ok) ||
	    !json_object_is_type(ok, json_type_boolean) ||
	    !json_object_get_boolean(ok)) {
		if (ctx->json)
			ctl_print_json(reply);
		err = ctl_jstr(reply, "error");
		r = ctl_error("%s", ctl_safe(err ? err : "the bastion refused "
		    "without saying why", safe, sizeof(safe)));
		goto out;
	}
	if (ctx->json)
		ctl_print_json(reply);
	else if ((msg = ctl_jstr(reply, "message")) != NULL)
		printf("%s\n", ctl_safe(msg, safe, sizeof(safe)));
	else {
		status = ctl_jstr(reply, "status");
		printf("%s: %s\n", what, ctl_safe(status ? status : "done", safe,
		    sizeof(safe)));
	}
	r = CTL_EXIT_OK;
 out:
	json_object_put(reply);
	free(line);
	return r;
}

static int
vote(struct ctl_ctx *ctx, int approve)
{
	struct json_object *req;
	const char *reason;
	char what[64];
	int64_t id;
	int r;

	if (ctx->nargs != 1)
		return ctl_usage_error(ctx, ctx->nargs == 0 ?
		    "a request id is needed (see 'bastionctl pending')" :
		    "one request id only");
	if ((r = ctl_parse_id(ctx, "request id", ctx->args[0], &id)) != 0)
		return r;
	reason = ctl_opt_value(ctx, "--reason");
	if (reason != NULL && strlen(reason) > VOTE_MAX_REASON)
		return ctl_usage_error(ctx, "--reason is too long (%zu bytes, "
		    "at most %d)", strlen(reason), VOTE_MAX_REASON);

	req = json_object_new_object();
	json_object_object_add(req, "cmd", json_object_new_string("vote"));
	json_object_object_add(req, "id", json_object_new_int64(id));
	json_object_object_add(req, "vote",
	    json_object_new_string(approve ? "approve" : "deny"));
	json_object_object_add(req, "reason",
	    json_object_new_string(reason ? reason : ""));
	snprintf(what, sizeof(what), "request %lld", (long long)id);
	r = send_as_approver(ctx, req, what);
	json_object_put(req);
	return r;
}

static int
terminate_fn(struct ctl_ctx *ctx)
{
	struct json_object *req;
	const char *reason;
	char what[64];
	int64_t id;
	int r;

	if (ctx->nargs != 1)
		return ctl_usage_error(ctx, ctx->nargs == 0 ?
		    "a session id is needed (see 'bastionctl sessions --live')" :
		    "one session id only");
	if ((r = ctl_parse_id(ctx, "session id", ctx->args[0], &id)) != 0)
		return r;
	reason = ctl_opt_value(ctx, "--reason");
	if (reason != NULL && strlen(reason) > PROTO_MAX_TERMINATE_REASON)
		return ctl_usage_error(ctx, "--reason is too long (%zu bytes, "
		    "at most %d)", strlen(reason), PROTO_MAX_TERMINATE_REASON);
	if (reason != NULL && !is_one_line(reason))
		return ctl_usage_error(ctx, "--reason must be one line of "
		    "printable text (the agent sees it)");

	req = json_object_new_object();
	json_object_object_add(req, "cmd",
	    json_object_new_string("terminate"));
	json_object_object_add(req, "session", json_object_new_int64(id));
	json_object_object_add(req, "reason",
	    json_object_new_string(reason ? reason : ""));
	snprintf(what, sizeof(what), "session %lld", (long long)id);
	r = send_as_approver(ctx, req, what);
	json_object_put(req);
	return r;
}

static int
approve_fn(struct ctl_ctx *ctx)
{
	return vote(ctx, 1);
}

static int
deny_fn(struct ctl_ctx *ctx)
{
	return vote(ctx, 0);
}

const struct ctl_cmd ctl_approve_entry = {
	"approve",
	"ID [--reason TEXT]",
	"Votes to approve held command request ID (see 'bastionctl pending')\n"
	"as the approver whose token is in $BASTION_TOKEN.  The bastion runs\n"
	"the command once it has the approvals the rule needs; this prints\n"
	"where the request stands.  One vote per approver per request.\n"
	"Needs the running bastion (its control socket).\n"
	"\n"
	"  --reason TEXT   why, recorded with the vote (at most 2048 bytes)\n"
	"  --json          the bastion's answer as a JSON object\n",
	vote_opts,
	approve_fn,
};

const struct ctl_cmd ctl_deny_entry = {
	"deny",
	"ID [--reason TEXT]",
	"Votes to deny held command request ID (see 'bastionctl pending')\n"
	"as the approver whose token is in $BASTION_TOKEN.  A denial ends\n"
	"the request: the command does not run.  Prints where the request\n"
	"stands.  Needs the running bastion (its control socket).\n"
	"\n"
	"  --reason TEXT   why, recorded with the vote (at most 2048 bytes)\n"
	"  --json          the bastion's answer as a JSON object\n",
	vote_opts,
	deny_fn,
};

const struct ctl_cmd ctl_terminate_entry = {
	"terminate",
	"ID [--reason TEXT]",
	"Ends live session ID now, as the approver whose token is in\n"
	"$BASTION_TOKEN (any configured approver may).  Every open channel\n"
	"of the agent gets \"bastion: terminated by NAME: TEXT; the session\n"
	"ended\" and exit status 77; a command it waits to have approved is\n"
	"cancelled; the session is recorded as ended by \"terminated\", with\n"
	"who and why.  Needs the running bastion (its control socket).\n"
	"\n"
	"  --reason TEXT   why: one line, at most 1000 bytes; the agent sees it\n"
	"  --json          the bastion's answer as a JSON object\n",
	vote_opts,
	terminate_fn,
};
