/*
 * shellinit.c: the shell integration program sent to targets
 * (shellinit.h).  The text is fixed except for the nonce, which the
 * caller makes from [0-9a-f] only, so nothing here needs quoting.
 */
#include "common/util.h"
#include "session/shellinit.h"

/*
 * Line by line:
 *  - the outer program runs under the user's login shell (sshd's
 *    "$SHELL -c"), so it is plain POSIX sh;
 *  - the rc file: the user's profile as a login shell would read it;
 *    helper functions; every key bound to a function that runs the line
 *    (accept-line, operate-and-get-next, edit-and-execute-command and vi
 *    mode's vi-edit-and-execute-command, shell-expand-line which runs
 *    command substitutions, re-read-init-file, insert-comment) rebound
 *    to redraw-current-line in the three keymaps; user bind -x
 *    keys likewise; then the bastion's ^_ keys; completion functions and
 *    history expansion off (histverify: a recalled line is shown, not
 *    run); the prompt mark last in PROMPT_COMMAND.
 */
static const char rc_fmt[] =
"if command -v bash >/dev/null 2>&1; then exec bash --rcfile /dev/fd/3 -i 3<<'__bastion_rc__'\n"
"__bst_n=%s\n"
"if [ -r /etc/profile ]; then . /etc/profile; fi\n"
"if [ -r ~/.bash_profile ]; then . ~/.bash_profile; elif [ -r ~/.bash_login ]; then . ~/.bash_login; elif [ -r ~/.profile ]; then . ~/.profile; fi\n"
"__bst_p() { printf '\\033]133;A;%%s\\007' \"$__bst_n\"; }\n"
"__bst_q() { local c=; IFS= read -rsn16 -t5 c; printf '\\033]133;L;%%s;%%s;%%s\\007' \"$__bst_n\" \"$c\" \"$(printf %%s \"$READLINE_LINE\" | od -An -v -tx1 | tr -d ' \\n')\"; }\n"
"__bst_nl() { READLINE_LINE=\"$READLINE_LINE\"$'\\n'; READLINE_POINT=${#READLINE_LINE}; }\n"
"for __bst_m in emacs vi-insert vi-command; do\n"
"  while IFS= read -r __bst_l; do\n"
"    case $__bst_l in\n"
"      *': accept-line'|*': operate-and-get-next'|*'edit-and-execute-command'|*': shell-expand-line'|*': re-read-init-file'|*': insert-comment')\n"
"        bind -m \"$__bst_m\" \"${__bst_l%%: *}: redraw-current-line\";;\n"
"    esac\n"
"  done < <(bind -m \"$__bst_m\" -p 2>/dev/null)\n"
"  while IFS= read -r __bst_l; do bind -m \"$__bst_m\" \"${__bst_l%%: *}: redraw-current-line\"; done < <(bind -m \"$__bst_m\" -X 2>/dev/null)\n"
"  bind -m \"$__bst_m\" '\"\\C-m\": redraw-current-line'\n"
"  bind -m \"$__bst_m\" '\"\\C-j\": redraw-current-line'\n"
"  bind -m \"$__bst_m\" '\"\\C-_a\": accept-line'\n"
"  bind -m \"$__bst_m\" '\"\\C-_x\": kill-whole-line'\n"
"  bind -m \"$__bst_m\" '\"\\C-_c\": \"\\C-_x\\C-_a\"'\n"
"  bind -m \"$__bst_m\" -x '\"\\C-_q\": __bst_q'\n"
"  bind -m \"$__bst_m\" -x '\"\\C-_n\": __bst_nl'\n"
"done\n"
"unset __bst_m __bst_l\n"
"complete -r 2>/dev/null; shopt -u progcomp 2>/dev/null\n"
"set +H; shopt -s histverify\n"
"PROMPT_COMMAND=\"${PROMPT_COMMAND:+$PROMPT_COMMAND\n"
"}__bst_p\"\n"
"__bastion_rc__\n"
"fi\n"
"exec \"${SHELL:-/bin/sh}\" -l\n";

char *
shellinit_command(const char *nonce)
{
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	return xasprintf(rc_fmt, nonce);
#pragma GCC diagnostic pop
}
