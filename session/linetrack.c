/*
 * linetrack.c: the keystroke tracker and the shell-integration mark
 * scanner (linetrack.h).  Pure functions over bytes; trusts nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "session/linetrack.h"

#define MARK_PREFIX	"\033]133;"
#define MARK_MAX	(2 * LT_MAX_LINE + 128)

void
lt_init(struct lt_input *t)
{
	memset(t, 0, sizeof(*t));
	t->certain = 1;
}

void
lt_free(struct lt_input *t)
{
	free(t->line);
	memset(t, 0, sizeof(*t));
}

void
lt_reset(struct lt_input *t)
{
	t->len = 0;
	t->certain = 1;
	t->paste = 0;
	t->esclen = 0;
}

static void
put(struct lt_input *t, uint8_t ch)
{
	if (t->len >= LT_MAX_LINE) {
		t->certain = 0;
		return;
	}
	if (t->len == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 128;
		t->line = xrealloc(t->line, t->cap);
	}
	t->line[t->len++] = (char)ch;
}

void
lt_set_line(struct lt_input *t, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		put(t, (uint8_t)s[i]);
}

/* Backspace: one character, UTF-8 aware. */
static void
rubout(struct lt_input *t)
{
	while (t->len > 0 &&
	    ((unsigned char)t->line[t->len - 1] & 0xc0) == 0x80)
		t->len--;
	if (t->len > 0)
		t->len--;
}

static int
blank(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n';
}

/* ^W as readline's unix-word-rubout: blanks, then the word before them. */
static void
word_rubout(struct lt_input *t)
{
	while (t->len > 0 && blank(t->line[t->len - 1]))
		t->len--;
	while (t->len > 0 && !blank(t->line[t->len - 1]))
		t->len--;
}

/* A complete escape sequence in t->esc: bracketed paste or not followed. */
static void
esc_done(struct lt_input *t)
{
	if (t->esclen == 6 && memcmp(t->esc, "\033[200~", 6) == 0)
		t->paste = 1;
	else if (t->esclen == 6 && memcmp(t->esc, "\033[201~", 6) == 0)
		t->paste = 0;
	else
		t->certain = 0;	/* arrows, function keys, meta keys... */
	t->esclen = 0;
}

/* 1 when the escape sequence in t->esc is complete. */
static int
esc_complete(const struct lt_input *t)
{
	uint8_t last = t->esc[t->esclen - 1];

	if (t->esclen < 2)
		return 0;
	if (t->esc[1] == '[') {
		/* CSI: parameters and intermediates, then a final byte. */
		return t->esclen > 2 && last >= 0x40 && last <= 0x7e;
	}
	if (t->esc[1] == 'O')
		return t->esclen >= 3;	/* SS3 x */
	return 1;			/* ESC x: a meta key */
}

size_t
lt_feed(struct lt_input *t, const uint8_t *in, size_t n, uint8_t *fwd,
    size_t *nfwd, int *enter)
{
	size_t i;
	uint8_t ch;

	*nfwd = 0;
	*enter = 0;
	for (i = 0; i < n; i++) {
		ch = in[i];
		if (ch == LT_BASTION_BYTE) {
			t->dropped++;	/* never the agent's to send */
			continue;
		}
		if (t->esclen > 0) {
			fwd[(*nfwd)++] = ch;
			if (t->esclen < sizeof(t->esc))
				t->esc[t->esclen++] = ch;
			else
				t->esc[sizeof(t->esc) - 1] = ch;
			if (ch == 0x1b && t->esclen == 2) {
				/* ESC ESC: the first was a key of its own. */
				t->certain = 0;
				t->esc[0] = 0x1b;
				t->esclen = 1;
			} else if (esc_complete(t))
				esc_done(t);
			continue;
		}
		if (ch == 0x1b) {
			t->esc[0] = ch;
			t->esclen = 1;
			fwd[(*nfwd)++] = ch;
			continue;
		}
		if ((ch == '\r' || ch == '\n') && !t->paste) {
			*enter = 1;
			return i + 1;
		}
		fwd[(*nfwd)++] = ch;
		if (t->paste) {
			/* Pasted text is inserted as it is (CR as newline). */
			if (ch == '\r')
				ch = '\n';
			if (ch < 0x20 && ch != '\n' && ch != '\t')
				t->certain = 0;
			else
				put(t, ch);
			continue;
		}
		if (ch >= 0x20 && ch != 0x7f) {
			put(t, ch);	/* printable, and UTF-8 bytes */
			continue;
		}
		switch (ch) {
		case 0x7f:	/* DEL */
		case 0x08:	/* ^H */
			rubout(t);
			break;
		case 0x15:	/* ^U: unix-line-discard (cursor at the end) */
			t->len = 0;
			break;
		case 0x17:	/* ^W */
			word_rubout(t);
			break;
		case 0x03:	/* ^C: the shell drops the line */
			t->len = 0;
			t->certain = 1;
			break;
		case 0x0c:	/* ^L: redraw, the line is unchanged */
			break;
		default:	/* ^A ^E ^K ^Y ^R ^P ^N ^T TAB ...: not followed */
			t->certain = 0;
			break;
		}
	}
	return n;
}

/* ---- marks ---- */

void
lt_marks_init(struct lt_marks *m, const char *nonce)
{
	memset(m, 0, sizeof(*m));
	snprintf(m->nonce, sizeof(m->nonce), "%s", nonce);
}

void
lt_marks_free(struct lt_marks *m)
{
	free(m->buf);
	free(m->line);
	memset(m, 0, sizeof(*m));
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The body after "\e]133;", without the BEL. */
static enum lt_event
mark_parse(struct lt_marks *m, const char *b, size_t len)
{
	size_t nl = strlen(m->nonce), i, hexlen;
	const char *hex;

	if (nl == 0)
		return LT_EV_NONE;
	if (len == 2 + nl && memcmp(b, "A;", 2) == 0 &&
	    memcmp(b + 2, m->nonce, nl) == 0)
		return LT_EV_PROMPT;
	if (len < 2 + nl + 1 + LT_CHAL_LEN + 1 || memcmp(b, "L;", 2) != 0 ||
	    memcmp(b + 2, m->nonce, nl) != 0 || b[2 + nl] != ';' ||
	    b[2 + nl + 1 + LT_CHAL_LEN] != ';')
		return LT_EV_NONE;
	memcpy(m->chal, b + 2 + nl + 1, LT_CHAL_LEN);
	m->chal[LT_CHAL_LEN] = '\0';
	for (i = 0; i < LT_CHAL_LEN; i++)
		if (hexval(m->chal[i]) < 0)
			return LT_EV_NONE;
	hex = b + 2 + nl + 1 + LT_CHAL_LEN + 1;
	hexlen = len - (size_t)(hex - b);
	if (hexlen % 2 != 0)
		return LT_EV_NONE;
	free(m->line);
	m->line = xmalloc(hexlen / 2 + 1);
	for (i = 0; i < hexlen / 2; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);

		if (hi < 0 || lo < 0) {
			free(m->line);
			m->line = NULL;
			return LT_EV_NONE;
		}
		m->line[i] = (char)(hi << 4 | lo);
	}
	m->line[hexlen / 2] = '\0';
	m->line_len = hexlen / 2;
	return LT_EV_REPORT;
}

size_t
lt_marks_feed(struct lt_marks *m, const uint8_t *p, size_t n,
    enum lt_event *ev)
{
	static const char prefix[] = MARK_PREFIX;
	size_t i;
	uint8_t ch;

	*ev = LT_EV_NONE;
	for (i = 0; i < n; i++) {
		ch = p[i];
		if (m->collecting) {
			if (ch == 0x07) {
				m->collecting = 0;
				*ev = mark_parse(m, m->buf, m->len);
				m->len = 0;
				if (*ev != LT_EV_NONE)
					return i + 1;
				continue;
			}
			if (ch < 0x20 || m->len >= MARK_MAX) {
				/* Not one of ours (ESC \ ends other OSCs). */
				m->collecting = 0;
				m->len = 0;
				m->match = ch == 0x1b ? 1 : 0;
				continue;
			}
			if (m->buf == NULL)
				m->buf = xmalloc(MARK_MAX);
			m->buf[m->len++] = (char)ch;
			continue;
		}
		if (ch == (uint8_t)prefix[m->match]) {
			if (++m->match == sizeof(prefix) - 1) {
				m->match = 0;
				m->collecting = 1;
				m->len = 0;
			}
		} else
			m->match = ch == 0x1b ? 1 : 0;
	}
	return n;
}
