/*
 * log.h: logging to stderr with a program tag and level.
 *
 * Every process (monitor, session worker, bastionctl) logs through here.
 * Messages are single lines; control characters in arguments are the
 * caller's business (use log_sanitize for untrusted text).
 */
#ifndef BST_LOG_H
#define BST_LOG_H

#include <stddef.h>

enum log_level { LOG_LVL_ERROR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/* tag is shown before every line ("bastion", "session 42"); copied. */
void log_init(const char *tag, enum log_level level);
void log_set_tag(const char *tag);
enum log_level log_get_level(void);

void log_msg(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Logs and exits(1).  Only for broken invariants and out-of-memory. */
void fatal(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) do { if (log_get_level() >= LOG_LVL_DEBUG) \
	log_msg(LOG_LVL_DEBUG, __VA_ARGS__); } while (0)

/*
 * Copies at most len bytes of untrusted text into dst (size dstsz, always
 * NUL-terminated), replacing control and non-ASCII bytes with '?'.
 * Returns dst.
 */
char *log_sanitize(char *dst, size_t dstsz, const char *src, size_t len);

#endif
