/*
 * cmdparse.h: static analysis of a shell command string (POSIX sh with
 * the common bash extensions), for policy decisions.
 *
 * A pure function over bytes: no I/O, no globals, no allocation that
 * outlives the result.  Trusts nothing: the input is whatever an agent
 * sent.  Never executes or expands anything; what cannot be known
 * statically is reported as opaque, never guessed.
 */
#ifndef BST_CMDPARSE_H
#define BST_CMDPARSE_H

#include <stddef.h>

#define PC_MAX_INPUT	(64 * 1024)	/* longer input is a parse error */

/* One simple command that could run. */
struct pc_command {
	char	**argv;		/* words after quote removal, NULL-terminated */
	size_t	  argc;
	char	 *name;		/* basename of argv[0] after quote removal; NULL
				   when argv[0] is not a literal word (opaque
				   only: an expansion, a glob, or words that
				   may not be a command at all, like options
				   from an expansion); an opaque command keeps
				   it, so rules about that name still apply */
	int	  opaque;	/* 1: what runs cannot be known statically */
	const char *opaque_reason; /* static text, e.g. "command name from an expansion" */
	int	  depth;	/* 0 top level; +1 per wrapper, substitution or sh -c */
	char	 *via;		/* the wrapper/context that runs it ("sudo", "bash -c",
				   "$(...)", "find -exec"), NULL at top level */
};

/* A redirection that writes to a file (">", ">>", ">|", "&>", "<>"). */
struct pc_write {
	char	*path;		/* after quote removal; NULL when opaque */
	int	 opaque;	/* the target contains an expansion */
};

enum pc_error {
	PC_OK = 0,
	PC_ERR_SYNTAX,		/* unterminated quote, unbalanced (), bad token... */
	PC_ERR_TOOLONG,		/* input over PC_MAX_INPUT */
	PC_ERR_NUL,		/* NUL byte in the input */
	PC_ERR_DEPTH,		/* nesting deeper than the parser allows */
};

struct pc_result {
	struct pc_command *cmds;
	size_t		   ncmds;
	struct pc_write	  *writes;
	size_t		   nwrites;
	enum pc_error	   error;
	char		  *error_msg;	/* "unterminated double quote at offset 12"; NULL if ok */
	int		   incomplete;	/* input ends inside a construct that more lines
					   could complete (open quote, heredoc, if without fi,
					   trailing | or && or \\): for shell-line interception */
};

/*
 * Parses len bytes of input.  Always returns a result (NULL only on
 * out-of-memory, which is fatal anyway); check ->error.  The caller frees
 * it with pc_result_free.
 */
struct pc_result *pc_parse(const char *input, size_t len);
void pc_result_free(struct pc_result *r);

/*
 * One line per command and write, for --explain and the test corpus:
 *   cmd sudo [systemctl restart nginx]
 *   cmd systemctl [restart nginx] via sudo
 *   opaque "command name from an expansion" [$X foo]
 *   write /etc/passwd
 *   error syntax: unterminated single quote at offset 5
 * malloc'd.
 */
char *pc_result_describe(const struct pc_result *r);

#endif
