/*
 * cmdparse.c: static analysis of the shell command strings an agent sends
 * (what `ssh host 'CMD'` carries), for policy decisions: every simple
 * command that could run, through which wrappers, and every file a
 * redirection (or tee, dd, find -fprint, time -o, strace -o, script...)
 * writes.
 *
 * Trusts nothing: the input is whatever the agent sent, at most
 * PC_MAX_INPUT bytes.  A pure function over bytes: no I/O, no globals;
 * the mutable state lives in struct ctx and struct lex, and everything
 * but the result is freed before pc_parse returns.  Nothing is expanded
 * or executed; what cannot be known statically is reported as opaque.
 * Recursion is bounded (PC_MAX_NEST syntactic levels, PC_MAX_DEPTH
 * command levels) so hostile nesting fails with PC_ERR_DEPTH instead of
 * exhausting the stack.
 *
 * Reading order: words (text plus per-byte quoting flags); the lexer
 * (quotes, $'...', expansions, substitutions parsed recursively,
 * heredocs); the parser (lists, pipelines, compound commands), which
 * collects raw simple commands; the analysis (wrapper table, shells and
 * interpreters, writes), which turns them into struct pc_command;
 * pc_result_describe and pc_result_free.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "policy/cmdparse.h"

#define PC_MAX_NEST	100	/* ( { if $( ${ ` ... inside each other */
#define PC_MAX_DEPTH	16	/* wrappers, substitutions, sh -c strings */

/* Per-byte flags of a word. */
#define WF_Q	0x01	/* quoted: literal, never a glob */
#define WF_X	0x02	/* source text of an expansion, kept verbatim */
#define WF_RX	0x04	/* with WF_X: replaced by xargs -I */
#define WF_RF	0x08	/* with WF_X: replaced by find -exec ({}) */

struct word {
	char		*s;	/* after quote removal, NUL-terminated */
	unsigned char	*f;	/* WF_* per byte of s */
	size_t		 len, cap;
	size_t		 off;	/* offset of the word in the input */
	int		 quoted;	/* any quoting at all ('', "", \) */
	int		 hasx;		/* any WF_X byte */
};

/* Where a command's standard input comes from. */
enum stdin_kind {
	SI_INHERIT = 0,	/* from the enclosing context, decided later */
	SI_TTY,		/* the session's own input */
	SI_PIPE,	/* right side of a pipe, >(...) */
	SI_FILE,	/* < file, <> file, <&n */
	SI_HEREDOC,	/* <<EOF, <<< word */
	SI_XARGS,	/* run by xargs with arguments from its input */
};

/* A simple command as parsed, before wrapper analysis. */
struct rawcmd {
	struct word	**av;
	size_t		  ac, cap;
	int		  depth;
	const char	 *via;
	int		  si;
};

struct cmdlist {
	struct rawcmd	*v;
	size_t		 n, cap;
};

struct ctx {
	struct pc_result *res;
	size_t		  capcmds, capwrites;
	enum pc_error	  err;
	char		 *errmsg;
	int		  incomplete;
	int		  nest;
	struct word	**words;	/* every word allocated, freed at the end */
	size_t		  nwords, capwords;
	char		**strs;		/* other strings owned until the end */
	size_t		  nstrs, capstrs;
};

enum tokt {
	T_EOF, T_WORD, T_NL, T_SEMI, T_AMP, T_ANDAND, T_OROR, T_PIPE,
	T_PIPEAMP, T_LPAREN, T_RPAREN, T_DSEMI, T_REDIR,
};

enum redir {
	R_IN, R_OUT, R_APPEND, R_CLOBBER, R_RW, R_DUPIN, R_DUPOUT,
	R_HEREDOC, R_HEREDOC_STRIP, R_HERESTR, R_ALLOUT, R_ALLAPPEND,
};

struct tok {
	enum tokt	 t;
	size_t		 pos;	/* in the lexer's buffer */
	struct word	*w;
	enum redir	 rk;
	int		 fd;	/* -1: none given */
	const char	*text;	/* operator text */
};

struct heredoc {
	struct word	*delim;
	int		 strip;	/* <<- */
	size_t		 pos;
};

/*
 * One buffer being lexed: the input, a heredoc body, a backquoted
 * command or a string a wrapper runs.  Commands found go to *out with
 * the current depth and via.
 */
struct lex {
	struct ctx	*c;
	const char	*s;
	size_t		 len, pos;
	size_t		 base;		/* offset of s[0] in the input */
	int		 real_eof;	/* the end of s is the end of the input */
	int		 depth;
	const char	*via;
	struct cmdlist	*out;
	struct heredoc	*hd;		/* pending: bodies start after the next newline */
	size_t		 nhd, caphd;
	struct tok	 tok;
	int		 have;		/* tok holds the next token */
};

#define OFF(ls, p)	((ls)->base + (p))

static int parse_list(struct lex *, size_t *);
static int parse_command(struct lex *);
static int parse_pipeline(struct lex *);
static int parse_program(struct lex *);
static int lex_dollar(struct lex *, struct word *, int);
static int lex_backtick(struct lex *, struct word *, int);
static int lex_dquote(struct lex *, struct word *);
static int lex_squote(struct lex *, struct word *);
static int analyze(struct ctx *, struct word **, size_t, int, const char *,
    int);

/* ---- small helpers ---- */

static void *
grow(void *p, size_t *cap, size_t need, size_t sz)
{
	size_t n;

	if (need <= *cap)
		return p;
	n = *cap ? *cap : 8;
	while (n < need)
		n *= 2;
	p = xrealloc(p, n * sz);
	*cap = n;
	return p;
}

static int
is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int
is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int
is_hex(int c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int
hexval(int c)
{
	if (is_digit(c))
		return c - '0';
	return (c | 0x20) - 'a' + 10;
}

/* Printable, bounded copy of untrusted text for error messages. */
static void
sanitize(char *dst, size_t dstsz, const char *src, size_t len)
{
	size_t i, o = 0;

	for (i = 0; i < len && o + 4 < dstsz; i++) {
		unsigned char ch = (unsigned char)src[i];

		dst[o++] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
	}
	if (i < len && o + 3 < dstsz) {
		dst[o++] = '.';
		dst[o++] = '.';
		dst[o++] = '.';
	}
	dst[o] = '\0';
}

/* Records the first error; returns -1 for `return err(...)`. */
static int __attribute__((format(printf, 4, 5)))
err(struct ctx *c, enum pc_error code, int incomplete, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	if (c->err != PC_OK)
		return -1;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	if (msg == NULL)
		msg = xstrdup("error");
	c->err = code;
	c->errmsg = msg;
	c->incomplete = incomplete;
	return -1;
}

static const char *
keep_str(struct ctx *c, char *s)
{
	c->strs = grow(c->strs, &c->capstrs, c->nstrs + 1, sizeof(*c->strs));
	c->strs[c->nstrs++] = s;
	return s;
}

/* ---- words ---- */

static struct word *
word_new(struct ctx *c, size_t off)
{
	struct word *w = xcalloc(1, sizeof(*w));

	w->cap = 16;
	w->s = xmalloc(w->cap);
	w->f = xmalloc(w->cap);
	w->s[0] = '\0';
	w->off = off;
	c->words = grow(c->words, &c->capwords, c->nwords + 1,
	    sizeof(*c->words));
	c->words[c->nwords++] = w;
	return w;
}

static void
word_put(struct word *w, const char *p, size_t n, unsigned char fl)
{
	if (w == NULL)
		return;
	if (w->len + n + 1 > w->cap) {
		while (w->len + n + 1 > w->cap)
			w->cap *= 2;
		w->s = xrealloc(w->s, w->cap);
		w->f = xrealloc(w->f, w->cap);
	}
	memcpy(w->s + w->len, p, n);
	memset(w->f + w->len, fl, n);
	w->len += n;
	w->s[w->len] = '\0';
	if (fl & WF_X)
		w->hasx = 1;
	if (fl & WF_Q)
		w->quoted = 1;
}

static void
word_putc(struct word *w, int ch, unsigned char fl)
{
	char b = (char)ch;

	word_put(w, &b, 1, fl);
}

static struct word *
word_from(struct ctx *c, const char *s)
{
	struct word *w = word_new(c, 0);

	word_put(w, s, strlen(s), 0);
	return w;
}

/* Unquoted and without expansions: can be a reserved word. */
static int
word_is(const struct word *w, const char *kw)
{
	return !w->quoted && !w->hasx && strcmp(w->s, kw) == 0;
}

/* An unquoted expansion from byte `from` on: any number of words. */
static int
has_ux(const struct word *w, size_t from)
{
	size_t i;

	for (i = from; i < w->len; i++)
		if ((w->f[i] & WF_X) && !(w->f[i] & WF_Q))
			return 1;
	return 0;
}

/* An argument as the command sees it: quoting does not matter. */
static int
arg_is(const struct word *w, const char *s)
{
	return !w->hasx && strcmp(w->s, s) == 0;
}

static int
range_hasx(const struct word *w, size_t from)
{
	size_t i;

	for (i = from; i < w->len; i++)
		if (w->f[i] & WF_X)
			return 1;
	return 0;
}

/* ---- lexer ---- */

static int
pk(const struct lex *ls, size_t k)
{
	size_t p = ls->pos + k;

	return p < ls->len ? (unsigned char)ls->s[p] : -1;
}

static int
at_end(const struct lex *ls)
{
	return ls->real_eof && ls->pos >= ls->len;
}

static int
enter(struct lex *ls, size_t p)
{
	if (++ls->c->nest > PC_MAX_NEST)
		return err(ls->c, PC_ERR_DEPTH, 0,
		    "nesting deeper than %d levels at offset %zu",
		    PC_MAX_NEST, OFF(ls, p));
	return 0;
}

static void
leave(struct lex *ls)
{
	ls->c->nest--;
}

static void
mark_stdin(struct cmdlist *l, size_t from, int si)
{
	size_t i;

	for (i = from; i < l->n; i++)
		if (l->v[i].si == SI_INHERIT)
			l->v[i].si = si;
}

static int
lex_squote(struct lex *ls, struct word *w)
{
	size_t start = ls->pos;
	const char *q;

	q = memchr(ls->s + start + 1, '\'', ls->len - start - 1);
	if (q == NULL) {
		ls->pos = ls->len;
		return err(ls->c, PC_ERR_SYNTAX, at_end(ls),
		    "unterminated single quote at offset %zu", OFF(ls, start));
	}
	if (w != NULL) {
		w->quoted = 1;
		word_put(w, ls->s + start + 1, (size_t)(q - ls->s) - start - 1,
		    WF_Q);
	}
	ls->pos = (size_t)(q - ls->s) + 1;
	return 0;
}

static int
lex_dquote(struct lex *ls, struct word *w)
{
	size_t start = ls->pos;
	int ch, n, r;

	ls->pos++;
	if (w != NULL)
		w->quoted = 1;
	for (;;) {
		if ((ch = pk(ls, 0)) < 0)
			return err(ls->c, PC_ERR_SYNTAX, at_end(ls),
			    "unterminated double quote at offset %zu",
			    OFF(ls, start));
		if (ch == '"') {
			ls->pos++;
			return 0;
		}
		if (ch == '\\') {
			n = pk(ls, 1);
			if (n == '\n')
				ls->pos += 2;
			else if (n == '$' || n == '`' || n == '"' || n == '\\') {
				word_putc(w, n, WF_Q);
				ls->pos += 2;
			} else {
				word_putc(w, '\\', WF_Q);
				ls->pos++;
			}
			continue;
		}
		if (ch == '$') {
			if ((r = lex_dollar(ls, w, 1)) != 0)
				return r;
			continue;
		}
		if (ch == '`') {
			if ((r = lex_backtick(ls, w, 1)) != 0)
				return r;
			continue;
		}
		word_putc(w, ch, WF_Q);
		ls->pos++;
	}
}

static void
put_utf8(struct word *w, uint32_t v)
{
	char b[4];

	if (v < 0x80) {
		b[0] = (char)v;
		word_put(w, b, 1, WF_Q);
	} else if (v < 0x800) {
		b[0] = (char)(0xc0 | (v >> 6));
		b[1] = (char)(0x80 | (v & 0x3f));
		word_put(w, b, 2, WF_Q);
	} else if (v < 0x10000) {
		b[0] = (char)(0xe0 | (v >> 12));
		b[1] = (char)(0x80 | ((v >> 6) & 0x3f));
		b[2] = (char)(0x80 | (v & 0x3f));
		word_put(w, b, 3, WF_Q);
	} else if (v < 0x110000) {
		b[0] = (char)(0xf0 | (v >> 18));
		b[1] = (char)(0x80 | ((v >> 12) & 0x3f));
		b[2] = (char)(0x80 | ((v >> 6) & 0x3f));
		b[3] = (char)(0x80 | (v & 0x3f));
		word_put(w, b, 4, WF_Q);
	} else
		word_putc(w, '?', WF_Q);
}

/* $'...': bash's ANSI-C quoting.  A NUL ends the string, as in bash. */
static int
lex_ansic(struct lex *ls, struct word *w)
{
	size_t start = ls->pos;
	int ch, n, k, trunc = 0;
	uint32_t v;

	ls->pos += 2;
	if (w != NULL)
		w->quoted = 1;
	for (;;) {
		if ((ch = pk(ls, 0)) < 0)
			return err(ls->c, PC_ERR_SYNTAX, at_end(ls),
			    "unterminated $'...' quote at offset %zu",
			    OFF(ls, start));
		if (ch == '\'') {
			ls->pos++;
			return 0;
		}
		if (ch != '\\' || (n = pk(ls, 1)) < 0) {
			if (!trunc)
				word_putc(w, ch, WF_Q);
			ls->pos++;
			continue;
		}
		ls->pos += 2;
		v = 0;
		switch (n) {
		case 'a': v = 7; break;
		case 'b': v = 8; break;
		case 'e': case 'E': v = 27; break;
		case 'f': v = 12; break;
		case 'n': v = 10; break;
		case 'r': v = 13; break;
		case 't': v = 9; break;
		case 'v': v = 11; break;
		case '\\': case '\'': case '"': case '?': v = (uint32_t)n; break;
		case '0': case '1': case '2': case '3':
		case '4': case '5': case '6': case '7':
			v = (uint32_t)(n - '0');
			for (k = 0; k < 2 && (ch = pk(ls, 0)) >= '0' && ch <= '7';
			    k++, ls->pos++)
				v = v * 8 + (uint32_t)(ch - '0');
			v &= 0xff;
			break;
		case 'x': case 'u': case 'U':
			for (k = 0; k < (n == 'x' ? 2 : n == 'u' ? 4 : 8) &&
			    is_hex(ch = pk(ls, 0)); k++, ls->pos++)
				v = v * 16 + (uint32_t)hexval(ch);
			if (k == 0) {
				if (!trunc) {
					word_putc(w, '\\', WF_Q);
					word_putc(w, n, WF_Q);
				}
				continue;
			}
			if (n != 'x') {
				if (v == 0)
					trunc = 1;
				else if (!trunc)
					put_utf8(w, v);
				continue;
			}
			break;
		case 'c':
			if ((ch = pk(ls, 0)) < 0)
				continue;
			ls->pos++;
			v = (uint32_t)ch & 0x1f;
			break;
		default:
			if (!trunc) {
				word_putc(w, '\\', WF_Q);
				word_putc(w, n, WF_Q);
			}
			continue;
		}
		if (v == 0)
			trunc = 1;
		else if (!trunc)
			word_putc(w, (int)v, WF_Q);
	}
}

/*
 * After "$((" or "((": arithmetic if the parentheses close with "))",
 * a command substitution / nested subshells otherwise ("$((a); b)").
 */
static int
arith_prescan(const struct lex *ls, size_t p)
{
	int depth = 0;
	const char *q;

	while (p < ls->len) {
		switch (ls->s[p]) {
		case '\\':
			p++;
			break;
		case '\'':
			q = memchr(ls->s + p + 1, '\'', ls->len - p - 1);
			if (q == NULL)
				return 0;
			p = (size_t)(q - ls->s);
			break;
		case '"':
			for (p++; p < ls->len && ls->s[p] != '"'; p++)
				if (ls->s[p] == '\\')
					p++;
			break;
		case '(':
			depth++;
			break;
		case ')':
			if (depth > 0)
				depth--;
			else
				return p + 1 < ls->len && ls->s[p + 1] == ')';
			break;
		}
		p++;
	}
	return 0;	/* unterminated: parsed as nested parentheses */
}

/* Arithmetic is not a command, but substitutions inside it run. */
static int
lex_arith(struct lex *ls, size_t skip)
{
	size_t start = ls->pos;
	int depth = 0, ch, r = 0;

	if ((r = enter(ls, start)) != 0)
		return r;
	ls->pos += skip;
	for (;;) {
		if ((ch = pk(ls, 0)) < 0) {
			r = err(ls->c, PC_ERR_SYNTAX, at_end(ls),
			    "unterminated arithmetic expression at offset %zu",
			    OFF(ls, start));
			break;
		}
		if (ch == '(') {
			depth++;
			ls->pos++;
		} else if (ch == ')') {
			ls->pos++;
			if (depth > 0)
				depth--;
			else {
				if (pk(ls, 0) == ')')
					ls->pos++;
				break;
			}
		} else if (ch == '\\')
			ls->pos += pk(ls, 1) < 0 ? 1 : 2;
		else if (ch == '\'')
			r = lex_squote(ls, NULL);
		else if (ch == '"')
			r = lex_dquote(ls, NULL);
		else if (ch == '$')
			r = lex_dollar(ls, NULL, 1);
		else if (ch == '`')
			r = lex_backtick(ls, NULL, 1);
		else
			ls->pos++;
		if (r != 0)
			break;
	}
	leave(ls);
	return r;
}

static const char *
tok_desc(const struct tok *t, char *buf, size_t sz)
{
	switch (t->t) {
	case T_EOF:	return "end of input";
	case T_NL:	return "newline";
	case T_SEMI:	return ";";
	case T_AMP:	return "&";
	case T_ANDAND:	return "&&";
	case T_OROR:	return "||";
	case T_PIPE:	return "|";
	case T_PIPEAMP:	return "|&";
	case T_LPAREN:	return "(";
	case T_RPAREN:	return ")";
	case T_DSEMI:
	case T_REDIR:	return t->text;
	case T_WORD:
		sanitize(buf, sz, t->w->s, t->w->len);
		return buf;
	}
	return "?";
}

static int lex_next(struct lex *, struct tok *);

static int
peek(struct lex *ls, struct tok **tp)
{
	struct tok t;
	int r;

	if (!ls->have) {
		if ((r = lex_next(ls, &t)) != 0)
			return r;
		ls->tok = t;
		ls->have = 1;
	}
	*tp = &ls->tok;
	return 0;
}

static void
consume(struct lex *ls)
{
	ls->have = 0;
}

static int
unexpected(struct lex *ls, const struct tok *t, const char *what)
{
	char buf[48];

	if (t->t == T_EOF)
		return err(ls->c, PC_ERR_SYNTAX, at_end(ls),
		    "%s at end of input (offset %zu)", what, OFF(ls, t->pos));
	if (t->t == T_DSEMI)
		return err(ls->c, PC_ERR_SYNTAX, 0,
		    "'%s' outside case at offset %zu", t->text,
		    OFF(ls, t->pos));
	return err(ls->c, PC_ERR_SYNTAX, 0, "unexpected '%s' at offset %zu",
	    tok_desc(t, buf, sizeof(buf)), OFF(ls, t->pos));
}

/* $( ... ), <( ... ), >( ... ): a list parsed in place up to ")". */
static int
lex_subst(struct lex *ls, size_t skip, const char *via)
{
	size_t start = ls->pos, cnt;
	const char *svia = ls->via;
	struct tok *t;
	int r;

	if ((r = enter(ls, start)) != 0)
		return r;
	if (ls->depth + 1 > PC_MAX_DEPTH)
		return err(ls->c, PC_ERR_DEPTH, 0,
		    "commands nested deeper than %d levels at offset %zu",
		    PC_MAX_DEPTH, OFF(ls, start));
	ls->pos += skip;
	ls->depth++;
	ls->via = via;
	r = parse_list(ls, &cnt);
	ls->depth--;
	ls->via = svia;
	if (r != 0)
		return r;
	if ((r = peek(ls, &t)) != 0)
		return r;
	if (t->t != T_RPAREN) {
		if (t->t == T_EOF)
			return err(ls->c, PC_ERR_SYNTAX, at_end(ls),
			    "unterminated %.2s at offset %zu", via,
			    OFF(ls, start));
		return unexpected(ls, t, "missing ')'");
	}
	consume(ls);
	leave(ls);
	return 0;
}

/*
 * `...`: the text up to the closing backquote, with \` \\ \$ (and \"
 * inside double quotes) unescaped, is parsed as a program of its own.
 */
static int
lex_backtick(struct lex *ls, struct word *w, int dq)
{
	size_t start = ls->pos, n = 0, cap = 64;
	struct lex sub;
	char *buf;
	int ch, nx, r;

	if ((r = enter(ls, start)) != 0)
		return r;
	if (ls->depth + 1 > PC_MAX_DEPTH)
		return err(ls->c, PC_ERR_DEPTH, 0,
		    "commands nested deeper than %d levels at offset %zu",
		    PC_MAX_DEPTH, OFF(ls, start));
	buf = xmalloc(cap);
	ls->pos++;
	for (;;) {
		if ((ch = pk(ls, 0)) < 0) {
			free(buf);
			return err(ls->c, PC_ERR_SYNTAX, at_end(ls),
			    "unterminated backquote at offset %zu",
			    OFF(ls, start));
		}
		ls->pos++;
		if (ch == '`')
			break;
		if (ch == '\\' && ((nx = pk(ls, 0)) == '`' || nx == '\\' ||
		    nx == '$' || (dq && nx == '"'))) {
			ch = nx;
			ls->pos++;
		}
		buf = grow(buf, &cap, n + 1, 1);
		buf[n++] = (char)ch;
	}
	memset(&sub, 0, sizeof(sub));
	sub.c = ls->c;
	sub.s = buf;
	sub.len = n;
	sub.base = OFF(ls, start + 1);
	sub.depth = ls->depth + 1;
	sub.via = "`...`";
	sub.out = ls->out;
	r = parse_program(&sub);
	free(sub.hd);
	free(buf);
	if (r != 0)
		return r;
	word_put(w, ls->s + start, ls->pos - start, WF_X | (dq ? WF_Q : 0));
	leave(ls);
	return 0;
}

/* ${...}: scanned for the substitutions it may contain. */
static int
lex_param(struct lex *ls, int dq, size_t start)
{
	int ch, r = 0;

	if ((r = enter(ls, start)) != 0)
		return r;
	for (;;) {
		if ((ch = pk(ls, 0)) < 0) {
			r = err(ls->c, PC_ERR_SYNTAX, at_end(ls),
			    "unterminated ${ at offset %zu", OFF(ls, start));
			break;
		}
		if (ch == '}') {
			ls->pos++;
			break;
		}
		if (ch == '\\')
			ls->pos += pk(ls, 1) < 0 ? 1 : 2;
		else if (ch == '\'' && !dq)
			r = lex_squote(ls, NULL);
		else if (ch == '"')
			r = lex_dquote(ls, NULL);
		else if (ch == '$')
			r = lex_dollar(ls, NULL, 1);
		else if (ch == '`')
			r = lex_backtick(ls, NULL, 1);
		else
			ls->pos++;
		if (r != 0)
			break;
	}
	leave(ls);
	return r;
}

/* At '$': expansions are kept verbatim as WF_X text. */
static int
lex_dollar(struct lex *ls, struct word *w, int dq)
{
	size_t start = ls->pos;
	unsigned char xf = WF_X | (dq ? WF_Q : 0);
	int n = pk(ls, 1), r;

	if (n == '\'' && !dq)
		return lex_ansic(ls, w);
	if (n == '"' && !dq) {
		ls->pos++;
		return lex_dquote(ls, w);
	}
	if (n == '(') {
		if (pk(ls, 2) == '(' && arith_prescan(ls, ls->pos + 3))
			r = lex_arith(ls, 3);
		else
			r = lex_subst(ls, 2, "$(...)");
		if (r != 0)
			return r;
	} else if (n == '{') {
		ls->pos += 2;
		if ((r = lex_param(ls, dq, start)) != 0)
			return r;
	} else if (n >= 0 && is_alpha(n)) {
		ls->pos++;
		while ((n = pk(ls, 0)) >= 0 && (is_alpha(n) || is_digit(n)))
			ls->pos++;
	} else if (n >= 0 && (is_digit(n) || strchr("@*#?-$!", n) != NULL))
		ls->pos += 2;
	else {
		word_putc(w, '$', dq ? WF_Q : 0);
		ls->pos++;
		return 0;
	}
	word_put(w, ls->s + start, ls->pos - start, xf);
	return 0;
}

static int
lex_word(struct lex *ls, struct tok *t)
{
	struct word *w = word_new(ls->c, OFF(ls, ls->pos));
	size_t start, first;
	int ch, n, r;

	t->t = T_WORD;
	t->w = w;
	for (;;) {
		if ((ch = pk(ls, 0)) < 0)
			break;
		if (ch == ' ' || ch == '\t' || ch == '\n' || ch == ';' ||
		    ch == '&' || ch == '|' || ch == '(' || ch == ')')
			break;
		if (ch == '<' || ch == '>') {
			if (pk(ls, 1) != '(')
				break;
			start = ls->pos;
			first = ls->out->n;
			if ((r = lex_subst(ls, 2,
			    ch == '<' ? "<(...)" : ">(...)")) != 0)
				return r;
			if (ch == '>')
				mark_stdin(ls->out, first, SI_PIPE);
			word_put(w, ls->s + start, ls->pos - start, WF_X);
			continue;
		}
		r = 0;
		switch (ch) {
		case '\\':
			if ((n = pk(ls, 1)) < 0) {
				ls->pos++;
				return err(ls->c, PC_ERR_SYNTAX, at_end(ls),
				    "backslash at end of input (offset %zu)",
				    OFF(ls, ls->pos - 1));
			}
			if (n != '\n')
				word_putc(w, n, WF_Q);
			ls->pos += 2;
			break;
		case '\'':
			r = lex_squote(ls, w);
			break;
		case '"':
			r = lex_dquote(ls, w);
			break;
		case '$':
			r = lex_dollar(ls, w, 0);
			break;
		case '`':
			r = lex_backtick(ls, w, 0);
			break;
		default:
			word_putc(w, ch, 0);
			ls->pos++;
		}
		if (r != 0)
			return r;
	}
	return 0;
}

static void
scan_heredoc(struct lex *ls, size_t a, size_t b)
{
	struct lex sub;
	int ch, r = 0;

	memset(&sub, 0, sizeof(sub));
	sub.c = ls->c;
	sub.s = ls->s;
	sub.len = b;
	sub.pos = a;
	sub.base = ls->base;
	sub.depth = ls->depth;
	sub.via = ls->via;
	sub.out = ls->out;
	while (r == 0 && sub.pos < b) {
		ch = (unsigned char)sub.s[sub.pos];
		if (ch == '\\')
			sub.pos += sub.pos + 1 < b ? 2 : 1;
		else if (ch == '$')
			r = lex_dollar(&sub, NULL, 1);
		else if (ch == '`')
			r = lex_backtick(&sub, NULL, 1);
		else
			sub.pos++;
	}
	free(sub.hd);
}

/* After a newline: the bodies of the pending heredocs, in order. */
static int
read_heredocs(struct lex *ls)
{
	struct heredoc *h;
	const char *eol;
	size_t i, ln, lend, p, bstart, bend = 0;
	char dbuf[48];
	int found;

	for (i = 0; i < ls->nhd; i++) {
		h = &ls->hd[i];
		bstart = ls->pos;
		found = 0;
		while (ls->pos < ls->len) {
			ln = ls->pos;
			eol = memchr(ls->s + ln, '\n', ls->len - ln);
			lend = eol ? (size_t)(eol - ls->s) : ls->len;
			p = ln;
			if (h->strip)
				while (p < lend && ls->s[p] == '\t')
					p++;
			ls->pos = eol ? lend + 1 : ls->len;
			if (lend - p == h->delim->len &&
			    memcmp(ls->s + p, h->delim->s, lend - p) == 0) {
				bend = ln;
				found = 1;
				break;
			}
		}
		if (!found) {
			ls->nhd = 0;
			sanitize(dbuf, sizeof(dbuf), h->delim->s,
			    h->delim->len);
			return err(ls->c, PC_ERR_SYNTAX, at_end(ls),
			    "unterminated here-document at offset %zu "
			    "(no line '%s')", OFF(ls, h->pos), dbuf);
		}
		if (!h->delim->quoted && bend > bstart) {
			scan_heredoc(ls, bstart, bend);
			if (ls->c->err != PC_OK)
				return -1;
		}
	}
	ls->nhd = 0;
	return 0;
}

static void
skip_blank(struct lex *ls)
{
	int ch;

	for (;;) {
		ch = pk(ls, 0);
		if (ch == ' ' || ch == '\t')
			ls->pos++;
		else if (ch == '\\' && pk(ls, 1) == '\n')
			ls->pos += 2;
		else if (ch == '#') {
			while ((ch = pk(ls, 0)) >= 0 && ch != '\n')
				ls->pos++;
		} else
			break;
	}
}

static void
lex_redir(struct lex *ls, struct tok *t)
{
	static const struct {
		const char *op;
		enum redir rk;
	} ops[] = {
		{ "&>>", R_ALLAPPEND }, { "&>", R_ALLOUT },
		{ "<<<", R_HERESTR }, { "<<-", R_HEREDOC_STRIP },
		{ "<<", R_HEREDOC }, { "<&", R_DUPIN }, { "<>", R_RW },
		{ "<", R_IN }, { ">>", R_APPEND }, { ">&", R_DUPOUT },
		{ ">|", R_CLOBBER }, { ">", R_OUT },
	};
	size_t i, n;

	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		n = strlen(ops[i].op);
		if (ls->pos + n <= ls->len &&
		    memcmp(ls->s + ls->pos, ops[i].op, n) == 0)
			break;
	}
	/* the caller saw '<', '>' or "&>": one of them matches */
	t->t = T_REDIR;
	t->rk = ops[i].rk;
	t->text = ops[i].op;
	ls->pos += strlen(ops[i].op);
}

static int
lex_next(struct lex *ls, struct tok *t)
{
	size_t p;
	int ch, n;

	skip_blank(ls);
	memset(t, 0, sizeof(*t));
	t->pos = ls->pos;
	t->fd = -1;
	ch = pk(ls, 0);
	n = pk(ls, 1);
	switch (ch) {
	case -1:
		t->t = T_EOF;
		if (ls->nhd > 0) {
			char dbuf[48];

			sanitize(dbuf, sizeof(dbuf), ls->hd[0].delim->s,
			    ls->hd[0].delim->len);
			ls->nhd = 0;
			return err(ls->c, PC_ERR_SYNTAX, ls->real_eof,
			    "unterminated here-document at offset %zu "
			    "(no line '%s')", OFF(ls, ls->hd[0].pos), dbuf);
		}
		return 0;
	case '\n':
		ls->pos++;
		t->t = T_NL;
		return ls->nhd > 0 ? read_heredocs(ls) : 0;
	case ';':
		if (n == ';') {
			t->t = T_DSEMI;
			t->text = pk(ls, 2) == '&' ? ";;&" : ";;";
		} else if (n == '&') {
			t->t = T_DSEMI;
			t->text = ";&";
		} else {
			t->t = T_SEMI;
			t->text = ";";
		}
		ls->pos += t->text ? strlen(t->text) : 1;
		return 0;
	case '&':
		if (n == '>') {
			lex_redir(ls, t);
			return 0;
		}
		t->t = n == '&' ? T_ANDAND : T_AMP;
		ls->pos += n == '&' ? 2 : 1;
		return 0;
	case '|':
		t->t = n == '|' ? T_OROR : n == '&' ? T_PIPEAMP : T_PIPE;
		ls->pos += (n == '|' || n == '&') ? 2 : 1;
		return 0;
	case '(':
		t->t = T_LPAREN;
		ls->pos++;
		return 0;
	case ')':
		t->t = T_RPAREN;
		ls->pos++;
		return 0;
	case '<':
	case '>':
		if (n == '(')
			return lex_word(ls, t);
		lex_redir(ls, t);
		return 0;
	}
	if (is_digit(ch)) {
		for (p = ls->pos; p < ls->len && is_digit(ls->s[p]); p++)
			;
		if (p < ls->len && (ls->s[p] == '<' || ls->s[p] == '>') &&
		    !(p + 1 < ls->len && ls->s[p + 1] == '(')) {
			for (t->fd = 0; ls->pos < p; ls->pos++)
				if (t->fd < 10000)
					t->fd = t->fd * 10 + (ls->s[ls->pos] - '0');
			lex_redir(ls, t);
			return 0;
		}
	}
	return lex_word(ls, t);
}

/* ---- parser ---- */

static int
tok_is(const struct tok *t, const char *kw)
{
	return t->t == T_WORD && word_is(t->w, kw);
}

/* Reserved words that end a list. */
static int
is_closer(const struct tok *t)
{
	static const char *const closers[] = {
		"then", "else", "elif", "fi", "do", "done", "esac", "}", NULL
	};
	size_t i;

	if (t->t != T_WORD)
		return 0;
	for (i = 0; closers[i] != NULL; i++)
		if (word_is(t->w, closers[i]))
			return 1;
	return 0;
}

static int
skip_nl(struct lex *ls)
{
	struct tok *t;
	int r;

	for (;;) {
		if ((r = peek(ls, &t)) != 0)
			return r;
		if (t->t != T_NL)
			return 0;
		consume(ls);
	}
}

/* Expects reserved word kw, closing opener (at offset ooff). */
static int
expect_kw(struct lex *ls, const char *kw, const char *opener, size_t opos)
{
	struct tok *t;
	char buf[48];
	int r;

	if ((r = peek(ls, &t)) != 0)
		return r;
	if (tok_is(t, kw)) {
		consume(ls);
		return 0;
	}
	if (t->t == T_EOF)
		return err(ls->c, PC_ERR_SYNTAX, at_end(ls),
		    "missing '%s' for '%s' at offset %zu", kw, opener,
		    OFF(ls, opos));
	if (t->t == T_DSEMI)
		return unexpected(ls, t, "");
	return err(ls->c, PC_ERR_SYNTAX, 0,
	    "unexpected '%s' at offset %zu (expected '%s' for '%s' at "
	    "offset %zu)", tok_desc(t, buf, sizeof(buf)), OFF(ls, t->pos), kw,
	    opener, OFF(ls, opos));
}

static int
add_write(struct ctx *c, const struct word *w, size_t off)
{
	struct pc_result *res = c->res;
	struct pc_write pw;
	const char *p = w->s + off;
	size_t n = w->len - off, i;

	memset(&pw, 0, sizeof(pw));
	if (off > w->len)
		return 0;
	if (range_hasx(w, off)) {
		/* >(cmd): a pipe to a command analysed on its own */
		if (n >= 3 && (p[0] == '<' || p[0] == '>') && p[1] == '(' &&
		    p[n - 1] == ')') {
			for (i = off; i < w->len && (w->f[i] & WF_X); i++)
				;
			if (i == w->len)
				return 0;
		}
		pw.opaque = 1;
	} else {
		if (strcmp(p, "/dev/null") == 0 ||
		    strcmp(p, "/dev/stdout") == 0 ||
		    strcmp(p, "/dev/stderr") == 0)
			return 0;
		if (strncmp(p, "/dev/fd/", 8) == 0 && p[8] != '\0') {
			for (i = 8; is_digit(p[i]); i++)
				;
			if (p[i] == '\0')
				return 0;
		}
		pw.path = xstrdup(p);
	}
	res->writes = grow(res->writes, &c->capwrites, res->nwrites + 1,
	    sizeof(*res->writes));
	res->writes[res->nwrites++] = pw;
	return 0;
}

static int
parse_redirect(struct lex *ls, int *si)
{
	struct tok *t, op;
	struct heredoc *h;
	struct word *w;
	size_t i;
	int r;

	if ((r = peek(ls, &t)) != 0)
		return r;
	op = *t;
	consume(ls);
	if ((r = peek(ls, &t)) != 0)
		return r;
	if (t->t != T_WORD) {
		if (t->t == T_EOF)
			return err(ls->c, PC_ERR_SYNTAX, at_end(ls),
			    "missing target for '%s' at offset %zu", op.text,
			    OFF(ls, op.pos));
		return unexpected(ls, t, "");
	}
	w = t->w;
	consume(ls);
	switch (op.rk) {
	case R_IN:
	case R_DUPIN:
		if (op.fd <= 0)
			*si = SI_FILE;
		break;
	case R_HEREDOC:
	case R_HEREDOC_STRIP:
		ls->hd = grow(ls->hd, &ls->caphd, ls->nhd + 1,
		    sizeof(*ls->hd));
		h = &ls->hd[ls->nhd++];
		h->delim = w;
		h->strip = op.rk == R_HEREDOC_STRIP;
		h->pos = op.pos;
		/* FALLTHROUGH */
	case R_HERESTR:
		if (op.fd <= 0)
			*si = SI_HEREDOC;
		break;
	case R_RW:
		if (op.fd <= 0)
			*si = SI_FILE;
		return add_write(ls->c, w, 0);
	case R_OUT:
	case R_APPEND:
	case R_CLOBBER:
	case R_ALLOUT:
	case R_ALLAPPEND:
		return add_write(ls->c, w, 0);
	case R_DUPOUT:
		/* >&2, >&-: duplication; >&file (bash) is &>file */
		if (!w->hasx) {
			for (i = 0; i < w->len && is_digit(w->s[i]); i++)
				;
			if ((w->len > 0 && i == w->len) ||
			    strcmp(w->s, "-") == 0)
				break;
		}
		return add_write(ls->c, w, 0);
	}
	return 0;
}

/* NAME=, NAME+=, NAME[sub]= before the command name. */
static int
is_assignment(const struct word *w)
{
	size_t i = 0;

	if (w->len == 0 || w->f[0] != 0 || !is_alpha(w->s[0]))
		return 0;
	for (i = 1; i < w->len && w->f[i] == 0 &&
	    (is_alpha(w->s[i]) || is_digit(w->s[i])); i++)
		;
	if (i < w->len && w->s[i] == '[' && w->f[i] == 0) {
		while (i < w->len && !(w->s[i] == ']' && w->f[i] == 0))
			i++;
		if (i++ == w->len)
			return 0;
	}
	if (i < w->len && w->s[i] == '+' && w->f[i] == 0)
		i++;
	return i < w->len && w->s[i] == '=' && w->f[i] == 0;
}

static int
is_compound_start(const struct tok *t)
{
	static const char *const kws[] = {
		"{", "if", "while", "until", "for", "select", "case", "[[",
		NULL
	};
	size_t i;

	if (t->t == T_LPAREN)
		return 1;
	for (i = 0; kws[i] != NULL; i++)
		if (tok_is(t, kws[i]))
			return 1;
	return 0;
}

/* a=(1 2 3): the words are scanned for substitutions. */
static int
parse_array(struct lex *ls, size_t opos)
{
	struct tok *t;
	int r;

	ls->pos++;	/* the '(' right after '=' */
	for (;;) {
		if ((r = peek(ls, &t)) != 0)
			return r;
		if (t->t == T_RPAREN) {
			consume(ls);
			return 0;
		}
		if (t->t == T_EOF)
			return err(ls->c, PC_ERR_SYNTAX, at_end(ls),
			    "missing ')' for array assignment at offset %zu",
			    OFF(ls, opos));
		if (t->t != T_WORD && t->t != T_NL)
			return unexpected(ls, t, "");
		consume(ls);
	}
}

static int
parse_function_body(struct lex *ls, size_t opos)
{
	struct tok *t;
	int r;

	if ((r = skip_nl(ls)) != 0 || (r = peek(ls, &t)) != 0)
		return r;
	if (!is_compound_start(t)) {
		if (t->t == T_EOF)
			return err(ls->c, PC_ERR_SYNTAX, at_end(ls),
			    "missing function body for the definition at "
			    "offset %zu", OFF(ls, opos));
		return unexpected(ls, t, "");
	}
	return parse_command(ls);
}

static void
rawcmd_free(struct rawcmd *rc)
{
	free(rc->av);
	rc->av = NULL;
	rc->ac = rc->cap = 0;
}

/* Builtins whose NAME=(...) arguments are array assignments. */
static int
is_decl(const struct word *w)
{
	return word_is(w, "declare") || word_is(w, "typeset") ||
	    word_is(w, "local") || word_is(w, "export") ||
	    word_is(w, "readonly");
}

/* A simple command; first: its first word, already read (coproc). */
static int
parse_simple_from(struct lex *ls, struct word *first)
{
	struct rawcmd rc;
	struct cmdlist *l = ls->out;
	struct tok *t;
	struct word *w;
	size_t wpos, apos;
	int r, other = 0;

	memset(&rc, 0, sizeof(rc));
	rc.depth = ls->depth;
	rc.via = ls->via;
	if (first != NULL) {
		rc.av = grow(rc.av, &rc.cap, 1, sizeof(*rc.av));
		rc.av[rc.ac++] = first;
	}
	for (;;) {
		if ((r = peek(ls, &t)) != 0)
			goto out;
		if (t->t == T_REDIR) {
			other = 1;
			if ((r = parse_redirect(ls, &rc.si)) != 0)
				goto out;
			continue;
		}
		if (t->t != T_WORD)
			break;
		w = t->w;
		wpos = t->pos;
		consume(ls);
		if (rc.ac == 0 && is_assignment(w)) {
			other = 1;
			if (w->s[w->len - 1] == '=' && w->f[w->len - 1] == 0 &&
			    pk(ls, 0) == '(' &&
			    (r = parse_array(ls, wpos)) != 0)
				goto out;
			continue;
		}
		rc.av = grow(rc.av, &rc.cap, rc.ac + 1, sizeof(*rc.av));
		rc.av[rc.ac++] = w;
		if (rc.ac > 1 && is_decl(rc.av[0]) && is_assignment(w) &&
		    w->s[w->len - 1] == '=' && w->f[w->len - 1] == 0 &&
		    pk(ls, 0) == '(') {
			/* declare -a a=(...): kept as an expansion */
			apos = ls->pos;
			if ((r = parse_array(ls, wpos)) != 0)
				goto out;
			word_put(w, ls->s + apos, ls->pos - apos, WF_X);
			continue;
		}
		if (rc.ac == 1 && !other) {
			/* name ( ) compound-command */
			if ((r = peek(ls, &t)) != 0)
				goto out;
			if (t->t == T_LPAREN) {
				consume(ls);
				if ((r = peek(ls, &t)) != 0)
					goto out;
				if (t->t != T_RPAREN) {
					r = unexpected(ls, t, "missing ')'");
					goto out;
				}
				consume(ls);
				r = parse_function_body(ls, wpos);
				goto out;
			}
		}
	}
	r = 0;
	if (rc.ac > 0) {
		l->v = grow(l->v, &l->cap, l->n + 1, sizeof(*l->v));
		l->v[l->n++] = rc;
		return 0;
	}
 out:
	rawcmd_free(&rc);
	return r;
}

static int
parse_simple(struct lex *ls)
{
	return parse_simple_from(ls, NULL);
}

/*
 * coproc [NAME] command: the command runs with its input from a pipe the
 * shell can write to.  NAME only before a compound command.
 */
static int
parse_coproc(struct lex *ls, size_t opos)
{
	static const char *const reserved[] = {
		"function", "coproc", "time", "!", "in", NULL
	};
	struct tok *t;
	struct word *w;
	size_t first = ls->out->n, i;
	int r;

	consume(ls);
	if ((r = peek(ls, &t)) != 0)
		return r;
	if (t->t == T_EOF)
		return err(ls->c, PC_ERR_SYNTAX, at_end(ls),
		    "missing command after 'coproc' at offset %zu",
		    OFF(ls, opos));
	for (i = 0; reserved[i] != NULL && !tok_is(t, reserved[i]); i++)
		;
	if (t->t == T_WORD && reserved[i] == NULL && !is_closer(t) &&
	    !is_compound_start(t) && !t->w->quoted && !t->w->hasx &&
	    !is_assignment(t->w)) {
		w = t->w;
		consume(ls);
		if ((r = peek(ls, &t)) != 0)
			return r;
		if (is_compound_start(t))
			r = parse_command(ls);		/* NAME compound */
		else
			r = parse_simple_from(ls, w);
	} else if (tok_is(t, "!"))
		r = parse_pipeline(ls);
	else
		r = parse_command(ls);
	if (r != 0)
		return r;
	mark_stdin(ls->out, first, SI_PIPE);
	return 0;
}

/* Redirections after a compound command apply to all of it. */
static int
parse_compound_tail(struct lex *ls, size_t first)
{
	struct tok *t;
	int r, si = SI_INHERIT;

	for (;;) {
		if ((r = peek(ls, &t)) != 0)
			return r;
		if (t->t != T_REDIR)
			break;
		if ((r = parse_redirect(ls, &si)) != 0)
			return r;
	}
	if (si != SI_INHERIT)
		mark_stdin(ls->out, first, si);
	return 0;
}

static int
nonempty(struct lex *ls, size_t cnt, const char *what, size_t opos)
{
	if (cnt > 0)
		return 0;
	/* "if x; then" at the end of the input: more lines may follow. */
	return err(ls->c, PC_ERR_SYNTAX, at_end(ls) && ls->have &&
	    ls->tok.t == T_EOF, "empty %s at offset %zu", what, OFF(ls, opos));
}

static int
parse_if(struct lex *ls, size_t opos)
{
	struct tok *t;
	size_t cnt, kpos = opos;
	const char *kw = "if";
	int r;

	consume(ls);
	for (;;) {
		if ((r = parse_list(ls, &cnt)) != 0 ||
		    (r = nonempty(ls, cnt, "condition", kpos)) != 0 ||
		    (r = expect_kw(ls, "then", kw, kpos)) != 0 ||
		    (r = parse_list(ls, &cnt)) != 0 ||
		    (r = nonempty(ls, cnt, "'then' body", kpos)) != 0)
			return r;
		if ((r = peek(ls, &t)) != 0)
			return r;
		if (tok_is(t, "elif")) {
			kw = "elif";
			kpos = t->pos;
			consume(ls);
			continue;
		}
		if (tok_is(t, "else")) {
			kpos = t->pos;
			consume(ls);
			if ((r = parse_list(ls, &cnt)) != 0 ||
			    (r = nonempty(ls, cnt, "'else' body", kpos)) != 0)
				return r;
		}
		return expect_kw(ls, "fi", "if", opos);
	}
}

static int
parse_loop(struct lex *ls, const char *kw, size_t opos)
{
	size_t cnt;
	int r;

	if (strcmp(kw, "for") != 0 &&
	    ((r = parse_list(ls, &cnt)) != 0 ||
	    (r = nonempty(ls, cnt, "condition", opos)) != 0))
		return r;
	if ((r = expect_kw(ls, "do", kw, opos)) != 0 ||
	    (r = parse_list(ls, &cnt)) != 0 ||
	    (r = nonempty(ls, cnt, "loop body", opos)) != 0 ||
	    (r = expect_kw(ls, "done", kw, opos)) != 0)
		return r;
	return 0;
}

static int
parse_for(struct lex *ls, size_t opos)
{
	struct tok *t;
	int r;

	consume(ls);
	if ((r = peek(ls, &t)) != 0)
		return r;
	if (t->t == T_LPAREN && pk(ls, 0) == '(') {
		/* for ((init; cond; step)) */
		consume(ls);
		ls->pos = t->pos;
		if ((r = lex_arith(ls, 2)) != 0)
			return r;
		if ((r = peek(ls, &t)) != 0)
			return r;
		if (t->t == T_SEMI)
			consume(ls);
	} else {
		if (t->t != T_WORD)
			return unexpected(ls, t, "missing loop variable");
		consume(ls);
		if ((r = skip_nl(ls)) != 0 || (r = peek(ls, &t)) != 0)
			return r;
		if (tok_is(t, "in")) {
			consume(ls);
			for (;;) {
				if ((r = peek(ls, &t)) != 0)
					return r;
				if (t->t != T_WORD)
					break;
				consume(ls);
			}
			if (t->t == T_SEMI || t->t == T_NL)
				consume(ls);
			else if (t->t == T_EOF)
				return err(ls->c, PC_ERR_SYNTAX, at_end(ls),
				    "missing 'do' for 'for' at offset %zu",
				    OFF(ls, opos));
			else
				return unexpected(ls, t, "");
		} else if (t->t == T_SEMI)
			consume(ls);
	}
	return parse_loop(ls, "for", opos) == 0 ? 0 : -1;
}

static int
parse_case(struct lex *ls, size_t opos)
{
	struct tok *t;
	size_t cnt;
	int r;

	consume(ls);
	if ((r = peek(ls, &t)) != 0)
		return r;
	if (t->t != T_WORD)
		return unexpected(ls, t, "missing case word");
	consume(ls);
	if ((r = skip_nl(ls)) != 0 ||
	    (r = expect_kw(ls, "in", "case", opos)) != 0)
		return r;
	for (;;) {
		if ((r = skip_nl(ls)) != 0 || (r = peek(ls, &t)) != 0)
			return r;
		if (tok_is(t, "esac")) {
			consume(ls);
			return 0;
		}
		if (t->t == T_EOF)
			return err(ls->c, PC_ERR_SYNTAX, at_end(ls),
			    "missing 'esac' for 'case' at offset %zu",
			    OFF(ls, opos));
		if (t->t == T_LPAREN) {
			consume(ls);
			if ((r = peek(ls, &t)) != 0)
				return r;
		}
		for (;;) {
			if (t->t != T_WORD)
				return unexpected(ls, t, "missing pattern");
			consume(ls);
			if ((r = peek(ls, &t)) != 0)
				return r;
			if (t->t != T_PIPE)
				break;
			consume(ls);
			if ((r = peek(ls, &t)) != 0)
				return r;
		}
		if (t->t != T_RPAREN)
			return unexpected(ls, t, "missing ')' after pattern");
		consume(ls);
		if ((r = parse_list(ls, &cnt)) != 0 || (r = peek(ls, &t)) != 0)
			return r;
		if (t->t == T_DSEMI) {
			consume(ls);
			continue;
		}
		if (tok_is(t, "esac"))
			continue;
		if (t->t == T_EOF)
			return err(ls->c, PC_ERR_SYNTAX, at_end(ls),
			    "missing 'esac' for 'case' at offset %zu",
			    OFF(ls, opos));
		return unexpected(ls, t, "");
	}
}

/* [[ ... ]]: a test, not a command; its words may hold substitutions. */
static int
parse_dbracket(struct lex *ls, size_t opos)
{
	struct tok *t;
	int r;

	consume(ls);
	for (;;) {
		if ((r = peek(ls, &t)) != 0)
			return r;
		switch (t->t) {
		case T_EOF:
			return err(ls->c, PC_ERR_SYNTAX, at_end(ls),
			    "missing ']]' for '[[' at offset %zu",
			    OFF(ls, opos));
		case T_WORD:
			consume(ls);
			if (word_is(t->w, "]]"))
				return 0;
			break;
		case T_SEMI:
		case T_AMP:
		case T_DSEMI:
			return unexpected(ls, t, "");
		default:
			consume(ls);
		}
	}
}

static int
parse_command(struct lex *ls)
{
	struct tok *t;
	size_t first = ls->out->n, opos, cnt;
	int r;

	if ((r = peek(ls, &t)) != 0)
		return r;
	opos = t->pos;
	if (t->t == T_REDIR)
		return parse_simple(ls);
	if (t->t == T_LPAREN) {
		if ((r = enter(ls, opos)) != 0)
			return r;
		consume(ls);
		if (pk(ls, 0) == '(' && ls->pos == opos + 1 &&
		    arith_prescan(ls, ls->pos + 1)) {
			/* (( arithmetic )) */
			ls->pos = opos;
			r = lex_arith(ls, 2);
		} else {
			if ((r = parse_list(ls, &cnt)) != 0 ||
			    (r = peek(ls, &t)) != 0)
				return r;
			if (t->t != T_RPAREN) {
				if (t->t == T_EOF)
					return err(ls->c, PC_ERR_SYNTAX,
					    at_end(ls), "missing ')' for '(' "
					    "at offset %zu", OFF(ls, opos));
				return unexpected(ls, t, "");
			}
			consume(ls);
			r = nonempty(ls, cnt, "subshell", opos);
		}
		leave(ls);
		if (r != 0)
			return r;
		return parse_compound_tail(ls, first);
	}
	if (t->t != T_WORD)
		return unexpected(ls, t, "missing command");
	if (t->w->quoted || t->w->hasx)
		return parse_simple(ls);
	if ((r = enter(ls, opos)) != 0)
		return r;
	if (tok_is(t, "coproc")) {
		if ((r = parse_coproc(ls, opos)) != 0)
			return r;
		leave(ls);
		return 0;
	}
	if (tok_is(t, "{")) {
		consume(ls);
		if ((r = parse_list(ls, &cnt)) != 0 ||
		    (r = expect_kw(ls, "}", "{", opos)) != 0 ||
		    (r = nonempty(ls, cnt, "{ } group", opos)) != 0)
			return r;
	} else if (tok_is(t, "if")) {
		r = parse_if(ls, opos);
	} else if (tok_is(t, "while") || tok_is(t, "until")) {
		const char *kw = tok_is(t, "while") ? "while" : "until";

		consume(ls);
		r = parse_loop(ls, kw, opos);
	} else if (tok_is(t, "for") || tok_is(t, "select")) {
		r = parse_for(ls, opos);
	} else if (tok_is(t, "case")) {
		r = parse_case(ls, opos);
	} else if (tok_is(t, "[[")) {
		r = parse_dbracket(ls, opos);
	} else if (tok_is(t, "function")) {
		consume(ls);
		if ((r = peek(ls, &t)) != 0)
			return r;
		if (t->t != T_WORD)
			return unexpected(ls, t, "missing function name");
		consume(ls);
		if ((r = peek(ls, &t)) != 0)
			return r;
		if (t->t == T_LPAREN) {
			consume(ls);
			if ((r = peek(ls, &t)) != 0)
				return r;
			if (t->t != T_RPAREN)
				return unexpected(ls, t, "missing ')'");
			consume(ls);
		}
		leave(ls);
		return parse_function_body(ls, opos);
	} else if (is_closer(t) || tok_is(t, "in")) {
		return unexpected(ls, t, "");
	} else {
		leave(ls);
		return parse_simple(ls);
	}
	if (r != 0)
		return r;
	leave(ls);
	return parse_compound_tail(ls, first);
}

static int
parse_pipeline(struct lex *ls)
{
	struct tok *t;
	size_t first, opos;
	int r, n = 0;

	if ((r = peek(ls, &t)) != 0)
		return r;
	if (tok_is(t, "!")) {
		consume(ls);
		if ((r = peek(ls, &t)) != 0)
			return r;
		if (t->t == T_EOF)
			return err(ls->c, PC_ERR_SYNTAX, at_end(ls),
			    "missing command after '!' at offset %zu",
			    OFF(ls, t->pos));
	}
	for (;;) {
		first = ls->out->n;
		if ((r = parse_command(ls)) != 0)
			return r;
		if (n++ > 0)
			mark_stdin(ls->out, first, SI_PIPE);
		if ((r = peek(ls, &t)) != 0)
			return r;
		if (t->t != T_PIPE && t->t != T_PIPEAMP)
			return 0;
		opos = t->pos;
		consume(ls);
		if ((r = skip_nl(ls)) != 0 || (r = peek(ls, &t)) != 0)
			return r;
		if (t->t == T_EOF)
			return err(ls->c, PC_ERR_SYNTAX, at_end(ls),
			    "missing command after '|' at offset %zu",
			    OFF(ls, opos));
	}
}

static int
parse_andor(struct lex *ls)
{
	struct tok *t;
	size_t opos;
	int r, op;

	for (;;) {
		if ((r = parse_pipeline(ls)) != 0)
			return r;
		if ((r = peek(ls, &t)) != 0)
			return r;
		if (t->t != T_ANDAND && t->t != T_OROR)
			return 0;
		op = t->t;
		opos = t->pos;
		consume(ls);
		if ((r = skip_nl(ls)) != 0 || (r = peek(ls, &t)) != 0)
			return r;
		if (t->t == T_EOF)
			return err(ls->c, PC_ERR_SYNTAX, at_end(ls),
			    "missing command after '%s' at offset %zu",
			    op == T_ANDAND ? "&&" : "||", OFF(ls, opos));
	}
}

/* A compound list: and-or lists up to a closer, ')', ';;' or the end. */
static int
parse_list(struct lex *ls, size_t *cnt)
{
	struct tok *t;
	int r;

	*cnt = 0;
	for (;;) {
		if ((r = skip_nl(ls)) != 0 || (r = peek(ls, &t)) != 0)
			return r;
		if (t->t == T_EOF || t->t == T_RPAREN || t->t == T_DSEMI ||
		    is_closer(t))
			return 0;
		if ((r = parse_andor(ls)) != 0)
			return r;
		(*cnt)++;
		if ((r = peek(ls, &t)) != 0)
			return r;
		if (t->t != T_SEMI && t->t != T_AMP && t->t != T_NL)
			return 0;
		consume(ls);
	}
}

static int
parse_program(struct lex *ls)
{
	struct tok *t;
	size_t cnt;
	int r;

	if ((r = parse_list(ls, &cnt)) != 0 || (r = peek(ls, &t)) != 0)
		return r;
	if (t->t != T_EOF)
		return unexpected(ls, t, "");
	return 0;
}

/* ---- analysis: from raw simple commands to struct pc_command ---- */

/* The command being analysed: argv and where it runs. */
struct cv {
	struct word	**av;
	size_t		  ac;
	int		  depth;
	const char	 *via;
	int		  si;
	const char	 *name;		/* basename of av[0] */
};

struct wrapper;
typedef int (*wrap_fn)(struct ctx *, const struct cv *,
    const struct wrapper *);

/* A command that runs another one, with its getopt-style options. */
struct wrapper {
	const char	 *name;
	wrap_fn		  fn;
	const char	 *shortarg;	/* short options taking a value */
	const char	 *shortopt;	/* short options with an attached value */
	const char *const *longarg;	/* long options taking a value */
	const char *const *longflag;	/* long options without */
};

/* getopt-like iteration over av[i...]. */
struct optit {
	struct word	**av;
	size_t		  ac, i, ci;
	const struct wrapper *wp;
	int		  plus;		/* +o style options too (shells) */
	int		  ended;	/* saw "--" */
	int		  c;		/* short option, 0 for a long one */
	const char	 *lname;	/* long option matched, or NULL */
	struct word	 *vw;		/* value: vw->s + voff; NULL if none */
	size_t		  voff;
};

static void
optit_init(struct optit *it, const struct cv *v, size_t i,
    const struct wrapper *wp)
{
	memset(it, 0, sizeof(*it));
	it->av = v->av;
	it->ac = v->ac;
	it->i = i;
	it->wp = wp;
}

static int
in_list(const char *const *l, const char *s, size_t n, int prefix,
    const char **match)
{
	int found = 0;

	for (; l != NULL && *l != NULL; l++) {
		if (strlen(*l) == n && strncmp(*l, s, n) == 0) {
			*match = *l;
			return 2;
		}
		if (prefix && strlen(*l) > n && strncmp(*l, s, n) == 0) {
			*match = *l;
			found++;
		}
	}
	return found == 1 ? 1 : found > 1 ? 3 : 0;
}

/*
 * 1: an option in c / lname (+ value); 0: av[i] is the first operand
 * (or i == ac); -1: option characters come from an expansion.
 */
static int optit_next1(struct optit *);

static int
optit_next(struct optit *it)
{
	size_t start = it->i;
	int r;

	if ((r = optit_next1(it)) == 1 && it->vw != NULL &&
	    has_ux(it->vw, it->voff)) {
		/* an unquoted expansion may be several words */
		it->i = start;
		it->ci = 0;
		return -1;
	}
	return r;
}

/* One option of optit_next(), before the value check. */
static int
optit_next1(struct optit *it)
{
	const struct wrapper *wp = it->wp;
	struct word *w;
	const char *eq, *ma = NULL, *mf = NULL;
	size_t n, k;
	int ra, rf, ch;

	it->c = 0;
	it->lname = NULL;
	it->vw = NULL;
	it->voff = 0;
	if (it->i >= it->ac)
		return 0;
	w = it->av[it->i];
	if (it->ci == 0) {
		if (w->len < 2 || (w->s[0] != '-' && !(it->plus &&
		    w->s[0] == '+')) || (w->f[0] & WF_X))
			return 0;
		if (w->f[1] & WF_X)
			return -1;
		if (w->s[0] == '-' && w->s[1] == '-') {
			if (w->len == 2) {
				it->i++;
				it->ended = 1;
				return 0;
			}
			eq = strchr(w->s + 2, '=');
			n = eq ? (size_t)(eq - w->s) - 2 : w->len - 2;
			for (k = 0; k < n; k++)
				if (w->f[2 + k] & WF_X)
					return -1;
			ra = in_list(wp->longarg, w->s + 2, n, 1, &ma);
			rf = in_list(wp->longflag, w->s + 2, n, 1, &mf);
			it->i++;
			if (ra == 2 || (ra == 1 && rf == 0)) {
				it->lname = ma;
				if (eq != NULL) {
					it->vw = w;
					it->voff = (size_t)(eq - w->s) + 1;
				} else if (it->i < it->ac) {
					it->vw = it->av[it->i++];
				}
			} else if (rf == 2 || (rf == 1 && ra == 0))
				it->lname = mf;
			return 1;
		}
		it->ci = 1;
	}
	ch = (unsigned char)w->s[it->ci];
	if (w->f[it->ci] & WF_X)
		return -1;
	it->c = ch;
	it->ci++;
	if (wp->shortarg != NULL && strchr(wp->shortarg, ch) != NULL) {
		if (it->ci < w->len) {
			it->vw = w;
			it->voff = it->ci;
		} else if (it->i + 1 < it->ac)
			it->vw = it->av[++it->i];
		it->i++;
		it->ci = 0;
	} else if (wp->shortopt != NULL && strchr(wp->shortopt, ch) != NULL) {
		if (it->ci < w->len) {
			it->vw = w;
			it->voff = it->ci;
		}
		it->i++;
		it->ci = 0;
	} else if (it->ci >= w->len) {
		it->i++;
		it->ci = 0;
	}
	return 1;
}

static int
is_long(const struct optit *it, const char *name)
{
	return it->lname != NULL && strcmp(it->lname, name) == 0;
}

/*
 * GNU argument order (options may follow operands): the next option, with
 * the indexes of the operands before it appended to ops[*nops] (after
 * "--", every word is an operand).  With mode_first, a first operand that
 * looks like an option is an operand (chmod -x).  1: an option in it;
 * 0: none left; -1: option characters from an expansion at it->av[it->i].
 */
static int
optit_next_gnu(struct optit *it, size_t *ops, size_t *nops, int mode_first)
{
	const struct word *w;
	int r;

	while (it->i < it->ac) {
		w = it->av[it->i];
		if (mode_first && *nops == 0 && !it->ended && it->ci == 0 &&
		    w->len > 1 && w->s[0] == '-' && w->s[1] != '-' &&
		    strchr("rwxXstugo=+-,", w->s[1]) != NULL) {
			ops[(*nops)++] = it->i++;
			continue;
		}
		if (!it->ended && (r = optit_next(it)) != 0)
			return r;
		if (it->i < it->ac)
			ops[(*nops)++] = it->i++;
		it->ci = 0;
	}
	return 0;
}

static const char *
base_name(const char *s, size_t len, size_t *np)
{
	size_t e = len, b;

	while (e > 1 && s[e - 1] == '/')
		e--;
	for (b = e; b > 0 && s[b - 1] != '/'; b--)
		;
	if (b == e) {		/* "/" or "" */
		*np = len;
		return s;
	}
	*np = e - b;
	return s + b;
}

static int has_glob(const struct word *);
static int has_brace(const struct word *);

/* What the shell runs as is: no expansion, glob or brace expansion. */
static int
literal_word(const struct word *w)
{
	return !w->hasx && !has_glob(w) && !has_brace(w);
}

static int
emit(struct ctx *c, struct word **av, size_t ac, int depth, const char *via,
    const char *reason)
{
	struct pc_result *res = c->res;
	struct pc_command *pc;
	const char *b;
	size_t i, n;

	if (depth > PC_MAX_DEPTH)
		return err(c, PC_ERR_DEPTH, 0, "commands nested deeper than "
		    "%d levels (wrappers, substitutions, sh -c)",
		    PC_MAX_DEPTH);
	res->cmds = grow(res->cmds, &c->capcmds, res->ncmds + 1,
	    sizeof(*res->cmds));
	pc = &res->cmds[res->ncmds++];
	memset(pc, 0, sizeof(*pc));
	pc->argv = xcalloc(ac + 1, sizeof(*pc->argv));
	for (i = 0; i < ac; i++)
		pc->argv[i] = xstrdup(av[i]->s);
	pc->argc = ac;
	if (reason != NULL) {
		pc->opaque = 1;
		pc->opaque_reason = reason;
	}
	if (reason == NULL || literal_word(av[0])) {
		/* an opaque command keeps a literal name: rules about it apply */
		b = base_name(av[0]->s, av[0]->len, &n);
		pc->name = xstrndup(b, n);
	}
	pc->depth = depth;
	pc->via = via != NULL ? xstrdup(via) : NULL;
	return 0;
}

static int
emit_self(struct ctx *c, const struct cv *v, const char *reason)
{
	return emit(c, v->av, v->ac, v->depth, v->via, reason);
}

static int
inner(struct ctx *c, const struct cv *v, size_t i, const char *via, int si)
{
	if (i >= v->ac)
		return 0;
	return analyze(c, v->av + i, v->ac - i, v->depth + 1, via, si);
}

/* Words that may not be a command at all (options, a find expression). */
static int
inner_opaque(struct ctx *c, const struct cv *v, size_t i, const char *via,
    const char *reason)
{
	struct pc_command *pc;
	int r;

	if (i >= v->ac)
		return 0;
	if ((r = emit(c, v->av + i, v->ac - i, v->depth + 1, via, reason)) != 0)
		return r;
	pc = &c->res->cmds[c->res->ncmds - 1];
	free(pc->name);
	pc->name = NULL;
	return 0;
}

/* Command idx (already emitted) turns out to be opaque after all. */
static void
set_opaque(struct ctx *c, size_t idx, const char *reason)
{
	struct pc_command *pc = &c->res->cmds[idx];

	if (!pc->opaque) {
		pc->opaque = 1;
		pc->opaque_reason = reason;
	}
}

/* The wrapper itself, then what its options hid. */
static int
opts_opaque(struct ctx *c, const struct cv *v, const struct optit *it)
{
	int r;

	if ((r = emit_self(c, v, NULL)) != 0)
		return r;
	return inner_opaque(c, v, it->i, v->name,
	    "wrapper options from an expansion");
}

static void
cmdlist_free(struct cmdlist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		rawcmd_free(&l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static int
analyze_list(struct ctx *c, struct cmdlist *l, int inherit)
{
	struct rawcmd *rc;
	size_t i;
	int r;

	for (i = 0; i < l->n; i++) {
		rc = &l->v[i];
		if ((r = analyze(c, rc->av, rc->ac, rc->depth, rc->via,
		    rc->si != SI_INHERIT ? rc->si : inherit)) != 0)
			return r;
	}
	return 0;
}

/*
 * A string a wrapper hands to a shell (sh -c, su -c, watch, ...): parsed
 * as a program of its own.  The wrapper is opaque when the string comes
 * from an expansion (the outer shell builds it) or does not parse; its
 * commands are reported either way.
 */
static int run_str(struct ctx *, const struct cv *, const char *, size_t,
    int, const char *, long);

static int
run_string(struct ctx *c, const struct cv *v, const char *s, size_t len,
    int hasx, const char *via)
{
	return run_str(c, v, s, len, hasx, via, -1);
}

/*
 * run_string() for a wrapper already emitted as command selfidx (>= 0),
 * which becomes opaque if the string is.  -1: emits the wrapper first.
 */
static int
run_str(struct ctx *c, const struct cv *v, const char *s, size_t len,
    int hasx, const char *via, long selfidx)
{
	struct pc_result *res = c->res;
	struct cmdlist l;
	struct lex ls;
	const char *reason = NULL;
	size_t nw = res->nwrites, i;
	int r, nest = c->nest;

	memset(&l, 0, sizeof(l));
	if (v->depth + 1 > PC_MAX_DEPTH)
		return err(c, PC_ERR_DEPTH, 0, "commands nested deeper than "
		    "%d levels (wrappers, substitutions, sh -c)",
		    PC_MAX_DEPTH);
	memset(&ls, 0, sizeof(ls));
	ls.c = c;
	ls.s = s;
	ls.len = len;
	ls.base = v->av[0]->off;
	ls.depth = v->depth + 1;
	ls.via = via;
	ls.out = &l;
	r = parse_program(&ls);
	free(ls.hd);
	c->nest = nest;
	if (r != 0) {
		if (c->err != PC_ERR_SYNTAX)
			goto out;
		free(c->errmsg);
		c->errmsg = NULL;
		c->err = PC_OK;
		c->incomplete = 0;
		for (i = nw; i < res->nwrites; i++)
			free(res->writes[i].path);
		res->nwrites = nw;
		cmdlist_free(&l);
		reason = "shell string that does not parse";
	} else if (hasx)
		reason = "shell string from an expansion";
	if (selfidx >= 0) {
		if (reason != NULL)
			set_opaque(c, (size_t)selfidx, reason);
	} else if ((r = emit_self(c, v, reason)) != 0)
		goto out;
	r = analyze_list(c, &l, v->si);
 out:
	cmdlist_free(&l);
	return r;
}

static int
run_word(struct ctx *c, const struct cv *v, const struct word *w, size_t off,
    const char *via)
{
	return run_string(c, v, w->s + off, w->len - off, range_hasx(w, off),
	    via);
}

static int
run_word_at(struct ctx *c, const struct cv *v, const struct word *w,
    size_t off, const char *via, size_t selfidx)
{
	return run_str(c, v, w->s + off, w->len - off, range_hasx(w, off),
	    via, (long)selfidx);
}

/* Emits the wrapper itself (not opaque yet); *idx is where it is. */
static int
emit_self_at(struct ctx *c, const struct cv *v, size_t *idx)
{
	*idx = c->res->ncmds;
	return emit_self(c, v, NULL);
}

/* ---- wrappers ---- */

/*
 * NAME=value arguments (env, sudo) before the command.  Sets *split when
 * one holds an unquoted expansion (it may be several words).
 */
static size_t
skip_assignments(const struct cv *v, size_t i, int *split)
{
	const struct word *w;
	size_t k;

	*split = 0;
	for (; i < v->ac; i++) {
		w = v->av[i];
		for (k = 0; k < w->len && w->s[k] != '=' &&
		    !(w->f[k] & WF_X); k++)
			;
		if (k == 0 || k == w->len || w->s[k] != '=')
			break;
		if (has_ux(w, k)) {
			*split = 1;
			break;
		}
	}
	return i;
}

/* A positional argument before the command (DURATION, NEWROOT, FILE). */
static int
split_arg(const struct cv *v, size_t i)
{
	return i < v->ac && has_ux(v->av[i], 0);
}

static int
w_eval(struct ctx *c, const struct cv *v, const struct wrapper *wp)
{
	(void)wp;
	return emit_self(c, v, "eval runs its arguments as shell code");
}

static int
w_source(struct ctx *c, const struct cv *v, const struct wrapper *wp)
{
	(void)wp;
	return emit_self(c, v, "sources a script file into the shell");
}

/* nohup, builtin, busybox: the rest is the command. */
static int
w_prefix(struct ctx *c, const struct cv *v, const struct wrapper *wp)
{
	size_t i = 1;
	int r;

	(void)wp;

	if ((r = emit_self(c, v, NULL)) != 0)
		return r;
	if (i < v->ac && arg_is(v->av[i], "--"))
		i++;
	return inner(c, v, i, v->name, v->si);
}

/* nice, stdbuf, setsid, command, exec, time, pkexec, doas, sudo, ionice */
static int
w_opts(struct ctx *c, const struct cv *v, const struct wrapper *wp)
{
	struct optit it;
	const char *shell = NULL;
	int r, split, nocmd = 0, sudo = strcmp(wp->name, "sudo") == 0;

	if (strcmp(wp->name, "exec") == 0 && v->ac == 1)
		return 0;	/* exec with only redirections */
	optit_init(&it, v, 1, wp);
	while ((r = optit_next(&it)) == 1) {
		if (sudo) {
			if (it.c == 's' || is_long(&it, "shell") ||
			    it.c == 'i' || is_long(&it, "login"))
				shell = "interactive shell";
			if (strchr("elvVK", it.c ? it.c : ' ') != NULL ||
			    is_long(&it, "edit") || is_long(&it, "list") ||
			    is_long(&it, "validate") ||
			    is_long(&it, "version") || is_long(&it, "help") ||
			    is_long(&it, "remove-timestamp"))
				nocmd = 1;
		} else if (strcmp(wp->name, "doas") == 0) {
			if (it.c == 's')
				shell = "interactive shell";
			if (it.c == 'C' || it.c == 'L')
				nocmd = 1;
		} else if (strcmp(wp->name, "command") == 0) {
			if (it.c == 'v' || it.c == 'V')
				nocmd = 1;
		} else if (strcmp(wp->name, "ionice") == 0) {
			if (it.c == 'p' || it.c == 'P' || it.c == 'u' ||
			    is_long(&it, "pid") || is_long(&it, "pgid") ||
			    is_long(&it, "uid"))
				nocmd = 1;
		} else if (strcmp(wp->name, "time") == 0) {
			if ((it.c == 'o' || is_long(&it, "output")) &&
			    it.vw != NULL)
				add_write(c, it.vw, it.voff);
		}
	}
	if (r < 0)
		return opts_opaque(c, v, &it);
	if (sudo) {
		it.i = skip_assignments(v, it.i, &split);
		if (split)
			return opts_opaque(c, v, &it);
	}
	if (nocmd)
		return emit_self(c, v, NULL);
	if (it.i >= v->ac) {
		if (strcmp(wp->name, "pkexec") == 0)
			shell = "interactive shell";
		return emit_self(c, v, shell);
	}
	if ((r = emit_self(c, v, NULL)) != 0)
		return r;
	return inner(c, v, it.i, v->name, v->si);
}

static int
w_timeout(struct ctx *c, const struct cv *v, const struct wrapper *wp)
{
	struct optit it;
	int r;

	optit_init(&it, v, 1, wp);
	while ((r = optit_next(&it)) == 1)
		;
	if (r < 0 || split_arg(v, it.i))
		return opts_opaque(c, v, &it);
	if ((r = emit_self(c, v, NULL)) != 0)
		return r;
	return inner(c, v, it.i + 1, v->name, v->si);	/* after DURATION */
}

static int
w_chroot(struct ctx *c, const struct cv *v, const struct wrapper *wp)
{
	struct optit it;
	int r;

	optit_init(&it, v, 1, wp);
	while ((r = optit_next(&it)) == 1)
		;
	if (r < 0 || split_arg(v, it.i))
		return opts_opaque(c, v, &it);
	if (it.i + 1 == v->ac)	/* NEWROOT only: runs $SHELL -i */
		return emit_self(c, v, "interactive shell");
	if ((r = emit_self(c, v, NULL)) != 0)
		return r;
	return inner(c, v, it.i + 1, v->name, v->si);
}

/* env [opts] [-S STRING] [NAME=val...] [cmd...] */
static int
w_env(struct ctx *c, const struct cv *v, const struct wrapper *wp)
{
	struct optit it;
	struct word *sw = NULL, *w;
	size_t soff = 0, i, k, n;
	const char *p;
	char *str;
	int r, hasx, split;

	optit_init(&it, v, 1, wp);
	for (;;) {
		while ((r = optit_next(&it)) == 1)
			if ((it.c == 'S' || is_long(&it, "split-string")) &&
			    it.vw != NULL && sw == NULL) {
				sw = it.vw;
				soff = it.voff;
			}
		if (r < 0)
			return opts_opaque(c, v, &it);
		if (!it.ended && it.i < v->ac && arg_is(v->av[it.i], "-")) {
			it.i++;		/* "env -" is env -i */
			continue;
		}
		break;
	}
	it.i = i = skip_assignments(v, it.i, &split);
	if (split)
		return opts_opaque(c, v, &it);
	if (sw == NULL) {
		if ((r = emit_self(c, v, NULL)) != 0)
			return r;
		return inner(c, v, i, v->name, v->si);
	}
	/* -S: its words, then the remaining arguments, quoted */
	hasx = range_hasx(sw, soff);
	n = sw->len - soff + 1;
	for (k = i; k < v->ac; k++)
		n += 4 * v->av[k]->len + 3;
	str = xmalloc(n + 1);
	n = sw->len - soff;
	memcpy(str, sw->s + soff, n);
	for (; i < v->ac; i++) {
		w = v->av[i];
		hasx |= w->hasx;
		str[n++] = ' ';
		if (w->hasx) {
			memcpy(str + n, w->s, w->len);
			n += w->len;
			continue;
		}
		str[n++] = '\'';
		for (p = w->s; *p != '\0'; p++) {
			if (*p == '\'') {
				memcpy(str + n, "'\\''", 4);
				n += 4;
			} else
				str[n++] = *p;
		}
		str[n++] = '\'';
	}
	str[n] = '\0';
	keep_str(c, str);
	return run_string(c, v, str, n, hasx, "env -S");
}

/*
 * Copies of av[0..ac) where every occurrence of rs is marked as an
 * expansion (replaced at run time by one argument) with flag fl.
 */
static struct word **
mark_repl(struct ctx *c, struct word **av, size_t ac, const char *rs,
    size_t rn, unsigned char fl)
{
	struct word **nv = xcalloc(ac + 1, sizeof(*nv)), *w, *n;
	size_t i, k;

	keep_str(c, (char *)nv);
	for (i = 0; i < ac; i++) {
		w = av[i];
		n = nv[i] = word_new(c, w->off);
		for (k = 0; k < w->len; ) {
			if (rn > 0 && k + rn <= w->len &&
			    memcmp(w->s + k, rs, rn) == 0) {
				word_put(n, rs, rn, WF_X | WF_Q | fl);
				k += rn;
			} else {
				word_put(n, w->s + k, 1, w->f[k]);
				k++;
			}
		}
		n->quoted |= w->quoted;
		n->hasx |= w->hasx;
	}
	return nv;
}

static int
w_xargs(struct ctx *c, const struct cv *v, const struct wrapper *wp)
{
	struct optit it;
	struct word *echo, *rw = NULL, **nv;
	const char *rs = NULL, *eq;
	size_t roff = 0;
	int r, si = SI_XARGS;

	optit_init(&it, v, 1, wp);
	while ((r = optit_next(&it)) == 1) {
		if (it.c == 'o' || is_long(&it, "open-tty"))
			si = SI_TTY;
		if (it.c == 'I' || it.c == 'i') {
			rw = it.vw;
			roff = it.voff;
			rs = rw != NULL ? NULL : it.c == 'i' ? "{}" : "";
		} else if (is_long(&it, "replace")) {
			/* --replace[=R]: a flag to optit, the value is here */
			rw = NULL;
			eq = strchr(it.av[it.i - 1]->s, '=');
			if (eq != NULL) {
				rw = it.av[it.i - 1];
				roff = (size_t)(eq - rw->s) + 1;
			}
			rs = rw != NULL ? NULL : "{}";
		}
	}
	if (r < 0)
		return opts_opaque(c, v, &it);
	if ((r = emit_self(c, v, NULL)) != 0)
		return r;
	if (it.i < v->ac && (rw != NULL || rs != NULL)) {
		/* -I R: the words holding R are known only at run time */
		if (rw != NULL && (range_hasx(rw, roff) || rw->len == roff))
			return inner_opaque(c, v, it.i, "xargs",
			    "xargs replacement string from an expansion");
		if (rw != NULL)
			rs = rw->s + roff;
		if (*rs == '\0')
			return inner_opaque(c, v, it.i, "xargs",
			    "xargs replacement string from an expansion");
		nv = mark_repl(c, v->av + it.i, v->ac - it.i, rs, strlen(rs),
		    WF_RX);
		return analyze(c, nv, v->ac - it.i, v->depth + 1, "xargs", si);
	}
	if (it.i < v->ac)
		return inner(c, v, it.i, "xargs", si);
	echo = word_from(c, "echo");
	return analyze(c, &echo, 1, v->depth + 1, "xargs", si);
}

/* find: every -exec/-execdir/-ok/-okdir clause is a command. */
static int
w_find(struct ctx *c, const struct cv *v, const struct wrapper *wp)
{
	static const char *const onearg[] = {
		"-name", "-iname", "-path", "-ipath", "-wholename",
		"-iwholename", "-regex", "-iregex", "-lname", "-ilname",
		"-type", "-xtype", "-user", "-group", "-uid", "-gid", "-perm",
		"-size", "-mtime", "-atime", "-ctime", "-mmin", "-amin",
		"-cmin", "-newer", "-anewer", "-cnewer", "-maxdepth",
		"-mindepth", "-samefile", "-inum", "-links", "-fstype",
		"-printf", "-used", "-context", "-regextype", "-files0-from",
		NULL
	};
	static const char *const execs[] = {
		"-exec", "-execdir", "-ok", "-okdir", NULL
	};
	struct word *w;
	const char *m;
	char *via;
	size_t i = 1, j, k;
	int r, expr = 0;

	(void)wp;

	if ((r = emit_self(c, v, NULL)) != 0)
		return r;
	/* -H -L -P -D opts -Olevel */
	while (i < v->ac && v->av[i]->len == 2 && !v->av[i]->hasx &&
	    v->av[i]->s[0] == '-' && strchr("HLPDO", v->av[i]->s[1]) != NULL)
		i += arg_is(v->av[i], "-D") ? 2 : 1;
	for (; i < v->ac; i++) {
		w = v->av[i];
		if (!expr && w->len > 0 && !(w->f[0] & WF_X) &&
		    (w->s[0] == '-' || w->s[0] == '(' || w->s[0] == '!'))
			expr = 1;
		/*
		 * An unquoted expansion may be several words (-exec ...),
		 * and any expansion where a primary goes may be one.
		 */
		if (has_ux(w, 0) || (expr && w->len > 0 && (w->f[0] & WF_X)))
			return inner_opaque(c, v, i, "find",
			    "find expression from an expansion");
		if (!expr)
			continue;	/* a starting point */
		if (w->hasx || in_list(execs, w->s, w->len, 0, &m) != 2) {
			if (w->hasx)
				continue;
			if (in_list(onearg, w->s, w->len, 0, &m) == 2) {
				if (i + 1 < v->ac && has_ux(v->av[i + 1], 0))
					return inner_opaque(c, v, i, "find",
					    "find expression from an expansion");
				i++;
			}
			else if (arg_is(w, "-fprint") ||
			    arg_is(w, "-fprint0") || arg_is(w, "-fls") ||
			    arg_is(w, "-fprintf")) {
				if (i + 1 < v->ac)
					add_write(c, v->av[i + 1], 0);
				i += arg_is(w, "-fprintf") ? 2 : 1;
			}
			continue;
		}
		for (k = i + 1; k < v->ac; k++) {
			if (arg_is(v->av[k], ";") ||
			    (arg_is(v->av[k], "+") && k > i + 1 &&
			    arg_is(v->av[k - 1], "{}")))
				break;
		}
		via = xasprintf("find %s", m);
		keep_str(c, via);
		if (k > i + 1) {
			j = i + 1;
			/* {} is a file name known only at run time */
			if ((r = analyze(c, mark_repl(c, v->av + j, k - j,
			    "{}", 2, WF_RF), k - j, v->depth + 1, via,
			    v->si)) != 0)
				return r;
		}
		i = k;
	}
	return 0;
}

/* flock [opts] FILE (-c STRING | CMD...) */
static int
w_flock(struct ctx *c, const struct cv *v, const struct wrapper *wp)
{
	struct optit it;
	size_t i;
	int r;

	optit_init(&it, v, 1, wp);
	while ((r = optit_next(&it)) == 1)
		;
	if (r < 0 || split_arg(v, it.i))
		return opts_opaque(c, v, &it);
	i = it.i + 1;
	if (i < v->ac && (arg_is(v->av[i], "-c") ||
	    arg_is(v->av[i], "--command"))) {
		if (i + 1 >= v->ac)
			return emit_self(c, v, NULL);
		return run_word(c, v, v->av[i + 1], 0, "flock -c");
	}
	if ((r = emit_self(c, v, NULL)) != 0)
		return r;
	return inner(c, v, i, v->name, v->si);
}

/*
 * Words from..ac-1 joined with single spaces, parsed again as a shell
 * string (watch, firejail -c: the program hands its arguments to a shell).
 */
static int
run_joined(struct ctx *c, const struct cv *v, size_t from, const char *via)
{
	size_t i, n = 0;
	char *str;
	int hasx = 0;

	for (i = from; i < v->ac; i++)
		n += v->av[i]->len + 1;
	str = xmalloc(n + 1);
	for (n = 0, i = from; i < v->ac; i++) {
		if (i > from)
			str[n++] = ' ';
		memcpy(str + n, v->av[i]->s, v->av[i]->len);
		n += v->av[i]->len;
		hasx |= v->av[i]->hasx;
	}
	str[n] = '\0';
	keep_str(c, str);
	return run_string(c, v, str, n, hasx, via);
}

/* watch [opts] CMD...: joined with spaces, run by sh -c (not with -x). */
static int
w_watch(struct ctx *c, const struct cv *v, const struct wrapper *wp)
{
	struct optit it;
	int r, exec = 0;

	optit_init(&it, v, 1, wp);
	while ((r = optit_next(&it)) == 1)
		if (it.c == 'x' || is_long(&it, "exec"))
			exec = 1;
	if (r < 0)
		return opts_opaque(c, v, &it);
	if (it.i >= v->ac)
		return emit_self(c, v, NULL);
	if (exec) {
		if ((r = emit_self(c, v, NULL)) != 0)
			return r;
		return inner(c, v, it.i, "watch", v->si);
	}
	return run_joined(c, v, it.i, "watch");
}

/*
 * su [opts] [-] [user [args]]: options anywhere; -c STRING runs through
 * the user's shell, otherwise an interactive shell.  runuser -u USER
 * runs a command directly.
 */
static int
w_su(struct ctx *c, const struct cv *v, const struct wrapper *wp)
{
	struct optit it;
	struct word *cw = NULL;
	size_t coff = 0;
	int r, user = 0, runuser = strcmp(wp->name, "runuser") == 0;
	char *via;

	optit_init(&it, v, 1, wp);
	for (;;) {
		while ((r = optit_next(&it)) == 1) {
			if ((it.c == 'c' || is_long(&it, "command") ||
			    is_long(&it, "session-command")) &&
			    it.vw != NULL) {
				cw = it.vw;
				coff = it.voff;
			}
			if (runuser && (it.c == 'u' || is_long(&it, "user")))
				user = 1;
		}
		if (r < 0)
			return opts_opaque(c, v, &it);
		if (user || it.ended || it.i >= v->ac)
			break;
		it.i++;		/* "-", the user, or an argument */
	}
	if (user && cw == NULL) {
		if (it.i >= v->ac)
			return emit_self(c, v, "interactive shell");
		if ((r = emit_self(c, v, NULL)) != 0)
			return r;
		return inner(c, v, it.i, v->name, v->si);
	}
	if (cw == NULL)
		return emit_self(c, v, "interactive shell");
	via = xasprintf("%s -c", v->name);
	keep_str(c, via);
	return run_word(c, v, cw, coff, via);
}

/* Shells and interpreters: where their program comes from. */
struct interp {
	const char	*name;
	int		 shell;
	const char	*shortarg;	/* all short options taking a value */
	const char	*codeopt;	/* ... whose value is the program */
	const char	*fileopt;	/* ... whose value names the program */
	const char *const *longarg;
	const char *const *longcode;
};

static const char *const sh_longarg[] = { "rcfile", "init-file", NULL };
static const char *const sh_longflag[] = {
	"norc", "noprofile", "login", "posix", "verbose", "debugger",
	"dump-strings", "dump-po-strings", "help", "version", "restricted",
	"noediting", "pretty-print", NULL
};
static const char *const node_longarg[] = {
	"require", "import", "loader", "experimental-loader", "input-type",
	"conditions", "title", "env-file", "eval", "print", NULL
};
static const char *const node_longcode[] = { "eval", "print", NULL };
static const char *const py_longarg[] = { "check-hash-based-pycs", NULL };

static const struct interp interps[] = {
	{ "sh", 1, "oO", "", "", sh_longarg, NULL },
	{ "bash", 1, "oO", "", "", sh_longarg, NULL },
	{ "dash", 1, "oO", "", "", sh_longarg, NULL },
	{ "zsh", 1, "oO", "", "", sh_longarg, NULL },
	{ "ksh", 1, "oO", "", "", sh_longarg, NULL },
	{ "mksh", 1, "oO", "", "", sh_longarg, NULL },
	{ "ash", 1, "oO", "", "", sh_longarg, NULL },
	{ "python", 0, "cmWX", "c", "m", py_longarg, NULL },
	{ "pypy", 0, "cmWX", "c", "m", py_longarg, NULL },
	{ "perl", 0, "eE", "eE", "", NULL, NULL },
	{ "ruby", 0, "eCIrEF", "e", "", NULL, NULL },
	{ "node", 0, "eprC", "ep", "", node_longarg, node_longcode },
	{ "nodejs", 0, "eprC", "ep", "", node_longarg, node_longcode },
	{ "php", 0, "rBREfFcdzSt", "rBRE", "fF", NULL, NULL },
	{ "lua", 0, "el", "e", "", NULL, NULL },
	{ "luajit", 0, "elj", "e", "", NULL, NULL },
};

/* "python3.11" is "python"; digits and dots may follow the name. */
static const struct interp *
find_interp(const char *name)
{
	size_t i, n;
	const char *p;

	for (i = 0; i < sizeof(interps) / sizeof(interps[0]); i++) {
		n = strlen(interps[i].name);
		if (strncmp(name, interps[i].name, n) != 0)
			continue;
		for (p = name + n; *p != '\0'; p++)
			if (!is_digit(*p) && *p != '.')
				break;
		if (*p == '\0')
			return &interps[i];
	}
	return NULL;
}

static int
is_procsub(const struct word *w)
{
	return w->len > 2 && (w->f[0] & WF_X) && (w->s[0] == '<' ||
	    w->s[0] == '>') && w->s[1] == '(';
}

static int
w_interp(struct ctx *c, const struct cv *v, const struct interp *ip)
{
	struct wrapper wp;
	struct optit it;
	struct word *cw = NULL;
	const char *m;
	size_t coff = 0;
	int r = 0, prog = 0, cflag = 0, sflag = 0, dash = 0;
	char *via;

	memset(&wp, 0, sizeof(wp));
	wp.name = ip->name;
	wp.shortarg = ip->shortarg;
	wp.longarg = ip->longarg;
	wp.longflag = ip->shell ? sh_longflag : NULL;
	optit_init(&it, v, 1, &wp);
	it.plus = ip->shell;
	while (!prog && (r = optit_next(&it)) == 1) {
		if (ip->shell) {
			if (it.c == 'c')
				cflag = 1;
			else if (it.c == 's')
				sflag = 1;
			continue;
		}
		if (it.c != 0 && strchr(ip->fileopt, it.c) != NULL)
			prog = 1;	/* a module or script file */
		if (it.c != 0 && strchr(ip->codeopt, it.c) != NULL)
			prog = 2;	/* python -c, perl -e... */
		if (it.lname != NULL && ip->longcode != NULL &&
		    in_list(ip->longcode, it.lname, strlen(it.lname), 0,
		    &m) == 2)
			prog = 2;
	}
	if (!prog && r < 0)
		return emit_self(c, v, "interpreter options from an expansion");
	if (ip->shell && !it.ended && it.i < v->ac &&
	    arg_is(v->av[it.i], "-")) {
		it.i++;		/* "-" ends the options */
		dash = 1;
	}
	if (prog)
		return emit_self(c, v, prog == 2 ?
		    "runs inline interpreter code" : NULL);
	if (cflag) {
		if (it.i >= v->ac && v->si == SI_XARGS)
			return emit_self(c, v,
			    "interpreter running what xargs reads");
		if (it.i >= v->ac)
			return emit_self(c, v, NULL);
		cw = v->av[it.i];
		via = xasprintf("%s -c", v->name);
		keep_str(c, via);
		return run_word(c, v, cw, coff, via);
	}
	if (sflag)
		return emit_self(c, v, "interpreter reading a script from stdin");
	if (it.i < v->ac) {
		if (!ip->shell && arg_is(v->av[it.i], "-"))
			return emit_self(c, v,
			    "interpreter reading a script from stdin");
		if (is_procsub(v->av[it.i]))
			return emit_self(c, v, "interpreter reading a script "
			    "from a process substitution");
		return emit_self(c, v, NULL);	/* a script file */
	}
	if (dash || v->si == SI_PIPE || v->si == SI_FILE ||
	    v->si == SI_HEREDOC)
		return emit_self(c, v, "interpreter reading a script from stdin");
	if (v->si == SI_XARGS)
		return emit_self(c, v,
		    "interpreter running what xargs reads");
	return emit_self(c, v, NULL);
}

static int
w_tee(struct ctx *c, const struct cv *v, const struct wrapper *wp)
{
	struct optit it;
	int r;

	if ((r = emit_self(c, v, NULL)) != 0)
		return r;
	optit_init(&it, v, 1, wp);
	for (;;) {
		while (!it.ended && (r = optit_next(&it)) == 1)
			;
		if (it.i >= v->ac)
			return 0;
		if (r < 0 && !it.ended) {
			/* an expansion that may be an option or a file */
			add_write(c, v->av[it.i], 0);
			it.ci = 0;
		} else if (!arg_is(v->av[it.i], "-"))
			add_write(c, v->av[it.i], 0);
		it.i++;
	}
}

static int
w_dd(struct ctx *c, const struct cv *v, const struct wrapper *wp)
{
	size_t i;
	int r;

	(void)wp;

	if ((r = emit_self(c, v, NULL)) != 0)
		return r;
	for (i = 1; i < v->ac; i++) {
		if (v->av[i]->len >= 3 && strncmp(v->av[i]->s, "of=", 3) == 0 &&
		    !(v->av[i]->f[0] & WF_X))
			add_write(c, v->av[i], 3);
	}
	return 0;
}

/* 1 if s[i...] is a string literal naming the standard output or error. */
static int
awk_std_target(const char *s, size_t n, size_t i)
{
	static const char *const std[] = { "\"/dev/stdout\"",
	    "\"/dev/stderr\"", "\"/dev/null\"", "\"-\"", NULL };
	size_t k, l;

	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	for (k = 0; std[k] != NULL; k++) {
		l = strlen(std[k]);
		if (n - i >= l && strncmp(s + i, std[k], l) == 0)
			return 1;
	}
	return 0;
}

/*
 * awk program text that can run commands: system(...), a pipe to or from
 * a command (print | "cmd", "cmd" | getline, |&): 1.  Otherwise, one that
 * writes files: print or printf redirected with > or >> (outside
 * parentheses; not to "/dev/stdout", "/dev/stderr", "/dev/null"): 2.
 * Else 0.  Strings, regular expressions and comments are skipped; "||"
 * is a logical or.
 */
static int
awk_runs(const char *s, size_t n)
{
	size_t i = 0, k;
	int prev = 0, ch, br, in_print = 0, depth = 0, writes = 0;

	while (i < n) {
		ch = (unsigned char)s[i];
		if (in_print && depth == 0 && (ch == ';' || ch == '\n' ||
		    ch == '}'))
			in_print = 0;
		if (in_print && ch == '(')
			depth++;
		else if (in_print && ch == ')' && depth > 0)
			depth--;
		else if (in_print && depth == 0 && ch == '>') {
			k = i + 1 < n && s[i + 1] == '>' ? i + 2 : i + 1;
			if (!awk_std_target(s, n, k))
				writes = 1;
			i = k;
			prev = '>';
			continue;
		}
		if (ch == '"') {
			for (i++; i < n && s[i] != '"'; i++)
				if (s[i] == '\\')
					i++;
			i++;
			prev = '"';
		} else if (ch == '#') {
			while (i < n && s[i] != '\n')
				i++;
		} else if (ch == '/' && (prev == 0 ||
		    strchr("(,{};!~&|=:?\n+-*%^<>[", prev) != NULL)) {
			/* a regular expression */
			for (i++, br = 0; i < n && (br || s[i] != '/'); i++) {
				if (s[i] == '\\')
					i++;
				else if (s[i] == '[')
					br = 1;
				else if (s[i] == ']')
					br = 0;
			}
			i++;
			prev = '/';
		} else if (ch == '|') {
			if (i + 1 < n && s[i + 1] == '|') {
				i += 2;
				prev = '|';
				continue;
			}
			return 1;
		} else if (is_alpha(ch)) {
			for (k = i; k < n && (is_alpha(s[k]) || is_digit(s[k]));
			    k++)
				;
			if (k - i == 6 && strncmp(s + i, "system", 6) == 0) {
				while (k < n && (s[k] == ' ' || s[k] == '\t'))
					k++;
				if (k >= n || s[k] == '(')
					return 1;
			}
			if ((k - i == 5 && strncmp(s + i, "print", 5) == 0) ||
			    (k - i == 6 && strncmp(s + i, "printf", 6) == 0)) {
				in_print = 1;
				depth = 0;
			}
			i = k;
			prev = 'a';
		} else {
			if (ch != ' ' && ch != '\t')
				prev = ch;
			i++;
		}
	}
	return writes ? 2 : 0;
}

/*
 * awk [opts] ['program'] [file...]: opaque if the program runs commands,
 * or writes files (its targets are awk expressions, not paths).
 */
static int
w_awk(struct ctx *c, const struct cv *v, const struct wrapper *wp)
{
	struct optit it;
	const struct word *pw;
	int r, k, file = 0, src = 0;

	optit_init(&it, v, 1, wp);
	while ((r = optit_next(&it)) == 1) {
		if (it.c == 'f' || it.c == 'E' || is_long(&it, "file") ||
		    is_long(&it, "exec"))
			file = 1;
		if ((it.c == 'e' || is_long(&it, "source")) &&
		    it.vw != NULL) {
			src = 1;
			if (range_hasx(it.vw, it.voff))
				return emit_self(c, v,
				    "program from an expansion");
			if ((k = awk_runs(it.vw->s + it.voff,
			    it.vw->len - it.voff)) != 0)
				return emit_self(c, v, k == 1 ?
				    "program runs commands" :
				    "program writes files");
		}
		if (it.c == 'l' || is_long(&it, "load"))
			return emit_self(c, v, "program runs commands");
	}
	if (r < 0)
		return emit_self(c, v, "awk options from an expansion");
	if (file)
		return emit_self(c, v, "program from a file (it may run "
		    "commands or write files the bastion cannot see)");
	if (src || it.i >= v->ac)
		return emit_self(c, v, NULL);
	pw = v->av[it.i];
	if (pw->hasx)
		return emit_self(c, v, "program from an expansion");
	if ((k = awk_runs(pw->s, pw->len)) != 0)
		return emit_self(c, v, k == 1 ? "program runs commands" :
		    "program writes files");
	return emit_self(c, v, NULL);
}

/* The files a sed script writes (w, W, the w flag of s), as offsets. */
#define SED_WFILES	8
struct sed_wfiles {
	size_t	off[SED_WFILES], len[SED_WFILES];
	int	n;
	int	more;		/* more than SED_WFILES */
};

/* Notes the file name from s[i] to the end of the line. */
static void
sed_wfile(const char *s, size_t n, size_t i, struct sed_wfiles *wf)
{
	size_t e;

	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	for (e = i; e < n && s[e] != '\n'; e++)
		;
	if (e == i)
		return;
	if (wf->n >= SED_WFILES) {
		wf->more = 1;
		return;
	}
	wf->off[wf->n] = i;
	wf->len[wf->n++] = e - i;
}

/*
 * A GNU sed script that can run commands: the e command or the e flag
 * of s.  1: runs commands, 0: does not, -1: cannot tell.  The files it
 * writes (w and W commands, the w flag of s) are added to *wf.
 */
static int
sed_runs(const char *s, size_t n, struct sed_wfiles *wf)
{
	size_t i = 0;
	int ch, d, part;

#define SKIPWS() while (i < n && (s[i] == ' ' || s[i] == '\t')) i++
#define TOEOL() while (i < n && s[i] != '\n') i++
	while (i < n) {
		while (i < n && strchr(" \t\n;", s[i]) != NULL)
			i++;
		if (i >= n)
			break;
		/* addresses: N, $, /re/, \cREc, first~step, addr,+N, addr! */
		for (part = 0; part < 2 && i < n; part++) {
			if (s[i] == '/' || s[i] == '\\') {
				if (s[i] == '\\' && ++i >= n)
					return -1;
				d = (unsigned char)s[i++];
				for (; i < n && s[i] != d; i++)
					if (s[i] == '\\')
						i++;
				if (i++ >= n)
					return -1;
				while (i < n && (s[i] == 'I' || s[i] == 'M'))
					i++;
			} else
				while (i < n && (is_digit(s[i]) || s[i] == '$' ||
				    s[i] == '~' || s[i] == '+'))
					i++;
			SKIPWS();
			if (part == 0 && i < n && s[i] == ',') {
				i++;
				SKIPWS();
				continue;
			}
			break;
		}
		SKIPWS();
		while (i < n && s[i] == '!') {
			i++;
			SKIPWS();
		}
		if (i >= n)
			return -1;
		ch = (unsigned char)s[i++];
		switch (ch) {
		case 'e':
			return 1;
		case '{': case '}': case '=': case 'd': case 'D': case 'g':
		case 'G': case 'h': case 'H': case 'n': case 'N': case 'p':
		case 'P': case 'x': case 'z': case 'F':
			break;
		case '#':
			TOEOL();
			break;
		case ':': case 'b': case 't': case 'T': case 'v':
			while (i < n && s[i] != '\n' && s[i] != ';' &&
			    s[i] != '}')
				i++;
			break;
		case 'l': case 'L': case 'q': case 'Q':
			SKIPWS();
			while (i < n && is_digit(s[i]))
				i++;
			break;
		case 'a': case 'i': case 'c':
			/* text to the end of the line; \ newline continues */
			for (; i < n && s[i] != '\n'; i++)
				if (s[i] == '\\')
					i++;
			break;
		case 'w': case 'W':
			sed_wfile(s, n, i, wf);
			TOEOL();
			break;
		case 'r': case 'R':
			TOEOL();
			break;
		case 's': case 'y':
			if (i >= n || s[i] == '\n' || s[i] == '\\')
				return -1;
			d = (unsigned char)s[i++];
			for (part = 0; part < 2; part++) {
				for (; i < n && s[i] != d; i++)
					if (s[i] == '\\')
						i++;
				if (i++ >= n)
					return -1;
			}
			if (ch == 'y')
				break;
			/* flags: g p i I m M e N w FILE */
			for (; i < n && strchr("gpiImMe0123456789w", s[i]) !=
			    NULL; i++) {
				if (s[i] == 'e')
					return 1;
				if (s[i] == 'w') {
					sed_wfile(s, n, i + 1, wf);
					TOEOL();
					break;
				}
			}
			break;
		default:
			return -1;
		}
	}
	return 0;
#undef SKIPWS
#undef TOEOL
}

/* A write to the literal path p[0..n) (from a program's text). */
static void
add_write_text(struct ctx *c, const char *p, size_t n)
{
	struct word w;

	memset(&w, 0, sizeof(w));
	w.s = xstrndup(p, n);
	w.len = strlen(w.s);
	w.f = xcalloc(w.len + 1, 1);
	(void)add_write(c, &w, 0);
	free(w.s);
	free(w.f);
}

/* The script in sw[off...]: why it is opaque (NULL if not); its w files. */
static const char *
sed_script(struct ctx *c, const struct word *sw, size_t off)
{
	struct sed_wfiles wf;
	int k, i;

	memset(&wf, 0, sizeof(wf));
	if (range_hasx(sw, off))
		return "program from an expansion";
	if ((k = sed_runs(sw->s + off, sw->len - off, &wf)) != 0)
		return k > 0 ? "program runs commands" :
		    "sed script that does not parse";
	if (wf.more)
		return "program writes more files than the bastion follows";
	for (i = 0; i < wf.n; i++)
		add_write_text(c, sw->s + off + wf.off[i], wf.len[i]);
	return NULL;
}

/*
 * sed: opaque if the script runs commands (or cannot be read, or comes
 * from a file); the files it writes (w, W, s///w) and, with -i, the files
 * it edits in place are writes.
 */
static int
w_sed(struct ctx *c, const struct cv *v, const struct wrapper *wp)
{
	struct optit it;
	const char *bad = NULL, *b;
	int r, script = 0, sandbox = 0, inplace = 0, fromfile = 0;
	size_t *ops, nops = 0, i;

	/* GNU sed takes options after operands too: options first. */
	ops = xcalloc(v->ac + 1, sizeof(*ops));
	optit_init(&it, v, 1, wp);
	while ((r = optit_next_gnu(&it, ops, &nops, 0)) != 0) {
		if (r < 0) {
			free(ops);
			return emit_self(c, v, "sed options from an expansion");
		}
		if (is_long(&it, "sandbox"))
			sandbox = 1;
		if (it.c == 'i' || is_long(&it, "in-place"))
			inplace = 1;
		if (it.c == 'f' || is_long(&it, "file"))
			script = fromfile = 1;
		if ((it.c == 'e' || is_long(&it, "expression")) &&
		    it.vw != NULL) {
			script = 1;
			if ((b = sed_script(c, it.vw, it.voff)) != NULL &&
			    bad == NULL)
				bad = b;
		}
	}
	for (i = 0; i < nops; i++) {
		if (!script && i == 0) {
			if ((b = sed_script(c, v->av[ops[0]], 0)) != NULL &&
			    bad == NULL)
				bad = b;
		} else if (inplace && !arg_is(v->av[ops[i]], "-"))
			(void)add_write(c, v->av[ops[i]], 0);
	}
	free(ops);
	if (fromfile && bad == NULL)
		bad = "program from a file (it may run commands or write "
		    "files the bastion cannot see)";
	/* --sandbox: sed itself refuses e, r and w (-i still writes) */
	return emit_self(c, v, sandbox ? NULL : bad);
}

/* trap [-lp] [[ACTION] SIGNAL...]: ACTION is shell code run later. */
static int
w_trap(struct ctx *c, const struct cv *v, const struct wrapper *wp)
{
	struct optit it;
	int r;

	optit_init(&it, v, 1, wp);
	while ((r = optit_next(&it)) == 1)
		;
	if (r < 0)
		return emit_self(c, v, "trap action from an expansion");
	/* one operand: a signal to reset; "-": reset; "": ignore */
	if (it.i + 1 >= v->ac || arg_is(v->av[it.i], "-"))
		return emit_self(c, v, NULL);
	if (has_ux(v->av[it.i], 0))
		return emit_self(c, v, "trap action from an expansion");
	return run_word(c, v, v->av[it.i], 0, "trap");
}

static int
is_name(const struct cv *v, const char *n)
{
	return strcmp(v->name, n) == 0;
}

/* An operand that is all digits (a priority, not a command). */
static int
is_number(const struct word *w)
{
	size_t i;

	if (w->hasx || w->len == 0)
		return 0;
	for (i = 0; i < w->len; i++)
		if (!is_digit(w->s[i]))
			return 0;
	return 1;
}

/*
 * Programs that run the command in their trailing arguments: strace,
 * ltrace, chrt, taskset, unshare, nsenter, systemd-run, runcon, numactl,
 * cpulimit, faketime, proxychains, torsocks.
 */
static int
w_run(struct ctx *c, const struct cv *v, const struct wrapper *wp)
{
	struct optit it;
	struct word *pipew = NULL, *prog = NULL;
	const char *shell = NULL, *reason = NULL;
	size_t pipeoff = 0, i, self;
	int r, nocmd = 0, ctxopt = 0, skip = 0;

	optit_init(&it, v, 1, wp);
	while ((r = optit_next(&it)) == 1) {
		if (is_name(v, "strace") || is_name(v, "ltrace")) {
			if ((it.c == 'o' || is_long(&it, "output")) &&
			    it.vw != NULL) {
				/* strace -o '|cmd' / '!cmd': a pipe to sh */
				if (is_name(v, "strace") &&
				    it.vw->len > it.voff &&
				    (it.vw->s[it.voff] == '|' ||
				    it.vw->s[it.voff] == '!') &&
				    !(it.vw->f[it.voff] & WF_X)) {
					pipew = it.vw;
					pipeoff = it.voff + 1;
				} else
					add_write(c, it.vw, it.voff);
			}
		} else if (is_name(v, "chrt")) {
			if (it.c == 'p' || it.c == 'm' || is_long(&it, "pid") ||
			    is_long(&it, "max") || it.c == 'h' ||
			    it.c == 'V')
				nocmd = 1;
		} else if (is_name(v, "taskset")) {
			if (it.c == 'p' || is_long(&it, "pid"))
				nocmd = 1;
		} else if (is_name(v, "cpulimit")) {
			if (strchr("peP", it.c ? it.c : ' ') != NULL ||
			    is_long(&it, "pid") || is_long(&it, "exe") ||
			    is_long(&it, "path"))
				nocmd = 1;
		} else if (is_name(v, "systemd-run")) {
			if ((it.c == 'p' || is_long(&it, "property")) &&
			    it.vw != NULL && (range_hasx(it.vw, it.voff) ||
			    strncmp(it.vw->s + it.voff, "Exec", 4) == 0))
				reason = "unit property runs commands";
			if (it.c == 'S' || is_long(&it, "shell"))
				shell = "interactive shell";
		} else if (is_name(v, "runcon")) {
			if (strchr("urtl", it.c ? it.c : ' ') != NULL ||
			    is_long(&it, "user") || is_long(&it, "role") ||
			    is_long(&it, "type") || is_long(&it, "range"))
				ctxopt = 1;
		} else if (is_name(v, "torsocks")) {
			if (is_long(&it, "shell"))
				shell = "interactive shell";
		} else if (is_name(v, "faketime")) {
			if (is_long(&it, "date-prog") && it.vw != NULL) {
				if (range_hasx(it.vw, it.voff))
					reason = "wrapper options from an "
					    "expansion";
				else
					prog = it.voff == 0 ? it.vw :
					    word_from(c, it.vw->s + it.voff);
			}
		}
	}
	if (r < 0)
		return opts_opaque(c, v, &it);
	if (is_name(v, "unshare") || is_name(v, "nsenter"))
		shell = "interactive shell";	/* runs $SHELL */
	i = it.i;
	if (is_name(v, "taskset") || is_name(v, "faketime") ||
	    (is_name(v, "runcon") && !ctxopt))
		skip = 1;			/* MASK, TIMESTAMP, CONTEXT */
	else if (is_name(v, "chrt") && !nocmd && i < v->ac &&
	    (v->av[i]->hasx || is_number(v->av[i])))
		skip = 1;			/* PRIORITY (optional) */
	if (skip && !nocmd) {
		if (split_arg(v, i))
			return opts_opaque(c, v, &it);
		i++;
	}
	if (nocmd)
		return emit_self(c, v, NULL);
	if (i >= v->ac && pipew == NULL && prog == NULL)
		return emit_self(c, v, reason != NULL ? reason : shell);
	if ((r = emit_self_at(c, v, &self)) != 0)
		return r;
	if (reason != NULL)
		set_opaque(c, self, reason);
	if (pipew != NULL && (r = run_word_at(c, v, pipew, pipeoff,
	    "strace -o", self)) != 0)
		return r;
	if (prog != NULL && (r = analyze(c, &prog, 1, v->depth + 1,
	    "faketime --date-prog", v->si)) != 0)
		return r;
	return inner(c, v, i, v->name, v->si);
}

/* sg [-] GROUP [[-c] STRING]: STRING runs through /bin/sh -c. */
static int
w_sg(struct ctx *c, const struct cv *v, const struct wrapper *wp)
{
	size_t i = 1;
	struct optit it;

	(void)wp;
	if (i < v->ac && arg_is(v->av[i], "-"))
		i++;
	if (i < v->ac && (has_ux(v->av[i], 0) || (v->av[i]->len > 0 &&
	    (v->av[i]->f[0] & WF_X)))) {
		optit_init(&it, v, i, wp);
		return opts_opaque(c, v, &it);
	}
	if (is_name(v, "newgrp") || ++i >= v->ac)
		return emit_self(c, v, "interactive shell");
	if (i + 1 < v->ac && arg_is(v->av[i], "-c"))
		i++;
	return run_word(c, v, v->av[i], 0, "sg");
}

/*
 * script [opts] [FILE]: -c STRING runs through the shell, otherwise an
 * interactive shell; the typescript and logs are writes.
 */
static int
w_script(struct ctx *c, const struct cv *v, const struct wrapper *wp)
{
	struct optit it;
	struct word *cw = NULL, *file = NULL, *dflt;
	size_t coff = 0;
	int r;

	optit_init(&it, v, 1, wp);
	for (;;) {
		while ((r = optit_next(&it)) == 1) {
			if ((it.c == 'c' || is_long(&it, "command")) &&
			    it.vw != NULL) {
				cw = it.vw;
				coff = it.voff;
			} else if ((strchr("BIOTt", it.c ? it.c : ' ') != NULL ||
			    is_long(&it, "log-io") || is_long(&it, "log-in") ||
			    is_long(&it, "log-out") ||
			    is_long(&it, "log-timing")) && it.vw != NULL)
				add_write(c, it.vw, it.voff);
		}
		if (r < 0)
			return opts_opaque(c, v, &it);
		if (it.i >= v->ac)
			break;
		if (file == NULL)
			file = v->av[it.i];
		it.i++;
		if (it.ended)
			break;
	}
	if (file != NULL)
		add_write(c, file, 0);
	else {
		dflt = word_from(c, "typescript");
		add_write(c, dflt, 0);
	}
	if (cw == NULL)
		return emit_self(c, v, "interactive shell");
	return run_word(c, v, cw, coff, "script -c");
}

/* gdb: --args CMD runs CMD; -ex/-x run debugger commands. */
static int
w_gdb(struct ctx *c, const struct cv *v, const struct wrapper *wp)
{
	static const char *const cmds[] = {
		"ex", "eval-command", "x", "command", "iex",
		"init-eval-command", "ix", "init-command", NULL
	};
	static const char *const valued[] = {
		"p", "pid", "c", "core", "d", "directory", "s", "symbols",
		"e", "exec", "se", "cd", "D", "data-directory", "tty", "i",
		"interpreter", "b", "l", "t", "ex", "eval-command", "x",
		"command", "iex", "init-eval-command", "ix", "init-command",
		NULL
	};
	const struct word *w;
	const char *p, *eq, *m, *reason = NULL;
	size_t i, n, args = 0;
	int r;

	(void)wp;
	if (v->si == SI_PIPE || v->si == SI_FILE || v->si == SI_HEREDOC)
		reason = "runs debugger commands";	/* from stdin */
	for (i = 1; i < v->ac && args == 0; i++) {
		w = v->av[i];
		if (w->len > 0 && (w->f[0] & WF_X) && has_ux(w, 0))
			return emit_self(c, v,
			    "debugger options from an expansion");
		if (w->len < 2 || w->s[0] != '-' || (w->f[0] & WF_X))
			continue;
		if (arg_is(w, "--"))
			break;
		p = w->s + (w->s[1] == '-' ? 2 : 1);
		eq = strchr(p, '=');
		n = eq != NULL ? (size_t)(eq - p) : strlen(p);
		if (range_hasx(w, 1))
			return emit_self(c, v,
			    "debugger options from an expansion");
		if (in_list(cmds, p, n, 0, &m) == 2)
			reason = "runs debugger commands";
		if (n == 4 && strncmp(p, "args", 4) == 0)
			args = i + 1;
		else if (eq == NULL && in_list(valued, p, n, 0, &m) == 2)
			i++;
	}
	if ((r = emit_self(c, v, reason)) != 0 || args == 0)
		return r;
	return inner(c, v, args, "gdb --args", v->si);
}

/* expect: -c and scripts on stdin are programs we cannot analyse. */
static int
w_expect(struct ctx *c, const struct cv *v, const struct wrapper *wp)
{
	struct optit it;
	int r, script = 0;

	optit_init(&it, v, 1, wp);
	while ((r = optit_next(&it)) == 1)
		if (it.c == 'c' || it.c == 'i' || (it.c == 'f' &&
		    it.vw != NULL && arg_is(it.vw, "-")))
			return emit_self(c, v, "runs an expect script");
		else if (it.c == 'f')
			script = 1;
	if (r < 0)
		return emit_self(c, v, "runs an expect script");
	if (!script && it.i < v->ac && !arg_is(v->av[it.i], "-"))
		script = 1;
	if (!script && (it.i < v->ac || v->si == SI_PIPE ||
	    v->si == SI_FILE || v->si == SI_HEREDOC))
		return emit_self(c, v, "runs an expect script");
	return emit_self(c, v, NULL);
}

/* firejail [--opt[=val]...] [-c] CMD...: -c joins CMD for the shell. */
static int
w_firejail(struct ctx *c, const struct cv *v, const struct wrapper *wp)
{
	const struct word *w;
	size_t i;
	int r, cflag = 0;

	(void)wp;
	for (i = 1; i < v->ac; i++) {
		w = v->av[i];
		if (w->len > 0 && (w->f[0] & WF_X) && has_ux(w, 0))
			return emit_self(c, v, "wrapper options from an expansion");
		if (w->len < 2 || w->s[0] != '-' || (w->f[0] & WF_X))
			break;
		if (arg_is(w, "--")) {
			i++;
			break;
		}
		if (arg_is(w, "-c")) {
			cflag = 1;
			i++;
			break;
		}
		if (range_hasx(w, 0) && has_ux(w, 0))
			return emit_self(c, v, "wrapper options from an expansion");
	}
	if (i >= v->ac)
		return emit_self(c, v, "interactive shell");
	if (!cflag) {
		if ((r = emit_self(c, v, NULL)) != 0)
			return r;
		return inner(c, v, i, v->name, v->si);
	}
	return run_joined(c, v, i, "firejail -c");
}

/* valgrind [--opt[=val]...] CMD...: --log-file= and --xml-file= write. */
static int
w_valgrind(struct ctx *c, const struct cv *v, const struct wrapper *wp)
{
	const struct word *w;
	size_t i;
	int r;

	(void)wp;
	for (i = 1; i < v->ac; i++) {
		w = v->av[i];
		if (w->len > 0 && (w->f[0] & WF_X) && has_ux(w, 0))
			return emit_self(c, v, "wrapper options from an expansion");
		if (w->len < 2 || w->s[0] != '-' || (w->f[0] & WF_X))
			break;
		if (arg_is(w, "--")) {
			i++;
			break;
		}
		if (strncmp(w->s, "--log-file=", 11) == 0)
			add_write(c, w, 11);
		else if (strncmp(w->s, "--xml-file=", 11) == 0)
			add_write(c, w, 11);
		else if (has_ux(w, 0))
			return emit_self(c, v, "wrapper options from an expansion");
	}
	if ((r = emit_self(c, v, NULL)) != 0)
		return r;
	return inner(c, v, i, v->name, v->si);
}

/*
 * screen [opts] [CMD...]: CMD runs in a new window; without one, a shell
 * (unless attaching, listing...); -X sends commands to a session.
 */
static int
w_screen(struct ctx *c, const struct cv *v, const struct wrapper *wp)
{
	const struct word *w;
	size_t i, k;
	int r, noshell = 0;

	(void)wp;
	for (i = 1; i < v->ac; i++) {
		w = v->av[i];
		if (w->len > 0 && (w->f[0] & WF_X) && has_ux(w, 0))
			return emit_self(c, v, "wrapper options from an expansion");
		if (w->len < 2 || w->s[0] != '-' || (w->f[0] & WF_X))
			break;
		if (range_hasx(w, 0))
			return emit_self(c, v, "wrapper options from an expansion");
		if (arg_is(w, "--")) {
			i++;
			break;
		}
		if (arg_is(w, "-ls") || arg_is(w, "-list") ||
		    arg_is(w, "-wipe") || arg_is(w, "-version")) {
			noshell = 1;
			continue;
		}
		if (arg_is(w, "-Logfile")) {
			if (i + 1 < v->ac)
				add_write(c, v->av[++i], 0);
			continue;
		}
		for (k = 1; k < w->len; k++) {
			if (w->s[k] == 'X' || w->s[k] == 'Q')
				return emit_self(c, v, "types into a terminal");
			if (strchr("rRxdDv", w->s[k]) != NULL)
				noshell = 1;
			if (w->s[k] == 'm')
				noshell = 2;
			if (strchr("cehpsStT", w->s[k]) != NULL) {
				if (k + 1 == w->len)
					i++;
				break;
			}
		}
	}
	if (i >= v->ac)
		return emit_self(c, v, noshell ? NULL : "interactive shell");
	if (noshell == 1)
		return emit_self(c, v, NULL);	/* session names */
	if ((r = emit_self(c, v, NULL)) != 0)
		return r;
	return inner(c, v, i, v->name, v->si);
}

/* tmux: commands separated by ";" arguments; some run shell commands. */
enum { TM_NEWS, TM_NEWW, TM_SPLIT, TM_RESPP, TM_RESPW, TM_POPUP, TM_RUN,
    TM_PIPE, TM_IF, TM_SEND, TM_SOURCE, TM_PROMPT, TM_OTHER };

static const struct {
	const char *name, *alias, *valued;
} tmux_cmds[] = {
	[TM_NEWS] = { "new-session", "new", "cefFnstxy" },
	[TM_NEWW] = { "new-window", "neww", "ceFnt" },
	[TM_SPLIT] = { "split-window", "splitw", "celtFp" },
	[TM_RESPP] = { "respawn-pane", "respawnp", "cet" },
	[TM_RESPW] = { "respawn-window", "respawnw", "cet" },
	[TM_POPUP] = { "display-popup", "popup", "bcdehsStTwxy" },
	[TM_RUN] = { "run-shell", "run", "dt" },
	[TM_PIPE] = { "pipe-pane", "pipep", "t" },
	[TM_IF] = { "if-shell", "if", "t" },
	[TM_SEND] = { "send-keys", "send", "cNt" },
	[TM_SOURCE] = { "source-file", "source", "t" },
	[TM_PROMPT] = { "command-prompt", NULL, "ITpt" },
};

static int
tmux_find(const struct word *w)
{
	size_t i, nt = sizeof(tmux_cmds) / sizeof(tmux_cmds[0]);
	int found = TM_OTHER, nf = 0;

	if (w->hasx)
		return -1;
	for (i = 0; i < nt; i++) {
		if (strcmp(w->s, tmux_cmds[i].name) == 0 ||
		    (tmux_cmds[i].alias != NULL &&
		    strcmp(w->s, tmux_cmds[i].alias) == 0))
			return (int)i;
		if (w->len > 0 && strncmp(w->s, tmux_cmds[i].name,
		    w->len) == 0) {
			found = (int)i;
			nf++;
		}
	}
	/* tmux takes an unambiguous prefix; an ambiguous one may be too */
	return nf >= 1 ? found : TM_OTHER;
}

static int
w_tmux(struct ctx *c, const struct cv *v, const struct wrapper *wp)
{
	struct wrapper sw;
	struct optit it;
	struct cv sub;
	struct word *cw = NULL;
	size_t self, i, s, e, coff = 0;
	char *via;
	int r, k, n = 0, detached, fflag;

	optit_init(&it, v, 1, wp);
	while ((r = optit_next(&it)) == 1)
		if (it.c == 'c' && it.vw != NULL) {
			cw = it.vw;
			coff = it.voff;
		}
	if (r < 0)
		return opts_opaque(c, v, &it);
	if ((r = emit_self_at(c, v, &self)) != 0)
		return r;
	if (cw != NULL)
		return run_word_at(c, v, cw, coff, "tmux -c", self);
	for (s = it.i; s < v->ac; s = e + 1) {
		for (e = s; e < v->ac && !arg_is(v->av[e], ";"); e++)
			;
		if (e == s)
			continue;
		n++;
		if ((k = tmux_find(v->av[s])) < 0) {
			set_opaque(c, self, "tmux command from an expansion");
			continue;
		}
		if (k == TM_OTHER)
			continue;
		if (k == TM_SEND || k == TM_PROMPT) {
			set_opaque(c, self, "types into a terminal");
			continue;
		}
		if (k == TM_SOURCE) {
			set_opaque(c, self, "runs tmux commands");
			continue;
		}
		memset(&sw, 0, sizeof(sw));
		sw.name = tmux_cmds[k].name;
		sw.shortarg = tmux_cmds[k].valued;
		sub = *v;
		sub.av = v->av + s;
		sub.ac = e - s;
		optit_init(&it, &sub, 1, &sw);
		detached = fflag = 0;
		while ((r = optit_next(&it)) == 1) {
			if (it.c == 'd')
				detached = 1;
			if (it.c == 'C' || it.c == 'F')
				fflag = 1;
		}
		if (r < 0) {
			set_opaque(c, self, "wrapper options from an expansion");
			continue;
		}
		i = it.i;
		via = xasprintf("tmux %s", tmux_cmds[k].name);
		keep_str(c, via);
		if (i >= sub.ac) {
			if (k == TM_NEWS && !detached)
				set_opaque(c, self, "interactive shell");
			continue;
		}
		if (k == TM_RUN && fflag) {
			set_opaque(c, self, "runs tmux commands");
			continue;
		}
		if (k == TM_IF) {
			if (sub.ac - i > 1)
				set_opaque(c, self, "runs tmux commands");
			if (fflag)
				continue;
		}
		if (sub.ac - i == 1 || k == TM_RUN || k == TM_PIPE ||
		    k == TM_IF) {
			if ((r = run_word_at(c, &sub, sub.av[i], 0, via,
			    self)) != 0)
				return r;
		} else if ((r = inner(c, &sub, i, via, v->si)) != 0)
			return r;
	}
	if (n == 0)
		set_opaque(c, self, "interactive shell");	/* new-session */
	return 0;
}

static const char *const sudo_longarg[] = {
	"auth-type", "chdir", "chroot", "close-from", "command-timeout",
	"group", "host", "login-class", "other-user", "prompt", "role",
	"type", "user", NULL
};
static const char *const sudo_longflag[] = {
	"askpass", "background", "bell", "edit", "help", "login", "list",
	"non-interactive", "preserve-env", "preserve-groups",
	"remove-timestamp", "reset-timestamp", "set-home", "shell", "stdin",
	"validate", "version", NULL
};
static const char *const env_longarg[] = {
	"unset", "chdir", "split-string", NULL
};
static const char *const env_longflag[] = {
	"ignore-environment", "null", "debug", "default-signal",
	"ignore-signal", "block-signal", "list-signal-handling", "help",
	"version", NULL
};
static const char *const nice_longarg[] = { "adjustment", NULL };
static const char *const timeout_longarg[] = {
	"signal", "kill-after", NULL
};
static const char *const timeout_longflag[] = {
	"preserve-status", "foreground", "verbose", "help", "version", NULL
};
static const char *const time_longarg[] = { "format", "output", NULL };
static const char *const xargs_longarg[] = {
	"arg-file", "delimiter", "max-args", "max-procs", "max-chars",
	"process-slot-var", NULL
};
static const char *const xargs_longflag[] = {
	"null", "no-run-if-empty", "interactive", "verbose", "exit",
	"open-tty", "show-limits", "eof", "replace", "max-lines", "help",
	"version", NULL
};
static const char *const stdbuf_longarg[] = {
	"input", "output", "error", NULL
};
static const char *const setsid_longflag[] = {
	"fork", "wait", "ctty", NULL
};
static const char *const ionice_longarg[] = {
	"class", "classdata", "pid", "pgid", "uid", NULL
};
static const char *const chroot_longarg[] = { "userspec", "groups", NULL };
static const char *const flock_longarg[] = {
	"wait", "timeout", "conflict-exit-code", NULL
};
static const char *const watch_longarg[] = {
	"interval", "equexit", NULL
};
static const char *const watch_longflag[] = {
	"differences", "exec", "no-title", "beep", "errexit", "chgexit",
	"color", "no-color", "precise", "no-wrap", "no-linewrap", "help",
	"version", NULL
};
static const char *const su_longarg[] = {
	"command", "session-command", "shell", "group", "supp-group",
	"whitelist-environment", "user", NULL
};
static const char *const su_longflag[] = {
	"login", "preserve-environment", "fast", "pty", "help", "version",
	NULL
};
static const char *const pkexec_longarg[] = { "user", NULL };
static const char *const tee_longflag[] = {
	"append", "ignore-interrupts", "output-error", NULL
};

static const char *const strace_longarg[] = {
	"output", "trace", "signal", "status", "abbrev", "verbose",
	"raw", "read", "write", "fault", "inject", "kvm", "attach",
	"user", "env", "string-limit", "columns", "summary-sort-by",
	"summary-columns", "trace-path", "detach-on",
	"const-print-style", "summary-syscall-overhead", "trace-fds",
	"argv0", NULL
};
static const char *const ltrace_longarg[] = {
	"output", "config", "library", "align", "indent", NULL
};
static const char *const chrt_longarg[] = {
	"sched-runtime", "sched-period", "sched-deadline", NULL
};
static const char *const unshare_longarg[] = {
	"propagation", "setgroups", "root", "wd", "setuid", "setgid",
	"map-user", "map-group", "map-users", "map-groups", "monotonic",
	"boottime", "load-interp", NULL
};
static const char *const unshare_longflag[] = {
	"fork", "map-root-user", "map-current-user", "kill-child",
	"mount-proc", "keep-caps", "map-auto", "mount", "uts", "ipc",
	"net", "pid", "user", "cgroup", "time", "help", "version", NULL
};
static const char *const nsenter_longarg[] = {
	"target", "setuid", "setgid", "wdns", NULL
};
static const char *const nsenter_longflag[] = {
	"all", "mount", "uts", "ipc", "net", "pid", "cgroup", "user",
	"time", "root", "wd", "no-fork", "preserve-credentials",
	"follow-context", "join-cgroup", "user-parent", "keep-caps",
	"env", "help", "version", NULL
};
static const char *const sdrun_longarg[] = {
	"unit", "property", "description", "slice", "uid", "gid",
	"nice", "working-directory", "setenv", "host", "machine",
	"service-type", "on-active", "on-boot", "on-startup",
	"on-unit-active", "on-unit-inactive", "on-calendar",
	"timer-property", "path-property", "socket-property",
	"expand-environment", "json", NULL
};
static const char *const sdrun_longflag[] = {
	"user", "system", "scope", "pty", "pipe", "quiet",
	"remain-after-exit", "collect", "wait", "no-block",
	"no-ask-password", "send-sighup", "shell", "same-dir",
	"slice-inherit", "on-clock-change", "on-timezone-change",
	"ignore-failure", "help", "version", NULL
};
static const char *const runcon_longarg[] = {
	"user", "role", "type", "range", NULL
};
static const char *const numactl_longarg[] = {
	"interleave", "weighted-interleave", "preferred",
	"preferred-many", "cpubind", "cpunodebind", "physcpubind",
	"membind", "shm", "file", "offset", "length", "shmmode",
	"shmid", NULL
};
static const char *const numactl_longflag[] = {
	"all", "show", "localalloc", "hardware", "strict", "dump",
	"dump-nodes", "huge", "touch", "verify", "balancing", NULL
};
static const char *const cpulimit_longarg[] = {
	"limit", "pid", "exe", "path", "cpu", "signal", NULL
};
static const char *const faketime_longarg[] = { "date-prog", NULL };
static const char *const torsocks_longarg[] = {
	"user", "pass", "address", "port", NULL
};
static const char *const torsocks_longflag[] = {
	"shell", "isolate", "debug", "quiet", "version", "help", NULL
};
static const char *const script_longarg[] = {
	"command", "log-io", "log-in", "log-out", "log-timing",
	"logging-format", "echo", "output-limit", NULL
};
static const char *const script_longflag[] = {
	"append", "return", "flush", "force", "quiet", "timing",
	"help", "version", NULL
};

static const char *const awk_longarg[] = {
	"file", "assign", "field-separator", "source", "include", "load",
	"exec", NULL
};
/*
 * Commands that change files, with the paths they change as writes (so
 * write rules and the "redirect" action apply to them as to a
 * redirection): every operand (rm, rmdir, unlink, mkdir, touch, truncate,
 * shred), the destination (cp, mv, ln, install: the last operand, or
 * DIR/NAME with -t DIR), or every operand after the mode or owner (chmod,
 * chown, chgrp; all of them with --reference).  GNU option order: options
 * may follow operands; after "--" everything is an operand.
 */
enum fs_which { FS_ALL, FS_DEST, FS_AFTER_FIRST };

static int
w_fschange(struct ctx *c, const struct cv *v, const struct wrapper *wp)
{
	struct optit it;
	enum fs_which which = FS_ALL;
	const struct word *tdir = NULL;
	size_t *ops, nops = 0, i, first = 0, n, tdoff = 0;
	int r, dirs = 0, ref = 0;
	const char *b;
	char *path;

	if (is_name(v, "cp") || is_name(v, "mv") || is_name(v, "ln") ||
	    is_name(v, "install"))
		which = FS_DEST;
	else if (is_name(v, "chmod") || is_name(v, "chown") ||
	    is_name(v, "chgrp"))
		which = FS_AFTER_FIRST;
	if ((r = emit_self(c, v, NULL)) != 0)
		return r;
	ops = xcalloc(v->ac + 1, sizeof(*ops));
	optit_init(&it, v, 1, wp);
	/* chmod's mode may look like an option: -w, -x+r */
	while ((r = optit_next_gnu(&it, ops, &nops, is_name(v, "chmod") &&
	    !ref)) != 0) {
		if (r < 0) {
			/* an expansion that may be options or paths */
			(void)add_write(c, v->av[it.i], 0);
			it.i++;
			it.ci = 0;
			continue;
		}
		if ((it.c == 't' || is_long(&it, "target-directory")) &&
		    which == FS_DEST) {
			tdir = it.vw;
			tdoff = it.voff;
		}
		if (it.c == 'd' && is_name(v, "install"))
			dirs = 1;
		if (is_long(&it, "reference"))
			ref = 1;
	}
	if (which == FS_AFTER_FIRST && !ref)
		first = 1;
	if (which != FS_ALL && !dirs) {
		/*
		 * An operand from an expansion may be several words, or
		 * options (-t DIR, --reference): where it writes is unknown.
		 */
		for (i = 0; i < nops; i++)
			if (v->av[ops[i]]->hasx && !(which == FS_AFTER_FIRST &&
			    i >= first) && !(which == FS_DEST && tdir == NULL &&
			    nops >= 2 && i == nops - 1))
				(void)add_write(c, v->av[ops[i]], 0);
	}
	if (which == FS_DEST && !dirs) {
		if (tdir != NULL) {
			for (i = 0; i < nops; i++) {
				const struct word *sw = v->av[ops[i]];

				if (sw->hasx)
					continue;	/* written above */
				if (range_hasx(tdir, tdoff)) {
					(void)add_write(c, tdir, tdoff);
					continue;
				}
				b = base_name(sw->s, sw->len, &n);
				path = xasprintf("%s/%.*s", tdir->s + tdoff,
				    (int)n, b);
				add_write_text(c, path, strlen(path));
				free(path);
			}
		} else if (nops >= 2)
			(void)add_write(c, v->av[ops[nops - 1]], 0);
		else if (nops == 1 && is_name(v, "ln")) {
			/* ln TARGET: a link named like it, here */
			const struct word *sw = v->av[ops[0]];

			if (sw->hasx)
				(void)add_write(c, sw, 0);
			else {
				b = base_name(sw->s, sw->len, &n);
				add_write_text(c, b, n);
			}
		}
		free(ops);
		return 0;
	}
	for (i = first; i < nops; i++)
		(void)add_write(c, v->av[ops[i]], 0);
	free(ops);
	return 0;
}

/* File-changing commands (w_fschange): long options taking a value. */
static const char *const cp_longarg[] = {
	"suffix", "target-directory", "context", NULL
};
static const char *const install_longarg[] = {
	"suffix", "target-directory", "mode", "owner", "group",
	"strip-program", "context", NULL
};
static const char *const mkdir_longarg[] = { "mode", "context", NULL };
static const char *const touch_longarg[] = {
	"date", "reference", "time", NULL
};
static const char *const truncate_longarg[] = {
	"size", "reference", NULL
};
static const char *const shred_longarg[] = {
	"iterations", "size", "random-source", NULL
};
static const char *const chmod_longarg[] = { "reference", "from", NULL };
static const char *const sed_longarg[] = {
	"expression", "file", "line-length", NULL
};
static const char *const sed_longflag[] = {
	"in-place", "quiet", "silent", "sandbox", "debug", "posix",
	"separate", "unbuffered", "regexp-extended", "null-data",
	"zero-terminated", "follow-symlinks", "binary", "help",
	"version", NULL
};

static const struct wrapper wrappers[] = {
	{ "sudo", w_opts, "aCcDghpRrTtUu", NULL, sudo_longarg,
	    sudo_longflag },
	{ "doas", w_opts, "uCa", NULL, NULL, NULL },
	{ "pkexec", w_opts, NULL, NULL, pkexec_longarg, NULL },
	{ "env", w_env, "uCS", NULL, env_longarg, env_longflag },
	{ "nice", w_opts, "n", NULL, nice_longarg, NULL },
	{ "nohup", w_prefix, NULL, NULL, NULL, NULL },
	{ "builtin", w_prefix, NULL, NULL, NULL, NULL },
	{ "busybox", w_prefix, NULL, NULL, NULL, NULL },
	{ "timeout", w_timeout, "sk", NULL, timeout_longarg,
	    timeout_longflag },
	{ "time", w_opts, "fo", NULL, time_longarg, NULL },
	{ "exec", w_opts, "a", NULL, NULL, NULL },
	{ "command", w_opts, NULL, NULL, NULL, NULL },
	{ "xargs", w_xargs, "adEILnPs", "eil", xargs_longarg,
	    xargs_longflag },
	{ "find", w_find, NULL, NULL, NULL, NULL },
	{ "stdbuf", w_opts, "ioe", NULL, stdbuf_longarg, NULL },
	{ "setsid", w_opts, NULL, NULL, NULL, setsid_longflag },
	{ "ionice", w_opts, "cnpPu", NULL, ionice_longarg, NULL },
	{ "chroot", w_chroot, NULL, NULL, chroot_longarg, NULL },
	{ "flock", w_flock, "wE", NULL, flock_longarg, NULL },
	{ "watch", w_watch, "nq", "d", watch_longarg, watch_longflag },
	{ "su", w_su, "csgGw", NULL, su_longarg, su_longflag },
	{ "runuser", w_su, "ucsgGw", NULL, su_longarg, su_longflag },
	{ "eval", w_eval, NULL, NULL, NULL, NULL },
	{ "source", w_source, NULL, NULL, NULL, NULL },
	{ ".", w_source, NULL, NULL, NULL, NULL },
	{ "tee", w_tee, NULL, NULL, NULL, tee_longflag },
	{ "cp", w_fschange, "St", NULL, cp_longarg, NULL },
	{ "mv", w_fschange, "St", NULL, cp_longarg, NULL },
	{ "ln", w_fschange, "St", NULL, cp_longarg, NULL },
	{ "install", w_fschange, "Stmog", NULL, install_longarg, NULL },
	{ "rm", w_fschange, NULL, NULL, NULL, NULL },
	{ "rmdir", w_fschange, NULL, NULL, NULL, NULL },
	{ "unlink", w_fschange, NULL, NULL, NULL, NULL },
	{ "mkdir", w_fschange, "m", NULL, mkdir_longarg, NULL },
	{ "touch", w_fschange, "drt", NULL, touch_longarg, NULL },
	{ "truncate", w_fschange, "sr", NULL, truncate_longarg, NULL },
	{ "shred", w_fschange, "ns", NULL, shred_longarg, NULL },
	{ "chmod", w_fschange, NULL, NULL, chmod_longarg, NULL },
	{ "chown", w_fschange, NULL, NULL, chmod_longarg, NULL },
	{ "chgrp", w_fschange, NULL, NULL, chmod_longarg, NULL },
	{ "dd", w_dd, NULL, NULL, NULL, NULL },
	{ "trap", w_trap, NULL, NULL, NULL, NULL },
	{ "awk", w_awk, "fvFeEilW", NULL, awk_longarg, NULL },
	{ "gawk", w_awk, "fvFeEilW", NULL, awk_longarg, NULL },
	{ "mawk", w_awk, "fvFeEilW", NULL, awk_longarg, NULL },
	{ "nawk", w_awk, "fvFeEilW", NULL, awk_longarg, NULL },
	{ "sed", w_sed, "efl", "i", sed_longarg, sed_longflag },
	{ "gsed", w_sed, "efl", "i", sed_longarg, sed_longflag },
	{ "strace", w_run, "abeEIoOpPsSuUX", NULL, strace_longarg, NULL },
	{ "ltrace", w_run, "aADeFlnopsuwx", NULL, ltrace_longarg, NULL },
	{ "chrt", w_run, "TPD", NULL, chrt_longarg, NULL },
	{ "taskset", w_run, NULL, NULL, NULL, NULL },
	{ "unshare", w_run, "RwSG", "muinpCUT", unshare_longarg,
	    unshare_longflag },
	{ "nsenter", w_run, "tSGW", "muinpCUTrw", nsenter_longarg,
	    nsenter_longflag },
	{ "systemd-run", w_run, "upEHMs", NULL, sdrun_longarg,
	    sdrun_longflag },
	{ "runcon", w_run, "urtl", NULL, runcon_longarg, NULL },
	{ "numactl", w_run, "cCfiILmMnNopPSw", NULL, numactl_longarg,
	    numactl_longflag },
	{ "cpulimit", w_run, "lpePcs", NULL, cpulimit_longarg, NULL },
	{ "faketime", w_run, NULL, NULL, faketime_longarg, NULL },
	{ "proxychains", w_run, "f", NULL, NULL, NULL },
	{ "proxychains4", w_run, "f", NULL, NULL, NULL },
	{ "torsocks", w_run, "uapP", NULL, torsocks_longarg,
	    torsocks_longflag },
	{ "catchsegv", w_prefix, NULL, NULL, NULL, NULL },
	{ "sg", w_sg, NULL, NULL, NULL, NULL },
	{ "newgrp", w_sg, NULL, NULL, NULL, NULL },
	{ "script", w_script, "cBEIOTmo", "t", script_longarg,
	    script_longflag },
	{ "gdb", w_gdb, NULL, NULL, NULL, NULL },
	{ "expect", w_expect, "cfD", NULL, NULL, NULL },
	{ "firejail", w_firejail, NULL, NULL, NULL, NULL },
	{ "valgrind", w_valgrind, NULL, NULL, NULL, NULL },
	{ "screen", w_screen, NULL, NULL, NULL, NULL },
	{ "tmux", w_tmux, "cfLST", NULL, NULL, NULL },
};

/* Unquoted * ? or [ with a later ], outside expansions.  Linear. */
static int
has_glob(const struct word *w)
{
	size_t i, lastclose = 0;
	int haveclose = 0;

	for (i = 0; i < w->len; i++)
		if (w->f[i] == 0 && w->s[i] == ']') {
			lastclose = i;
			haveclose = 1;
		}
	for (i = 0; i < w->len; i++) {
		if (w->f[i] != 0)
			continue;
		if (w->s[i] == '*' || w->s[i] == '?')
			return 1;
		if (w->s[i] == '[' && haveclose && lastclose > i)
			return 1;
	}
	return 0;
}

/* Unquoted {a,b} or {x..y}: one pass, a flag per open brace. */
static int
has_brace(const struct word *w)
{
	unsigned char *open;
	size_t i, depth = 0;
	int found = 0;

	open = xmalloc(w->len + 1);
	for (i = 0; i < w->len && !found; i++) {
		if (w->f[i] != 0)
			continue;
		if (w->s[i] == '{')
			open[depth++] = 0;
		else if (w->s[i] == '}' && depth > 0)
			found = open[--depth];
		else if (depth > 0 && (w->s[i] == ',' || (w->s[i] == '.' &&
		    i + 1 < w->len && w->s[i + 1] == '.' &&
		    w->f[i + 1] == 0)))
			open[depth - 1] = 1;
	}
	free(open);
	return found;
}

static int
analyze(struct ctx *c, struct word **av, size_t ac, int depth,
    const char *via, int si)
{
	const struct interp *ip;
	struct cv v;
	const char *b;
	char *name;
	size_t i, n;
	int r;

	if (ac == 0)
		return 0;
	if (depth > PC_MAX_DEPTH)
		return err(c, PC_ERR_DEPTH, 0, "commands nested deeper than "
		    "%d levels (wrappers, substitutions, sh -c)",
		    PC_MAX_DEPTH);
	if (av[0]->hasx) {
		for (i = 0; i < av[0]->len; i++) {
			if (av[0]->f[i] & WF_RX)
				return emit(c, av, ac, depth, via,
				    "command name from xargs replacement");
			if (av[0]->f[i] & WF_RF)
				return emit(c, av, ac, depth, via,
				    "command name from find -exec {}");
		}
		return emit(c, av, ac, depth, via,
		    "command name from an expansion");
	}
	if (has_glob(av[0]))
		return emit(c, av, ac, depth, via, "command name with a glob");
	if (has_brace(av[0]))
		return emit(c, av, ac, depth, via,
		    "command name with brace expansion");
	b = base_name(av[0]->s, av[0]->len, &n);
	name = xstrndup(b, n);
	memset(&v, 0, sizeof(v));
	v.av = av;
	v.ac = ac;
	v.depth = depth;
	v.via = via;
	v.si = si == SI_INHERIT ? SI_TTY : si;
	v.name = keep_str(c, name);
	for (i = 0; i < sizeof(wrappers) / sizeof(wrappers[0]); i++)
		if (strcmp(name, wrappers[i].name) == 0)
			return wrappers[i].fn(c, &v, &wrappers[i]);
	if ((ip = find_interp(name)) != NULL)
		return w_interp(c, &v, ip);
	r = emit_self(c, &v, NULL);
	return r;
}

/* ---- entry points ---- */

static void
free_cmd(struct pc_command *pc)
{
	size_t i;

	for (i = 0; i < pc->argc; i++)
		free(pc->argv[i]);
	free(pc->argv);
	free(pc->name);
	free(pc->via);
}

struct pc_result *
pc_parse(const char *input, size_t len)
{
	struct pc_result *res = xcalloc(1, sizeof(*res));
	struct cmdlist l;
	struct ctx c;
	struct lex ls;
	const char *nul;
	size_t i;
	int r;

	memset(&c, 0, sizeof(c));
	memset(&l, 0, sizeof(l));
	c.res = res;
	if (input == NULL)
		len = 0;
	if (len > PC_MAX_INPUT)
		r = err(&c, PC_ERR_TOOLONG, 0, "input is %zu bytes, more than "
		    "%d", len, PC_MAX_INPUT);
	else if (len > 0 && (nul = memchr(input, '\0', len)) != NULL)
		r = err(&c, PC_ERR_NUL, 0, "NUL byte at offset %zu",
		    (size_t)(nul - input));
	else {
		memset(&ls, 0, sizeof(ls));
		ls.c = &c;
		ls.s = input != NULL ? input : "";
		ls.len = len;
		ls.real_eof = 1;
		ls.out = &l;
		r = parse_program(&ls);
		free(ls.hd);
		if (r == 0)
			r = analyze_list(&c, &l, SI_TTY);
	}
	if (r != 0 || c.err != PC_OK) {
		for (i = 0; i < res->ncmds; i++)
			free_cmd(&res->cmds[i]);
		for (i = 0; i < res->nwrites; i++)
			free(res->writes[i].path);
		free(res->cmds);
		free(res->writes);
		res->cmds = NULL;
		res->writes = NULL;
		res->ncmds = res->nwrites = 0;
		res->error = c.err != PC_OK ? c.err : PC_ERR_SYNTAX;
		res->error_msg = c.errmsg != NULL ? c.errmsg :
		    xstrdup("internal error");
		c.errmsg = NULL;
		res->incomplete = c.incomplete;
	}
	cmdlist_free(&l);
	for (i = 0; i < c.nwords; i++) {
		free(c.words[i]->s);
		free(c.words[i]->f);
		free(c.words[i]);
	}
	free(c.words);
	for (i = 0; i < c.nstrs; i++)
		free(c.strs[i]);
	free(c.strs);
	free(c.errmsg);
	return res;
}

void
pc_result_free(struct pc_result *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->ncmds; i++)
		free_cmd(&r->cmds[i]);
	for (i = 0; i < r->nwrites; i++)
		free(r->writes[i].path);
	free(r->cmds);
	free(r->writes);
	free(r->error_msg);
	free(r);
}

struct sbuf {
	char	*s;
	size_t	 len, cap;
};

static void
sb_add(struct sbuf *b, const char *s, size_t n)
{
	b->s = grow(b->s, &b->cap, b->len + n + 1, 1);
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void
sb_str(struct sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

/* An argument as is, or in double quotes with C escapes if it must be. */
static void
sb_arg(struct sbuf *b, const char *s)
{
	const unsigned char *p;
	char e[8];
	int quote = *s == '\0';

	for (p = (const unsigned char *)s; *p != '\0' && !quote; p++)
		if (*p <= ' ' || *p >= 0x7f || *p == '"')
			quote = 1;
	if (!quote) {
		sb_str(b, s);
		return;
	}
	sb_add(b, "\"", 1);
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\') {
			e[0] = '\\';
			e[1] = (char)*p;
			sb_add(b, e, 2);
		} else if (*p == '\n')
			sb_add(b, "\\n", 2);
		else if (*p == '\t')
			sb_add(b, "\\t", 2);
		else if (*p < ' ' || *p >= 0x7f) {
			snprintf(e, sizeof(e), "\\x%02x", *p);
			sb_str(b, e);
		} else
			sb_add(b, (const char *)p, 1);
	}
	sb_add(b, "\"", 1);
}

char *
pc_result_describe(const struct pc_result *r)
{
	static const char *const kinds[] = {
		"ok", "syntax", "toolong", "nul", "depth"
	};
	const struct pc_command *pc;
	struct sbuf b;
	size_t i, j;

	memset(&b, 0, sizeof(b));
	sb_add(&b, "", 0);
	if (r->error != PC_OK) {
		sb_str(&b, "error ");
		sb_str(&b, (unsigned)r->error < 5 ? kinds[r->error] : "?");
		sb_str(&b, ": ");
		sb_str(&b, r->error_msg != NULL ? r->error_msg : "");
		sb_str(&b, "\n");
		return b.s;
	}
	for (i = 0; i < r->ncmds; i++) {
		pc = &r->cmds[i];
		if (pc->opaque) {
			sb_str(&b, "opaque \"");
			sb_str(&b, pc->opaque_reason);
			sb_str(&b, "\" [");
			j = 0;
		} else {
			sb_str(&b, "cmd ");
			sb_arg(&b, pc->name);
			sb_str(&b, " [");
			j = 1;
		}
		for (; j < pc->argc; j++) {
			sb_arg(&b, pc->argv[j]);
			if (j + 1 < pc->argc)
				sb_str(&b, " ");
		}
		sb_str(&b, "]");
		if (pc->via != NULL) {
			sb_str(&b, " via ");
			sb_str(&b, pc->via);
		}
		sb_str(&b, "\n");
	}
	for (i = 0; i < r->nwrites; i++) {
		sb_str(&b, "write ");
		if (r->writes[i].opaque)
			sb_str(&b, "(opaque)");
		else
			sb_arg(&b, r->writes[i].path);
		sb_str(&b, "\n");
	}
	return b.s;
}
