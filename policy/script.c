/*
 * script.c: splitting a shell's input into the commands it will run, and
 * the small classifications the line-by-line judging needs (script.h).
 *
 * Pure: no I/O, no globals.  Trusts nothing; every decision here errs
 * towards judging more text together, or towards "not certain".
 */
#include <string.h>

#include "common/util.h"
#include "policy/cmdparse.h"
#include "policy/script.h"

static const char *const shells[] = {
	"sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "posh", "yash",
	NULL
};

/* Programs after which the foreground may be a shell again. */
static const char *const shellish[] = {
	"sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "posh", "yash",
	"fish", "csh", "tcsh", "busybox", "su", "login", "ssh", "screen",
	"tmux", "script", "chroot", "nsenter", "machinectl", "docker",
	"podman", "kubectl", "unshare", "setsid", "byobu", NULL
};

/* Variables whose value a shell later runs as code. */
static const char *const hooks[] = {
	"PROMPT_COMMAND", "PS0", "PS1", "PS2", "PS3", "PS4", "BASH_ENV",
	"ENV", "INPUTRC", "FCEDIT", "EDITOR", "VISUAL", "SHELLOPTS",
	"BASHOPTS", "IFS", "LD_PRELOAD", "LD_LIBRARY_PATH", "PATH",
	"CDPATH", "GLOBIGNORE", "BASH_LOADABLES_PATH", NULL
};

static int
in_list(const char *const *list, const char *s, size_t n)
{
	size_t i;

	for (i = 0; list[i] != NULL; i++)
		if (strlen(list[i]) == n && memcmp(list[i], s, n) == 0)
			return 1;
	return 0;
}

int
script_empty(const struct pc_result *r)
{
	return r->error == PC_OK && r->ncmds == 0 && r->nwrites == 0;
}

/* 1 if the line ending at buf[end] ('\n') ends with an odd run of '\'. */
static int
continued(const char *buf, size_t end)
{
	size_t n = 0;

	while (end > n && buf[end - 1 - n] == '\\')
		n++;
	return n % 2 == 1;
}

enum script_next
script_next(const char *buf, size_t len, int eof, size_t *cmdlen)
{
	struct pc_result *r;
	const char *nl;
	size_t pos = 0, end;
	int more, empty;

	*cmdlen = 0;
	while (pos < len && (nl = memchr(buf + pos, '\n', len - pos)) !=
	    NULL) {
		end = (size_t)(nl - buf) + 1;
		if (end > PC_MAX_INPUT)
			return SCRIPT_TOOLONG;
		pos = end;
		/* "cmd \" + newline: the next line continues this one. */
		if (continued(buf, end - 1))
			continue;
		r = pc_parse(buf, end);
		more = r->incomplete;
		empty = script_empty(r);
		pc_result_free(r);
		if (more || empty)
			continue;
		*cmdlen = end;
		return SCRIPT_COMMAND;
	}
	if (len > PC_MAX_INPUT)
		return SCRIPT_TOOLONG;
	if (eof && len > 0) {
		*cmdlen = len;
		return SCRIPT_COMMAND;
	}
	return SCRIPT_MORE;
}

static int
word_ok(const char *w, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char ch = w[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' ||
		    ch == '/' || ch == '+' || ch == '-'))
			return 0;
	}
	return 1;
}

static int
shell_name(const char *w, size_t n)
{
	if (n > 9 && memcmp(w, "/usr/bin/", 9) == 0)
		return in_list(shells, w + 9, n - 9);
	if (n > 5 && memcmp(w, "/bin/", 5) == 0)
		return in_list(shells, w + 5, n - 5);
	return in_list(shells, w, n);
}

static const char *const set_o_names[] = {
	"errexit", "nounset", "pipefail", "xtrace", "verbose", "posix",
	"noclobber", "noglob", NULL
};

int
script_shell_exec(const char *cmd)
{
	const char *p = cmd, *w;
	size_t n;
	int first = 1, args = 0, want_o = 0, seen_exec = 0;

	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		w = p;
		while (*p != '\0' && *p != ' ' && *p != '\t')
			p++;
		n = (size_t)(p - w);
		if (!word_ok(w, n))
			return 0;
		if (first) {
			/* "exec bash": the same shell, reading the same stdin */
			if (n == 4 && memcmp(w, "exec", 4) == 0 && !seen_exec) {
				seen_exec = 1;
				continue;
			}
			if (!shell_name(w, n))
				return 0;
			first = 0;
		} else if (args) {
			continue;	/* positional parameters after -s */
		} else if (want_o) {
			if (!in_list(set_o_names, w, n))
				return 0;
			want_o = 0;
		} else if (n == 2 && memcmp(w, "--", 2) == 0) {
			args = 1;
		} else if ((n == 2 && (memcmp(w, "-o", 2) == 0 ||
		    memcmp(w, "+o", 2) == 0))) {
			want_o = 1;
		} else if (in_list((const char *const[]){ "--login",
		    "--noprofile", "--norc", "--posix", NULL }, w, n)) {
			;
		} else if (n >= 2 && (w[0] == '-' || w[0] == '+') &&
		    w[1] != '-') {
			size_t i;

			for (i = 1; i < n; i++) {
				if (strchr("sexuvli", w[i]) == NULL)
					return 0;
				if (w[i] == 's')
					args = 1;
			}
		} else
			return 0;	/* a script file or an unknown option */
	}
	return !first && !want_o;
}

static int
has_arg(const struct pc_command *c, const char *const *opts)
{
	size_t i;

	for (i = 1; i < c->argc; i++) {
		const char *a = c->argv[i];

		if (in_list(opts, a, strlen(a)))
			return 1;
		/* Clustered short options: "-iu" contains -i. */
		if (a[0] == '-' && a[1] != '-' && a[1] != '\0' &&
		    (strchr(a, 'i') != NULL || strchr(a, 's') != NULL) &&
		    strchr(a, '=') == NULL)
			return 1;
	}
	return 0;
}

int
script_line_shellish(const struct pc_result *r)
{
	static const char *const shell_opts[] = {
		"-i", "-s", "--login", "--shell", NULL
	};
	size_t i;

	if (r->error != PC_OK)
		return 1;
	for (i = 0; i < r->ncmds; i++) {
		const struct pc_command *c = &r->cmds[i];

		if (c->opaque || c->name == NULL)
			return 1;
		if (in_list(shellish, c->name, strlen(c->name)))
			return 1;
		if ((strcmp(c->name, "sudo") == 0 ||
		    strcmp(c->name, "doas") == 0 ||
		    strcmp(c->name, "run0") == 0 ||
		    strcmp(c->name, "pkexec") == 0) &&
		    (c->argc == 1 || has_arg(c, shell_opts)))
			return 1;
		if (strcmp(c->name, "exec") == 0 && c->argc == 1)
			return 1;
	}
	return 0;
}

/*
 * 1 if text names NAME as a word of its own (not part of a longer name)
 * other than in an expansion ("$PATH", "${PS1}" read it; "PS1=",
 * "export PS1", "read PS1", "printf -v PS1" may set it).
 */
static int
names_hook(const char *text, size_t len, const char *name)
{
	size_t n = strlen(name), i;

	for (i = 0; i + n <= len; i++) {
		if (memcmp(text + i, name, n) != 0)
			continue;
		if (i > 0) {
			char b = text[i - 1];

			if ((b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z') ||
			    (b >= '0' && b <= '9') || b == '_')
				continue;
			if ((b == '$' || b == '{') && (i + n >= len ||
			    text[i + n] != '='))
				continue;	/* an expansion */
		}
		if (i + n < len) {
			char a = text[i + n];

			if ((a >= 'A' && a <= 'Z') || (a >= 'a' && a <= 'z') ||
			    (a >= '0' && a <= '9') || a == '_')
				continue;
		}
		return 1;
	}
	return 0;
}

void
script_mark_opaque(struct pc_result *r, const char *word,
    const char *reason)
{
	struct pc_command *c;

	r->cmds = xrealloc(r->cmds, (r->ncmds + 1) * sizeof(*r->cmds));
	c = &r->cmds[r->ncmds++];
	memset(c, 0, sizeof(*c));
	c->argv = xcalloc(2, sizeof(char *));
	c->argv[0] = xstrdup(word);
	c->argc = 1;
	c->opaque = 1;
	c->opaque_reason = reason;
}

int
script_mark_hooks(struct pc_result *r, const char *text, size_t len)
{
	size_t i;

	if (r->error != PC_OK)
		return 0;	/* denied anyway */
	for (i = 0; i < r->ncmds; i++) {
		const char *n = r->cmds[i].name;

		if (n != NULL && (strcmp(n, "bind") == 0 ||
		    strcmp(n, "enable") == 0)) {
			script_mark_opaque(r, n, "changes the shell's line "
			    "editor keys or builtins");
			return 1;
		}
	}
	for (i = 0; hooks[i] != NULL; i++)
		if (names_hook(text, len, hooks[i]))
			break;
	if (hooks[i] == NULL)
		return 0;
	script_mark_opaque(r, hooks[i], "a shell variable whose value runs "
	    "as code later");
	return 1;
}
