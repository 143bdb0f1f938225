/*
 * render.c: messages for approvers (see render.h).  Every string taken
 * from a request goes through rnd_clean() (or rnd_term_tail()) and then
 * the escaping of its destination; names from the configuration are
 * restricted to [A-Za-z0-9._-] by config.c but are escaped all the same.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "approval/render.h"
#include "common/util.h"

/* ---- a growing string ---- */

struct sb {
	char	*s;
	size_t	 len, cap;
};

static void
sb_addn(struct sb *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2 + 64;
		b->s = xrealloc(b->s, b->cap);
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void
sb_add(struct sb *b, const char *s)
{
	sb_addn(b, s, strlen(s));
}

static void sb_addf(struct sb *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
sb_addf(struct sb *b, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	if (s == NULL)
		return;
	sb_add(b, s);
	free(s);
}

static char *
sb_done(struct sb *b)
{
	if (b->s == NULL)
		return xstrdup("");
	return b->s;
}

/* ---- cleaning ---- */

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid. */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
	size_t need, i;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		need = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		need = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		need = 4;
		cp = s[0] & 0x07;
	} else
		return 0;
	if (n < need)
		return 0;
	for (i = 1; i < need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((need == 3 && cp < 0x800) || (need == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	/* C1 controls (U+0080..U+009F) are shown escaped, like C0. */
	if (cp >= 0x80 && cp <= 0x9f)
		return 0;
	return need;
}

char *
rnd_clean(const char *s, size_t len, size_t max, int keep_nl)
{
	const unsigned char *u = (const unsigned char *)s;
	struct sb b = { 0 };
	char esc[8];
	size_t i = 0, n;

	if (s == NULL)
		return xstrdup("");
	while (i < len) {
		if (b.len >= max) {
			sb_addf(&b, " [%zu more bytes]", len - i);
			break;
		}
		if (u[i] == '\n' || u[i] == '\t') {
			if (keep_nl)
				sb_addn(&b, s + i, 1);
			else
				sb_add(&b, u[i] == '\n' ? "\\n" : "\\t");
			i++;
			continue;
		}
		if (u[i] < 0x20 || u[i] == 0x7f ||
		    (n = utf8_len(u + i, len - i)) == 0) {
			snprintf(esc, sizeof(esc), "\\x%02x", u[i]);
			sb_add(&b, esc);
			i++;
			continue;
		}
		sb_addn(&b, s + i, n);
		i += n;
	}
	return sb_done(&b);
}

/*
 * Applies what a terminal would do to a line buffer for the bytes of one
 * line: \r restarts the line, backspace removes a byte.  Escape sequences
 * are dropped before this.
 */
char *
rnd_term_tail(const void *data, size_t len, int maxlines, size_t max)
{
	const unsigned char *d = data;
	struct sb text = { 0 };
	size_t i = 0, line_start = 0, start;
	int lines;
	char *out;

	while (i < len) {
		unsigned char c = d[i];

		if (c == 0x1b) {
			i++;
			if (i >= len)
				break;
			if (d[i] == '[') {		/* CSI */
				for (i++; i < len && !(d[i] >= 0x40 &&
				    d[i] <= 0x7e); i++)
					;
				i++;
			} else if (d[i] == ']' || d[i] == 'P' ||
			    d[i] == 'X' || d[i] == '^' || d[i] == '_') {
				/* OSC, DCS, SOS, PM, APC: to BEL or ST */
				for (i++; i < len; i++) {
					if (d[i] == 0x07) {
						i++;
						break;
					}
					if (d[i] == 0x1b && i + 1 < len &&
					    d[i + 1] == '\\') {
						i += 2;
						break;
					}
				}
			} else if (d[i] >= 0x20 && d[i] <= 0x2f) {
				/* ESC ( B and friends: intermediates + final */
				for (; i < len && d[i] >= 0x20 && d[i] <= 0x2f;
				    i++)
					;
				i++;
			} else
				i++;	/* two-byte ESC x */
			continue;
		}
		if (c == '\r') {
			if (i + 1 < len && d[i + 1] == '\n') {
				i++;
				continue;
			}
			/* overwrite: the line starts again */
			text.len = line_start;
			if (text.s != NULL)
				text.s[text.len] = '\0';
			i++;
			continue;
		}
		if (c == '\b') {
			if (text.len > line_start) {
				text.len--;
				text.s[text.len] = '\0';
			}
			i++;
			continue;
		}
		if (c == '\n') {
			sb_addn(&text, "\n", 1);
			line_start = text.len;
			i++;
			continue;
		}
		if (c < 0x20 && c != '\t') {	/* BEL, SO, SI ... */
			i++;
			continue;
		}
		sb_addn(&text, (const char *)d + i, 1);
		i++;
	}
	if (text.s == NULL)
		return xstrdup("");
	/* Trailing newlines and blank lines do not count. */
	while (text.len > 0 && (text.s[text.len - 1] == '\n' ||
	    text.s[text.len - 1] == ' '))
		text.s[--text.len] = '\0';
	/* The last maxlines lines, then at most max bytes from their end. */
	start = text.len;
	for (lines = 0; start > 0; start--) {
		if (text.s[start - 1] == '\n' && ++lines >= maxlines)
			break;
	}
	if (text.len - start > max) {
		start = text.len - max;
		/* do not start inside a UTF-8 sequence */
		while (start < text.len &&
		    ((unsigned char)text.s[start] & 0xc0) == 0x80)
			start++;
	}
	out = rnd_clean(text.s + start, text.len - start, max + 64, 1);
	free(text.s);
	return out;
}

char *
rnd_md_escape(const char *s)
{
	struct sb b = { 0 };

	for (; *s != '\0'; s++) {
		if (*s == '&')
			sb_add(&b, "&amp;");
		else if (*s == '<')
			sb_add(&b, "&lt;");
		else if (*s == '>')
			sb_add(&b, "&gt;");
		else
			sb_addn(&b, s, 1);
	}
	return sb_done(&b);
}

char *
rnd_md_block(const char *clean)
{
	struct sb b = { 0 };
	char *e = rnd_md_escape(clean), *p;

	sb_add(&b, "```");
	for (p = e; *p != '\0'; p++) {
		sb_addn(&b, p, 1);
		if (*p == '`')
			sb_add(&b, "\xe2\x80\x8b");	/* U+200B */
	}
	if (*e == '\0')
		sb_add(&b, " ");
	sb_add(&b, "```");
	free(e);
	return sb_done(&b);
}

char *
rnd_html(const char *s)
{
	struct sb b = { 0 };

	for (; *s != '\0'; s++) {
		switch (*s) {
		case '&': sb_add(&b, "&amp;"); break;
		case '<': sb_add(&b, "&lt;"); break;
		case '>': sb_add(&b, "&gt;"); break;
		case '"': sb_add(&b, "&quot;"); break;
		case '\'': sb_add(&b, "&#39;"); break;
		default: sb_addn(&b, s, 1);
		}
	}
	return sb_done(&b);
}

/* ---- request fields ---- */

static const char *
jstr(json_object *o, const char *key)
{
	json_object *v;

	if (o == NULL || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return "";
	return json_object_get_string(v);
}

static int64_t
jint(json_object *o, const char *key)
{
	json_object *v;

	if (o == NULL || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_int))
		return 0;
	return json_object_get_int64(v);
}

/*
 * What the request is about, from analysis.kind (set by the monitor):
 * approvers should know a line comes from an interactive shell.
 */
static const char *
kind_text(json_object *req)
{
	json_object *a, *k;
	const char *s;

	if (!json_object_object_get_ex(req, "analysis", &a) ||
	    !json_object_is_type(a, json_type_object) ||
	    !json_object_object_get_ex(a, "kind", &k) ||
	    (s = json_object_get_string(k)) == NULL)
		return "a command";
	if (strcmp(s, "shell") == 0)
		return "an interactive shell (each line is judged on its own)";
	if (strcmp(s, "line") == 0)
		return "a line of a shell (typed, or a script's next command)";
	if (strcmp(s, "line-opaque") == 0)
		return "a line typed into a shell, edited in ways the bastion "
		    "cannot follow";
	if (strcmp(s, "line-part") == 0)
		return "the first line(s) of a multi-line shell construct";
	if (strcmp(s, "sftp") == 0)
		return "a file operation over sftp, shown as the shell command "
		    "that does the same";
	if (strcmp(s, "scp") == 0)
		return "a file or folder a legacy scp upload (scp -O) would "
		    "create, shown as the shell command that does the same "
		    "(where two paths are shown, only one is written: the "
		    "first if the target's path is a folder, else the "
		    "second)";
	if (strcmp(s, "subsystem") == 0)
		return "an sftp session (each file operation is judged on its "
		    "own)";
	return "a command";
}

/* A cleaned one-line copy (names, rule, reason), malloc'd. */
static char *
field(json_object *req, const char *key, size_t max)
{
	const char *s = jstr(req, key);

	return rnd_clean(s, strlen(s), max, 0);
}

/* "2026-11-22T00:45:24.123456Z" -> "2026-11-22 00:45:24 UTC" */
static char *
when(const char *iso)
{
	if (strlen(iso) < 19 || iso[10] != 'T')
		return rnd_clean(iso, strlen(iso), 40, 0);
	return xasprintf("%.10s %.8s UTC", iso, iso + 11);
}

/* "1 of oncall, dba" / "1 of any approver" */
static char *
needs(json_object *req)
{
	char *g = field(req, "groups", 200), *p, *s;

	for (p = g; *p != '\0'; p++)
		if (*p == ' ')
			*p = ',';
	s = xasprintf("%lld of %s", (long long)jint(req, "count"),
	    *g ? g : "any approver");
	free(g);
	return s;
}

/* One line per vote: "bob approved at ...: reason" (cleaned, not escaped). */
static char *
votes_text(json_object *req, int *n)
{
	json_object *votes, *v;
	struct sb b = { 0 };
	size_t i, len;

	*n = 0;
	if (!json_object_object_get_ex(req, "votes", &votes) ||
	    !json_object_is_type(votes, json_type_array))
		return xstrdup("");
	len = json_object_array_length(votes);
	for (i = 0; i < len && i < 20; i++) {
		char *name, *reason, *t;

		v = json_object_array_get_idx(votes, i);
		name = field(v, "approver", 64);
		reason = field(v, "reason", 200);
		t = when(jstr(v, "time"));
		sb_addf(&b, "%s%s %s at %s%s%s", i > 0 ? "\n" : "", name,
		    strcmp(jstr(v, "vote"), "approve") == 0 ? "approved" :
		    "denied", t, *reason ? ": " : "", reason);
		free(name);
		free(reason);
		free(t);
		(*n)++;
	}
	return sb_done(&b);
}

static int
is_pending(json_object *req)
{
	return strcmp(jstr(req, "status"), "pending") == 0;
}

/* "approved by bob,carol" / "denied by bob: reason" / "expired". */
static char *
outcome_text(json_object *req)
{
	char *st = field(req, "status", 32), *by = field(req, "decided_by",
	    200), *detail = field(req, "detail", 300), *t, *s;

	t = when(jstr(req, "decided"));
	if (strcmp(st, "expired") == 0)
		s = xasprintf("expired at %s: not approved in time", t);
	else if (strcmp(st, "cancelled") == 0)
		s = xasprintf("cancelled at %s: %s", t, detail);
	else
		s = xasprintf("%s by %s at %s%s%s", st, by, t,
		    *detail ? ": " : "", detail);
	free(st);
	free(by);
	free(detail);
	free(t);
	return s;
}

/* ---- Slack ---- */

static json_object *
jtext(const char *type, const char *text)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "type", json_object_new_string(type));
	json_object_object_add(o, "text", json_object_new_string(text));
	if (strcmp(type, "mrkdwn") == 0)
		/* No automatic linking of URLs, channels or names. */
		json_object_object_add(o, "verbatim",
		    json_object_new_boolean(1));
	else
		json_object_object_add(o, "emoji",
		    json_object_new_boolean(0));
	return o;
}

static json_object *
section(const char *mrkdwn)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "type", json_object_new_string("section"));
	json_object_object_add(o, "text", jtext("mrkdwn", mrkdwn));
	return o;
}

static json_object *
button(const char *label, const char *action, const char *style,
    int64_t id, int confirm)
{
	json_object *o = json_object_new_object(), *c;
	char value[32];

	snprintf(value, sizeof(value), "%lld", (long long)id);
	json_object_object_add(o, "type", json_object_new_string("button"));
	json_object_object_add(o, "text", jtext("plain_text", label));
	json_object_object_add(o, "action_id", json_object_new_string(action));
	json_object_object_add(o, "value", json_object_new_string(value));
	json_object_object_add(o, "style", json_object_new_string(style));
	if (confirm) {
		c = json_object_new_object();
		json_object_object_add(c, "title", jtext("plain_text",
		    "Deny this command?"));
		json_object_object_add(c, "text", jtext("plain_text",
		    "The command will not run and the agent is told who "
		    "denied it."));
		json_object_object_add(c, "confirm", jtext("plain_text",
		    "Deny"));
		json_object_object_add(c, "deny", jtext("plain_text",
		    "Cancel"));
		json_object_object_add(c, "style",
		    json_object_new_string("danger"));
		json_object_object_add(o, "confirm", c);
	}
	return o;
}

/* Appends a mrkdwn field "*label*\nvalue" (value escaped here). */
static void
add_field(json_object *fields, const char *label, const char *value)
{
	char *e = rnd_md_escape(value), *t;

	t = xasprintf("*%s*\n%s", label, *e ? e : "-");
	json_object_array_add(fields, jtext("mrkdwn", t));
	free(t);
	free(e);
}

/* What every rendering of a request shows, cleaned (free_facts()). */
struct req_facts {
	char	*ident, *owner, *target, *tuser, *rule, *reason;
	char	*needs, *votes, *expires;
	int	 nvotes;
};

static void
load_facts(struct req_facts *rf, json_object *req, size_t reason_max)
{
	rf->ident = field(req, "identity", 64);
	rf->owner = field(req, "owner", 64);
	rf->target = field(req, "target", 64);
	rf->tuser = field(req, "target_user", 64);
	rf->rule = field(req, "rule", 100);
	rf->reason = field(req, "reason", reason_max);
	rf->needs = needs(req);
	rf->votes = votes_text(req, &rf->nvotes);
	rf->expires = when(jstr(req, "expires"));
}

static void
free_facts(struct req_facts *rf)
{
	free(rf->ident);
	free(rf->owner);
	free(rf->target);
	free(rf->tuser);
	free(rf->rule);
	free(rf->reason);
	free(rf->needs);
	free(rf->votes);
	free(rf->expires);
}

json_object *
rnd_slack_message(json_object *req, const char *channel, const char *tail,
    const char *link)
{
	json_object *msg = json_object_new_object(), *blocks, *b, *fields;
	json_object *actions, *elements;
	const char *cmd = jstr(req, "command");
	struct req_facts rf;
	char *ccmd, *e1, *e2, *e3, *e4, *t, *block;
	int64_t id = jint(req, "id");
	int pending = is_pending(req);

	load_facts(&rf, req, 600);
	ccmd = rnd_clean(cmd, strlen(cmd), RND_CMD_MAX, 1);
	blocks = json_object_new_array();

	b = json_object_new_object();
	json_object_object_add(b, "type", json_object_new_string("header"));
	t = pending ? xasprintf("Approval needed: request %lld",
	    (long long)id) : xasprintf("Request %lld: %s", (long long)id,
	    jstr(req, "status")[0] ? jstr(req, "status") : "?");
	json_object_object_add(b, "text", jtext("plain_text", t));
	json_object_array_add(blocks, b);
	free(t);

	e1 = rnd_md_escape(rf.ident);
	e2 = rnd_md_escape(rf.owner);
	e3 = rnd_md_escape(rf.tuser);
	e4 = rnd_md_escape(rf.target);
	t = xasprintf("Agent `%s` (owner `%s`) wants to run on `%s@%s`:",
	    e1, e2, e3, e4);
	json_object_array_add(blocks, section(t));
	free(t);
	free(e1);
	free(e2);
	free(e3);
	free(e4);
	block = rnd_md_block(ccmd);
	json_object_array_add(blocks, section(block));
	free(block);

	fields = json_object_new_array();
	add_field(fields, "What", kind_text(req));
	add_field(fields, "Rule", rf.rule);
	add_field(fields, "Why held", rf.reason);
	add_field(fields, "Needs", rf.needs);
	add_field(fields, "Votes", rf.nvotes ? rf.votes : "none yet");
	add_field(fields, pending ? "Expires" : "Expired or decided",
	    rf.expires);
	b = json_object_new_object();
	json_object_object_add(b, "type", json_object_new_string("section"));
	json_object_object_add(b, "fields", fields);
	json_object_array_add(blocks, b);

	if (tail != NULL && *tail != '\0') {
		char *tb = rnd_md_block(tail);

		t = xasprintf("*Last lines of the session*\n%s", tb);
		json_object_array_add(blocks, section(t));
		free(t);
		free(tb);
	}
	if (link != NULL && *link != '\0') {
		/* Our own URL: the only link in the message. */
		char *el = rnd_md_escape(link);

		b = json_object_new_object();
		json_object_object_add(b, "type",
		    json_object_new_string("context"));
		elements = json_object_new_array();
		t = xasprintf("<%s|Review request %lld on the bastion>", el,
		    (long long)id);
		json_object_array_add(elements, jtext("mrkdwn", t));
		json_object_object_add(b, "elements", elements);
		json_object_array_add(blocks, b);
		free(t);
		free(el);
	}
	if (pending) {
		actions = json_object_new_object();
		json_object_object_add(actions, "type",
		    json_object_new_string("actions"));
		t = xasprintf("request-%lld", (long long)id);
		json_object_object_add(actions, "block_id",
		    json_object_new_string(t));
		free(t);
		elements = json_object_new_array();
		json_object_array_add(elements, button("Approve", "approve",
		    "primary", id, 0));
		json_object_array_add(elements, button("Deny", "deny",
		    "danger", id, 1));
		json_object_object_add(actions, "elements", elements);
		json_object_array_add(blocks, actions);
	} else {
		char *oc = outcome_text(req), *eo = rnd_md_escape(oc);

		t = xasprintf("*Outcome:* %s", eo);
		json_object_array_add(blocks, section(t));
		free(t);
		free(oc);
		free(eo);
	}
	json_object_object_add(msg, "channel", json_object_new_string(channel));
	e1 = rnd_md_escape(rf.ident);
	e2 = rnd_md_escape(rf.target);
	t = pending ? xasprintf("Approval needed: request %lld by %s on %s",
	    (long long)id, e1, e2) : xasprintf("Request %lld by %s on %s: %s",
	    (long long)id, e1, e2, jstr(req, "status"));
	json_object_object_add(msg, "text", json_object_new_string(t));
	json_object_object_add(msg, "unfurl_links",
	    json_object_new_boolean(0));
	json_object_object_add(msg, "blocks", blocks);
	free(t);
	free(e1);
	free(e2);
	free(ccmd);
	free_facts(&rf);
	return msg;
}

json_object *
rnd_slack_ephemeral(const char *text)
{
	json_object *o = json_object_new_object();
	char *c = rnd_clean(text, strlen(text), 1000, 0), *e = rnd_md_escape(c);

	json_object_object_add(o, "response_type",
	    json_object_new_string("ephemeral"));
	json_object_object_add(o, "replace_original",
	    json_object_new_boolean(0));
	json_object_object_add(o, "text", json_object_new_string(e));
	free(c);
	free(e);
	return o;
}

/* ---- Teams ---- */

static json_object *
tb(const char *text, const char *weight, int mono)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "type", json_object_new_string("TextBlock"));
	json_object_object_add(o, "text", json_object_new_string(text));
	json_object_object_add(o, "wrap", json_object_new_boolean(1));
	if (weight != NULL)
		json_object_object_add(o, "weight",
		    json_object_new_string(weight));
	if (mono)
		json_object_object_add(o, "fontType",
		    json_object_new_string("Monospace"));
	return o;
}

static void
fact(json_object *facts, const char *title, const char *value)
{
	json_object *f = json_object_new_object();

	json_object_object_add(f, "title", json_object_new_string(title));
	json_object_object_add(f, "value", json_object_new_string(value));
	json_object_array_add(facts, f);
}

/*
 * Adaptive Card TextBlocks interpret a Markdown subset: the untrusted
 * texts get every Markdown-active character backslash-escaped, and
 * &, <, > as entities do not apply there, so they are left as they are.
 */
static char *
teams_escape(const char *s)
{
	struct sb b = { 0 };

	for (; *s != '\0'; s++) {
		if (strchr("\\`*_{}[]()#+-.!<>|~", *s) != NULL)
			sb_addn(&b, "\\", 1);
		sb_addn(&b, s, 1);
	}
	return sb_done(&b);
}

json_object *
rnd_teams_card(json_object *req, const char *tail, const char *link)
{
	json_object *msg = json_object_new_object(), *att, *a, *card, *body;
	json_object *facts, *fs, *actions, *act;
	const char *cmd = jstr(req, "command");
	char *c = rnd_clean(cmd, strlen(cmd), RND_CMD_MAX, 1), *ec;
	struct req_facts rf;
	char *t, *e;
	int64_t id = jint(req, "id");
	int pending = is_pending(req);

	load_facts(&rf, req, 600);
	card = json_object_new_object();
	json_object_object_add(card, "type",
	    json_object_new_string("AdaptiveCard"));
	json_object_object_add(card, "$schema", json_object_new_string(
	    "http://adaptivecards.io/schemas/adaptive-card.json"));
	json_object_object_add(card, "version", json_object_new_string("1.4"));
	body = json_object_new_array();
	t = pending ? xasprintf("Approval needed: request %lld",
	    (long long)id) : xasprintf("Request %lld: %s", (long long)id,
	    jstr(req, "status"));
	json_object_array_add(body, tb(t, "Bolder", 0));
	free(t);
	ec = teams_escape(c);
	json_object_array_add(body, tb(ec, NULL, 1));
	free(ec);
	facts = json_object_new_array();
	t = xasprintf("%s (owner %s)", rf.ident, rf.owner);
	e = teams_escape(t);
	fact(facts, "Agent", e);
	free(t);
	free(e);
	t = xasprintf("%s@%s", rf.tuser, rf.target);
	e = teams_escape(t);
	fact(facts, "Target", e);
	free(t);
	free(e);
	fact(facts, "What", kind_text(req));
	e = teams_escape(rf.rule);
	fact(facts, "Rule", e);
	free(e);
	e = teams_escape(rf.reason);
	fact(facts, "Why held", e);
	free(e);
	fact(facts, "Needs", rf.needs);
	e = teams_escape(rf.nvotes ? rf.votes : "none yet");
	fact(facts, "Votes", e);
	free(e);
	fact(facts, "Expires", rf.expires);
	if (!pending) {
		char *oc = outcome_text(req);

		e = teams_escape(oc);
		fact(facts, "Outcome", e);
		free(e);
		free(oc);
	}
	fs = json_object_new_object();
	json_object_object_add(fs, "type", json_object_new_string("FactSet"));
	json_object_object_add(fs, "facts", facts);
	json_object_array_add(body, fs);
	if (tail != NULL && *tail != '\0') {
		json_object_array_add(body, tb("Last lines of the session",
		    "Bolder", 0));
		e = teams_escape(tail);
		json_object_array_add(body, tb(e, NULL, 1));
		free(e);
	}
	json_object_object_add(card, "body", body);
	if (link != NULL && *link != '\0') {
		actions = json_object_new_array();
		act = json_object_new_object();
		json_object_object_add(act, "type",
		    json_object_new_string("Action.OpenUrl"));
		json_object_object_add(act, "title", json_object_new_string(
		    pending ? "Review and decide" : "Review"));
		json_object_object_add(act, "url", json_object_new_string(link));
		json_object_array_add(actions, act);
		json_object_object_add(card, "actions", actions);
	}
	a = json_object_new_object();
	json_object_object_add(a, "contentType", json_object_new_string(
	    "application/vnd.microsoft.card.adaptive"));
	json_object_object_add(a, "contentUrl", NULL);
	json_object_object_add(a, "content", card);
	att = json_object_new_array();
	json_object_array_add(att, a);
	json_object_object_add(msg, "type", json_object_new_string("message"));
	json_object_object_add(msg, "attachments", att);
	free(c);
	free_facts(&rf);
	return msg;
}

/* ---- webhook event ---- */

json_object *
rnd_event(json_object *req, const char *event, const char *link)
{
	json_object *o = json_object_new_object(), *r, *v;
	static const char *const keep[] = { "id", "session_id", "identity",
	    "owner", "target", "target_user", "command", "command_sha256",
	    "rule", "reason", "groups", "count", "timeout", "status",
	    "created", "expires", "decided", "decided_by", "detail", "votes",
	    NULL };
	size_t i;

	json_object_object_add(o, "event", json_object_new_string(event));
	r = json_object_new_object();
	for (i = 0; keep[i] != NULL; i++)
		if (json_object_object_get_ex(req, keep[i], &v))
			json_object_object_add(r, keep[i], json_object_get(v));
	json_object_object_add(o, "request", r);
	if (link != NULL && *link != '\0')
		json_object_object_add(o, "url", json_object_new_string(link));
	return o;
}

/* ---- review page ---- */

static void
row(struct sb *b, const char *label, const char *value)
{
	char *e = rnd_html(value);

	sb_addf(b, "<tr><th>%s</th><td>%s</td></tr>\n", label, e);
	free(e);
}

char *
rnd_vote_page(int64_t id, int ok, const char *message)
{
	struct sb b = { 0 };
	char *e = rnd_html(message != NULL ? message : "");

	sb_addf(&b, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
	    "<title>Request %lld</title>\n<style>body{font-family:sans-serif;"
	    "max-width:60em;margin:2em auto}</style></head><body>\n"
	    "<h1>Approval request %lld</h1>\n<p><strong>%s</strong> %s</p>\n"
	    "<p><a href=\"\">Back to the request</a></p>\n</body></html>\n",
	    (long long)id, (long long)id, ok ? "Recorded:" : "Refused:", e);
	free(e);
	return sb_done(&b);
}

char *
rnd_review_page(json_object *req, const char *tail)
{
	struct sb b = { 0 };
	const char *cmd = jstr(req, "command");
	char *c = rnd_clean(cmd, strlen(cmd), 64 * 1024, 1), *e, *t;
	struct req_facts rf;
	int64_t id = jint(req, "id");

	load_facts(&rf, req, 2000);
	sb_addf(&b, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
	    "<title>Request %lld</title>\n<style>body{font-family:sans-serif;"
	    "max-width:60em;margin:2em auto}pre{background:#f4f4f4;padding:"
	    "1em;white-space:pre-wrap;word-break:break-all}th{text-align:left;"
	    "padding-right:1em;vertical-align:top}</style></head><body>\n",
	    (long long)id);
	sb_addf(&b, "<h1>Approval request %lld</h1>\n", (long long)id);
	e = rnd_html(c);
	sb_addf(&b, "<h2>Command</h2>\n<pre>%s</pre>\n", e);
	free(e);
	sb_add(&b, "<table>\n");
	row(&b, "Status", jstr(req, "status"));
	t = xasprintf("%s (owner %s)", rf.ident, rf.owner);
	row(&b, "Agent", t);
	free(t);
	t = xasprintf("%s@%s", rf.tuser, rf.target);
	row(&b, "Target", t);
	free(t);
	row(&b, "What", kind_text(req));
	row(&b, "Rule", rf.rule);
	row(&b, "Why held", rf.reason);
	row(&b, "Needs", rf.needs);
	row(&b, "Votes", rf.nvotes ? rf.votes : "none yet");
	row(&b, "Expires", rf.expires);
	if (!is_pending(req)) {
		char *oc = outcome_text(req);

		row(&b, "Outcome", oc);
		free(oc);
	}
	row(&b, "Command SHA-256", jstr(req, "command_sha256"));
	sb_add(&b, "</table>\n");
	if (tail != NULL && *tail != '\0') {
		e = rnd_html(tail);
		sb_addf(&b, "<h2>Last lines of the session</h2>\n<pre>%s</pre>"
		    "\n", e);
		free(e);
	}
	if (is_pending(req))
		/* Posted to this same address; the token authenticates. */
		sb_addf(&b, "<h2>Decide</h2>\n<form method=\"post\">\n"
		    "<p><label>Your approver token <input type=\"password\" "
		    "name=\"token\" autocomplete=\"current-password\" "
		    "required size=\"40\"></label></p>\n"
		    "<p><label>Reason <input type=\"text\" name=\"reason\" "
		    "maxlength=\"2000\" size=\"60\"></label></p>\n"
		    "<p><button type=\"submit\" name=\"vote\" "
		    "value=\"approve\">Approve</button> "
		    "<button type=\"submit\" name=\"vote\" value=\"deny\">"
		    "Deny</button></p>\n</form>\n"
		    "<p>Or with the Slack buttons, the API, or bastionctl:</p>\n"
		    "<pre>curl -X POST -H "
		    "'Authorization: Bearer $TOKEN' -d '{\"reason\":\"...\"}' "
		    "&lt;this bastion&gt;/api/requests/%lld/approve   "
		    "# or /deny\nbastionctl approve %lld --reason ...</pre>\n",
		    (long long)id, (long long)id);
	sb_add(&b, "</body></html>\n");
	free(c);
	free_facts(&rf);
	return sb_done(&b);
}
