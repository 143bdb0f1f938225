/*
 * shellinit.h: what the bastion asks the target to run for an
 * interactive shell with a pty, so that every line can be judged.
 *
 * Nothing is installed on targets: the bastion sends, as the exec
 * request, a short POSIX sh program that starts bash with an rc file
 * given on a here-document (fd 3).  That rc file reads the user's own
 * profile like a login shell, then
 *  - prints a prompt mark (OSC 133;A;NONCE) before each prompt,
 *  - binds Enter (and every other key that runs the line: ^J, ^O, ^X^E,
 *    M-^E, bind -x keys) to nothing, so no line runs unless the bastion
 *    sends its accept key (^_a), which the agent cannot type (linetrack.h
 *    drops ^_),
 *  - on ^_q reads a challenge and reports readline's own line buffer
 *    (OSC 133;L;NONCE;CHALLENGE;HEX): history recall, completion and
 *    cursor editing are then known exactly, not guessed,
 *  - ^_n inserts a newline (a multi-line command is judged as one),
 *    ^_c empties the line and shows a fresh prompt (a refused line),
 *  - turns off programmable completion and history expansion.
 * Without bash on the target the user's shell starts as a login shell
 * and no mark ever comes: the worker then judges every line itself.
 *
 * Trusts its caller for the nonce (16 hex characters).
 */
#ifndef BST_SHELLINIT_H
#define BST_SHELLINIT_H

/* The bastion's keys to the shell (after LT_BASTION_BYTE). */
#define SHELLINIT_ACCEPT	"\037a"
#define SHELLINIT_QUERY		"\037q"		/* then LT_CHAL_LEN hex chars */
#define SHELLINIT_NEWLINE	"\037n"
#define SHELLINIT_CANCEL	"\037c"

/* The exec command for the target (malloc'd). */
char *shellinit_command(const char *nonce);

#endif
