/*
 * proctitle.h: what `ps` shows for a bastion process.
 *
 * Linux has no setproctitle(); like OpenSSH and tmux we overwrite the
 * argv area (extended over the environment strings, which are copied to
 * the heap first).  proctitle_init() must run before anything reads
 * environ pointers it kept; the title itself needs no syscall, so
 * sandboxed workers can retitle themselves.
 *
 * Trusts: its callers (titles are sanitized to printable ASCII/UTF-8).
 */
#ifndef BST_PROCTITLE_H
#define BST_PROCTITLE_H

/* Call once, after option parsing: the argv strings are overwritten. */
void proctitle_init(int argc, char **argv);
void proctitle_set(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

#endif
