/*
 * script.h: what a shell reading commands will run next, for judging a
 * shell's input line by line (docs/ARCHITECTURE.md, "Shells, line by
 * line").
 *
 * Pure functions over bytes: no I/O, no globals.  They trust nothing: the
 * input is whatever an agent typed or piped.  Completeness is cmdparse's
 * (pc_parse's "incomplete"), so the text judged by the policy is always
 * the text the splitter released; when in doubt a piece is cut longer
 * (more lines judged together), never shorter.
 */
#ifndef BST_SCRIPT_H
#define BST_SCRIPT_H

#include <stddef.h>

struct pc_result;

enum script_next {
	SCRIPT_MORE = 0,	/* no complete command yet: read more input */
	SCRIPT_COMMAND,		/* buf[0..*len) is the next complete command */
	SCRIPT_TOOLONG,		/* the next command is longer than PC_MAX_INPUT */
};

/*
 * The next complete command at the start of buf (len bytes), as a shell
 * reading a script would run it: the shortest run of whole lines that
 * cmdparse does not call incomplete (open quotes, here-documents, a
 * trailing backslash, |, && or ||, if/case/loops/functions/braces without
 * their end), joined with the blank and comment lines before it.  At eof
 * whatever is left is the last command, complete or not (the policy
 * denies what does not parse).  A command whose text has nothing to run
 * (blank lines, comments) is only returned at eof.
 */
enum script_next script_next(const char *buf, size_t len, int eof,
    size_t *cmdlen);

/*
 * 1 if the exec string cmd starts a plain shell that reads its commands
 * from stdin: "bash", "sh -s", "/bin/bash -e -s arg", "bash -il"...  Only
 * literal words made of [A-Za-z0-9_./+-] (no quotes, expansions,
 * redirections or operators: "bash < file" is not one), an optional
 * "exec", a shell name or /bin/ or /usr/bin/ and a shell name, then options from a fixed list
 * (-s -e -x -u -v -l -i, --login, --noprofile, --norc, --posix, -o NAME)
 * and, after -s or --, arguments.  Anything else (-c, a script file, an
 * unknown option) is not one: it is an ordinary command for the policy.
 */
int script_shell_exec(const char *cmd);

/*
 * 1 if running the analysed line r may leave a shell (or something that
 * reads shell commands) in the foreground: a shell, su, sudo -i/-s,
 * ssh, screen, tmux..., or an opaque command.  The line tracker then
 * judges every line typed until the shell's own prompt comes back.
 */
int script_line_shellish(const struct pc_result *r);

/*
 * Things a line in an interactive shell can do that the analysis does not
 * see as commands but the shell later runs as code: naming a variable
 * such as PROMPT_COMMAND, PS1, BASH_ENV, PATH, IFS, LD_PRELOAD other than
 * in an expansion ("$PATH" is fine, "PATH=", "export PATH", "read PS1"
 * are not), or running bind/enable (which change the keys the bastion
 * relies on).  If so, an opaque command is added to r so the policy's
 * opaque action applies.  Returns 1 if one was added.
 */
int script_mark_hooks(struct pc_result *r, const char *text, size_t len);

/*
 * Adds an opaque command (argv {word}, static reason) to r: the policy's
 * opaque action then applies to the whole request.
 */
void script_mark_opaque(struct pc_result *r, const char *word,
    const char *reason);

/* 1 if r has nothing to run: no command, no write, no error. */
int script_empty(const struct pc_result *r);

#endif
