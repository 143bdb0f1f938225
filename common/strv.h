/*
 * strv.h: NULL-terminated string vectors (char **), the one copy used by
 * the config, the policy, the approval broker, the monitor and the worker.
 * Every function accepts a NULL vector as an empty one.  Trusts its
 * callers; allocation failure is fatal (util.h).
 */
#ifndef BST_STRV_H
#define BST_STRV_H

#include <stddef.h>

/* Frees every string and the vector; NULL ok. */
void strv_free(char **v);
size_t strv_len(char *const *v);
/* 1 if s (not NULL) is one of the strings. */
int strv_contains(char *const *v, const char *s);
/* Splits s at spaces (runs of them), skipping empty words; never NULL. */
char **strv_split(const char *s);
/* Appends a copy of s; *v may be NULL (then it is created). */
void strv_add(char ***v, const char *s);
/* The strings joined with sep, malloc'd ("" for an empty vector). */
char *strv_join(char *const *v, const char *sep);

#endif
