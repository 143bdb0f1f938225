/*
 * linetrack.h: following what an agent types into a pty shell, and the
 * shell-integration marks in what the target prints.
 *
 * Two pure state machines over bytes (no I/O, no globals, fuzzed):
 *
 *  - lt_feed(): the keystroke tracker.  It follows the line being typed
 *    (printable text, UTF-8, backspace/DEL, ^U, ^W, ^C, bracketed paste)
 *    and stops at each Enter so the caller can hold it.  Any edit it
 *    cannot follow with certainty (arrows, history, completion, ^R,
 *    cursor movement, other control keys) clears ->certain: the line is
 *    then never guessed, the caller treats it as opaque or asks the
 *    shell.  The byte 0x1f (^_) is never forwarded: the bastion's own
 *    sequences to the shell start with it, so the agent cannot type them.
 *
 *  - lt_marks_feed(): finds the marks the bastion's shell integration
 *    prints (OSC 133 with the channel's nonce): "prompt shown" and "line
 *    report" (the shell's own edit buffer, hex, with the challenge the
 *    bastion sent).  Anything else passes unnoticed.  The caller treats
 *    marks as hints that can only make it judge more (docs/SECURITY.md).
 *
 * Trusts nothing: input comes from the agent, output from the target.
 */
#ifndef BST_LINETRACK_H
#define BST_LINETRACK_H

#include <stddef.h>
#include <stdint.h>

#define LT_MAX_LINE	(64 * 1024)	/* longer lines are not certain */
#define LT_NONCE_LEN	16		/* hex characters */
#define LT_CHAL_LEN	16		/* hex characters */
#define LT_BASTION_BYTE	0x1f		/* ^_: starts the bastion's sequences */

struct lt_input {
	char	*line;		/* the line as typed, not NUL-terminated */
	size_t	 len, cap;
	int	 certain;	/* every edit since the line began was followed */
	int	 paste;		/* inside a bracketed paste */
	uint8_t	 esc[32];	/* escape sequence being read */
	size_t	 esclen;
	size_t	 dropped;	/* ^_ bytes dropped, in total */
};

void lt_init(struct lt_input *t);
void lt_free(struct lt_input *t);
/* A new, empty line (certain). */
void lt_reset(struct lt_input *t);
/* Appends n bytes to the line as they are (the shell's own buffer). */
void lt_set_line(struct lt_input *t, const char *s, size_t n);

/*
 * Feeds n bytes the agent typed.  The bytes to forward to the target are
 * written to fwd (room for n bytes), their count to *nfwd.  Stops after
 * the first Enter (CR or LF outside a bracketed paste), which is consumed
 * but not forwarded, and sets *enter.  Returns the bytes consumed.
 */
size_t lt_feed(struct lt_input *t, const uint8_t *in, size_t n,
    uint8_t *fwd, size_t *nfwd, int *enter);

enum lt_event {
	LT_EV_NONE = 0,
	LT_EV_PROMPT,	/* the shell shows its prompt */
	LT_EV_REPORT,	/* the shell reported its line: chal, line */
};

struct lt_marks {
	char	 nonce[LT_NONCE_LEN + 1];
	size_t	 match;		/* bytes of "\e]133;" matched */
	char	*buf;		/* mark body being collected */
	size_t	 len;
	int	 collecting;
	/* The last LT_EV_REPORT: */
	char	 chal[LT_CHAL_LEN + 1];
	char	*line;		/* decoded, NUL-terminated */
	size_t	 line_len;
};

void lt_marks_init(struct lt_marks *m, const char *nonce);
void lt_marks_free(struct lt_marks *m);
/*
 * Feeds n bytes of target output.  Returns the bytes consumed: all of
 * them, or fewer when a mark ended (*ev set, see m->chal / m->line for a
 * report); call again with the rest.
 */
size_t lt_marks_feed(struct lt_marks *m, const uint8_t *p, size_t n,
    enum lt_event *ev);

#endif
