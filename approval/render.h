/*
 * render.h: what approvers see, built from a request (the JSON of
 * rec_request_get()): the Slack Block Kit message, the Teams Adaptive
 * Card, the webhook event and the HTML review page, and the text
 * cleaning they share.  Pure: no I/O, no globals.
 *
 * Trusts nothing in the request: the command, reasons and transcript come
 * from agents and targets.  Every such text is made valid UTF-8 with
 * control characters shown as \xNN, cut to a size, and escaped for where
 * it goes (mrkdwn: &, <, > as entities and inside code blocks, so no
 * mention, link or formatting survives; HTML: entity-escaped).
 */
#ifndef BST_RENDER_H
#define BST_RENDER_H

#include <stddef.h>
#include <stdint.h>

struct json_object;

#define RND_CMD_MAX	2000	/* bytes of command text shown */
#define RND_TAIL_LINES	10
#define RND_TAIL_MAX	1200	/* bytes of transcript tail shown */

/*
 * Valid UTF-8 copy of len bytes of s: invalid bytes and control
 * characters (other than \n and \t when keep_nl) become "\xNN"; cut at
 * max bytes on a character boundary with " [N more bytes]" appended.
 * Returns malloc'd text.
 */
char *rnd_clean(const char *s, size_t len, size_t max, int keep_nl);

/*
 * The last maxlines lines (at most max bytes) of terminal output, with
 * escape sequences (CSI, OSC, DCS, two-byte ESC), carriage-return
 * overwrites and backspaces applied or removed, then cleaned as above.
 * Returns malloc'd text, "" when nothing printable is left.
 */
char *rnd_term_tail(const void *data, size_t len, int maxlines, size_t max);

/* mrkdwn: &, <, > as &amp; &lt; &gt;; malloc'd. */
char *rnd_md_escape(const char *s);
/* A ``` code block of already-cleaned text: escaped, with runs of
 * backticks broken by U+200B so the block cannot be closed early. */
char *rnd_md_block(const char *clean);
/* HTML text or attribute value: & < > " ' escaped; malloc'd. */
char *rnd_html(const char *s);

/*
 * The Slack chat.postMessage / chat.update body for request req: channel,
 * fallback text, blocks.  Pending requests get Approve / Deny buttons
 * (value = the request id; Deny asks for confirmation); decided ones show
 * the outcome and have none.  link may be NULL.  Caller owns the result.
 */
struct json_object *rnd_slack_message(struct json_object *req,
    const char *channel, const char *tail, const char *link);
/* Slack's "text" for an ephemeral reply (response_url). */
struct json_object *rnd_slack_ephemeral(const char *text);
/* A Teams Workflows webhook message: one Adaptive Card, with the context
 * and an Action.OpenUrl to link (Teams webhooks cannot call back). */
struct json_object *rnd_teams_card(struct json_object *req,
    const char *tail, const char *link);
/* The generic webhook event: {"event", "time", "request": {...}, "url"}. */
struct json_object *rnd_event(struct json_object *req, const char *event,
    const char *link);
/*
 * The HTML review page, with a form to approve or deny with an approver
 * token while the request is pending; malloc'd.
 */
char *rnd_review_page(struct json_object *req, const char *tail);
/* The page answering that form: the broker's message, escaped; malloc'd. */
char *rnd_vote_page(int64_t id, int ok, const char *message);

#endif
